"""The data checks on a real instance: they pass on the samples, and each one reads the stored
report, so a report that says the chunks or a split are wrong fails it."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest

from llmft_assets.chunking.stage import ChunkingReport
from llmft_assets.defs.data_checks import (
    DATA_CHECKS,
    both_splits_non_empty,
    chunk_token_counts_within_bounds,
    chunks_are_non_empty_and_unique,
    no_gutenberg_boilerplate,
)
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.storage import layout
from llmft_assets.training_data.build import VALIDATION, DatasetReport
from llmft_assets_tests.deployment import Deployment

pytestmark = pytest.mark.slow  # the data half materialized on a real instance


def test_data_checks_pass_on_the_samples_and_fail_on_what_the_reports_contradict(
    deployment: Deployment, tmp_path: Path
) -> None:
    result = deployment.build_dataset()
    evaluations = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert evaluations == {check.check_key.name: True for check in DATA_CHECKS}

    store, resource = deployment.store, deployment.resources["artifact_store"]
    chunking = ChunkingReport.from_json(store.read_bytes(layout.CHUNKING_SPEC))
    narrower = dataclasses.replace(chunking, target_tokens=chunking.min_tokens)
    store.write_bytes(layout.CHUNKING_SPEC, narrower.to_json().encode())
    assert not chunk_token_counts_within_bounds(artifact_store=resource).passed

    folder = shutil.copytree(store.read_tree(layout.DATASET), tmp_path / "dataset")
    report = DatasetReport.from_json((folder / layout.DATASET_INFO).read_text())
    emptied = dataclasses.replace(report, records={**report.records, VALIDATION: 0})
    (folder / layout.DATASET_INFO).write_text(emptied.to_json())
    store.write_tree(layout.DATASET, folder)
    assert not both_splits_non_empty(artifact_store=resource).passed


def test_chunk_checks_find_a_repeat_or_boilerplate_in_a_later_batch_of_rows(
    tmp_path: Path,
) -> None:
    """The checks read the chunks in batches of rows: a chunk repeating one from an earlier
    batch, an empty chunk and a licence line far down the table are all found."""
    rows = 20_000  # over two of the checks' batches
    chunks = pd.DataFrame(
        {
            "chunk_id": [f"blog-a:{i:05d}" for i in range(rows)],
            "text": [f"Chunk number {i} of a long corpus." for i in range(rows)],
            "token_count": 64,
        }
    )
    resource = ArtifactStoreResource(root=str(tmp_path / "store"))
    store = resource.store()
    store.write_table(layout.CHUNKS, chunks)
    assert chunks_are_non_empty_and_unique(artifact_store=resource).passed
    assert no_gutenberg_boilerplate(artifact_store=resource).passed

    chunks.loc[19_000, "text"] = " chunk NUMBER 3 of a long   corpus. "  # repeats row 3
    chunks.loc[18_000, "text"] = " "
    chunks.loc[17_000, "text"] = "*** END OF THE PROJECT GUTENBERG EBOOK MOBY DICK ***"
    store.write_table(layout.CHUNKS, chunks)
    unique = chunks_are_non_empty_and_unique(artifact_store=resource)
    assert not unique.passed
    assert (unique.metadata["empty"].value, unique.metadata["duplicates"].value) == (1, 1)
    assert "blog-a:19000" in unique.metadata["examples"].value
    boilerplate = no_gutenberg_boilerplate(artifact_store=resource)
    assert not boilerplate.passed
    assert boilerplate.metadata["examples"].value == "blog-a:17000"
