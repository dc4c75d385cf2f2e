"""The data checks on a real instance: they pass on the samples, and each one reads the stored
report, so a report that says the chunks or a split are wrong fails it."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from llmft_assets.chunking.stage import ChunkingReport
from llmft_assets.defs.data_checks import (
    DATA_CHECKS,
    both_splits_non_empty,
    chunk_token_counts_within_bounds,
)
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
