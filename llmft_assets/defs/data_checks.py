"""Checks of the data half; blocking, because each guards what the next asset builds on. They
read the stored chunks a bounded number of rows at a time, as large corpora need."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd

from llmft_assets.chunking.stage import ChunkingReport, open_chunks
from llmft_assets.cleaning.dedup import normalized_hash
from llmft_assets.cleaning.gutenberg import BOILERPLATE
from llmft_assets.defs.preparation import text_chunks, training_dataset
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.storage import layout
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.training_data.build import TRAIN, VALIDATION, DatasetReport

_SHOWN = 10
_ROWS = 8192  # chunks a check holds at a time


@dg.asset_check(asset=text_chunks, blocking=True)
def chunks_are_non_empty_and_unique(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """No empty chunk, and no chunk text twice (after case and whitespace folding)."""
    empty: list[str] = []
    repeated: list[str] = []
    seen: set[bytes] = set()  # 16 bytes of each chunk's hash: the text is never all in memory
    for chunks in _chunk_batches(artifact_store.store(), ["chunk_id", "text"]):
        for chunk_id, text in zip(chunks.chunk_id, chunks.text, strict=True):
            if not text.strip():
                empty.append(chunk_id)
            digest = bytes.fromhex(normalized_hash(text))[:16]
            if digest in seen:
                repeated.append(chunk_id)
            seen.add(digest)
    return dg.AssetCheckResult(
        passed=not empty and not repeated,
        metadata={
            "empty": len(empty),
            "duplicates": len(repeated),
            "examples": ", ".join((empty + repeated)[:_SHOWN]) or "none",
        },
    )


@dg.asset_check(asset=text_chunks, blocking=True)
def chunk_token_counts_within_bounds(
    artifact_store: ArtifactStoreResource,
) -> dg.AssetCheckResult:
    """Every chunk has between min_tokens and target_tokens tokens, as configured."""
    store = artifact_store.store()
    report = ChunkingReport.from_json(store.read_bytes(layout.CHUNKING_SPEC))
    low, high = report.min_tokens, report.target_tokens
    outside: list[str] = []
    smallest, largest = high, low
    for chunks in _chunk_batches(store, ["chunk_id", "token_count"]):
        counts = chunks.token_count
        outside += chunks.chunk_id[(counts < low) | (counts > high)].tolist()
        smallest, largest = min(smallest, int(counts.min())), max(largest, int(counts.max()))
    return dg.AssetCheckResult(
        passed=not outside,
        metadata={
            "bounds": f"{low}..{high}",
            "outside": len(outside),
            "smallest": smallest,
            "largest": largest,
            "examples": ", ".join(outside[:_SHOWN]) or "none",
        },
    )


@dg.asset_check(asset=text_chunks, blocking=True)
def no_gutenberg_boilerplate(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """No Project Gutenberg licence, marker or small print left in any chunk."""
    hits: list[str] = []
    for chunks in _chunk_batches(artifact_store.store(), ["chunk_id", "text"]):
        hits += chunks.chunk_id[chunks.text.str.contains(BOILERPLATE)].tolist()
    return dg.AssetCheckResult(
        passed=not hits,
        metadata={
            "chunks_with_boilerplate": len(hits),
            "examples": ", ".join(hits[:_SHOWN]) or "none",
        },
    )


def _chunk_batches(store: ArtifactStore, columns: list[str]) -> Iterator[pd.DataFrame]:
    """The stored chunks' `columns`, a bounded number of rows at a time."""
    with tempfile.TemporaryDirectory() as folder:
        path = store.local_file(layout.CHUNKS, Path(folder))
        for batch in open_chunks(path).iter_batches(batch_size=_ROWS, columns=columns):
            yield batch.to_pandas()


@dg.asset_check(asset=training_dataset, blocking=True)
def both_splits_non_empty(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """Training needs examples to learn from and examples to be judged on."""
    folder = artifact_store.store().read_tree(layout.DATASET)
    records = DatasetReport.from_json((folder / layout.DATASET_INFO).read_text()).records
    return dg.AssetCheckResult(
        passed=records.get(TRAIN, 0) > 0 and records.get(VALIDATION, 0) > 0, metadata=records
    )


DATA_CHECKS = [
    chunks_are_non_empty_and_unique,
    chunk_token_counts_within_bounds,
    no_gutenberg_boilerplate,
    both_splits_non_empty,
]
