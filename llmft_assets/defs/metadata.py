"""Materialization metadata shared by the assets: storage facts, rejections, distributions."""

from collections.abc import Iterable, Sequence

import dagster as dg
import numpy as np

from llmft_assets.storage.artifacts import ArtifactInfo

TABLE_ROWS = 100
_HISTOGRAM_BINS = 10
_BAR = 30


def stored(info: ArtifactInfo) -> dict[str, dg.MetadataValue]:
    """Where an artifact went, how big it is, and its content hash."""
    return {
        "uri": dg.MetadataValue.path(info.uri),
        "size_bytes": dg.MetadataValue.int(info.size_bytes),
        "sha256": dg.MetadataValue.text(info.sha256),
    }


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> dg.MetadataValue:
    """A table of the first `TABLE_ROWS` rows and a count of the rest: metadata is stored with
    every partition's event, so it stays small however large a run is."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    more = 0
    for row in rows:
        if len(lines) - 2 == TABLE_ROWS:
            more += 1
            continue
        cells = (str(cell).replace("|", "\\|").replace("\n", " ") for cell in row)
        lines.append("| " + " | ".join(cells) + " |")
    if more:
        lines.append(f"| ... and {more} more |" + " |" * (len(headers) - 1))
    return dg.MetadataValue.md("\n".join(lines))


def rejections(rejected: dict[str, str], folder_uri: str) -> dict[str, dg.MetadataValue]:
    """Documents set aside in this run, and why; all of them, with their bytes, are kept
    under `folder_uri`."""
    return {
        "rejected": dg.MetadataValue.int(len(rejected)),
        "rejected_documents": markdown_table(("document", "reason"), sorted(rejected.items())),
        "rejected_folder": dg.MetadataValue.path(folder_uri),
    }


def distribution(name: str, values: Sequence[int]) -> dict[str, dg.MetadataValue]:
    """Summary statistics and a text histogram of a distribution (e.g. tokens per chunk)."""
    if not values:
        return {f"{name}_histogram": dg.MetadataValue.md("(no values)")}
    array = np.asarray(values)
    counts, edges = np.histogram(array, bins=_HISTOGRAM_BINS)
    peak = max(int(counts.max()), 1)
    bars = [
        f"{int(edges[i]):>6}-{int(edges[i + 1]):<6} {'#' * round(_BAR * c / peak):<{_BAR}} {c}"
        for i, c in enumerate(counts)
    ]
    return {
        f"{name}_min": dg.MetadataValue.int(int(array.min())),
        f"{name}_median": dg.MetadataValue.float(float(np.median(array))),
        f"{name}_p90": dg.MetadataValue.float(float(np.percentile(array, 90))),
        f"{name}_max": dg.MetadataValue.int(int(array.max())),
        f"{name}_histogram": dg.MetadataValue.md("```\n" + "\n".join(bars) + "\n```"),
    }
