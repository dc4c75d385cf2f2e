"""The whole graph as a user runs it: the pipeline command (`dagster asset materialize`, step
by step) into an instance on disk, on a small slice of the samples and SmolLM2-135M."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from llmft_assets.export.stage import ExportReport
from llmft_assets.modeling.settings import Device
from llmft_assets.modeling.training import TrainingReport
from llmft_assets.storage import layout
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import LocalBackend
from llmft_assets.training_data.formats import DatasetFormat
from llmft_assets_tests.deployment import ALL_ASSETS, copy_samples

pytestmark = pytest.mark.slow  # the whole graph through the pipeline command

SLICE_CONFIG = {
    "ops": {
        "batch_chunks": {"config": {"target_tokens": 128, "min_tokens": 16}},
        "training_dataset": {"config": {"format": "messages", "validation_fraction": 0.25}},
        "lora_adapter": {
            "config": {
                "max_steps": 20,
                "batch_size": 2,
                "max_length": 192,
                "learning_rate": 0.001,
                "eval_steps": 10,
                "save_steps": 10,
                "max_eval_samples": 4,
            }
        },
        "gguf_model": {"config": {"quantizations": ["Q4_K_M", "Q8_0"], "max_new_tokens": 768}},
    }
}


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """Run the pipeline command once for this module; its home, data folder and output."""
    root = tmp_path_factory.mktemp("pipeline")
    home, data = root / "dagster_home", root / "data"
    home.mkdir()
    (home / "dagster.yaml").touch()
    posts = copy_samples(
        root / "posts",
        "blog_posts",
        [
            "parquet-is-not-magic.html",
            "kimball-is-not-dead.html",
            "sql-habits-that-will-save-you.html",
            "code-review-for-data-teams.html",
        ],
    )
    books = copy_samples(root / "books", "gutenberg", ["a-short-sermon_no-markers.txt"])
    config = root / "slice.yaml"
    config.write_text(yaml.safe_dump(SLICE_CONFIG))
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "LLMFT_DATA_DIR": str(data),
        "LLMFT_BLOG_FOLDER": str(posts),
        "LLMFT_BOOKS_FOLDER": str(books),
    }
    result = subprocess.run(
        [sys.executable, "-m", "llmft_assets", "pipeline", "--config", str(config)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    return home, data, result.stdout


def test_every_asset_is_materialized_in_the_instance_and_every_check_passes(
    pipeline_run: tuple[Path, Path, str],
) -> None:
    home, _, _ = pipeline_run
    with dg.DagsterInstance.from_config(str(home)) as instance:
        for asset in set(ALL_ASSETS) - {"notes_text"}:  # no notes folder: nothing to write
            assert instance.get_latest_materialization_event(dg.AssetKey(asset)), asset
        checks = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [
                dg.AssetCheckKey(dg.AssetKey(asset), name)
                for asset, name in [
                    ("text_chunks", "chunks_are_non_empty_and_unique"),
                    ("text_chunks", "chunk_token_counts_within_bounds"),
                    ("text_chunks", "no_gutenberg_boilerplate"),
                    ("training_dataset", "both_splits_non_empty"),
                    ("lora_adapter", "fine_tuned_perplexity_below_base"),
                    ("merged_model", "merged_logits_match_adapter"),
                    ("merged_model", "merged_keeps_what_training_learned"),
                    ("gguf_model", "gguf_files_load_generate_and_stop"),
                    ("gguf_model", "gguf_perplexity_close_to_merged"),
                ]
            ]
        )
        assert len(checks) == 9
        for key, record in checks.items():
            assert record.event.asset_check_evaluation.passed, key


def test_the_gguf_export_loads_in_llama_cpp_and_matches_the_merged_model(
    pipeline_run: tuple[Path, Path, str],
) -> None:
    _, data, _ = pipeline_run
    store = ArtifactStore(LocalBackend(data), data / ".cache")
    folder = store.read_tree(layout.GGUF_MODEL)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["Modelfile", "model-Q4_K_M.gguf", "model-Q8_0.gguf", "model-f16.gguf"]
    assert all((folder / n).read_bytes()[:4] == b"GGUF" for n in names if n.endswith(".gguf"))
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./model-Q4_K_M.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in modelfile  # trained on chat turns: ChatML

    report = ExportReport.from_json(store.read_bytes(layout.EXPORT_REPORT))
    merged = report.merged_perplexity
    assert report.adapter_perplexity < report.base_perplexity
    assert abs(report.files["f16"].perplexity / merged - 1) < 0.10
    assert abs(report.files["Q8_0"].perplexity / merged - 1) < 0.10
    assert abs(report.files["Q4_K_M"].perplexity / merged - 1) < 0.25
    for result in report.files.values():
        assert result.smoke.text.strip()
        assert result.smoke.finish_reason == "stop"


def test_training_left_no_checkpoints_and_reported_its_run(
    pipeline_run: tuple[Path, Path, str],
) -> None:
    _, data, output = pipeline_run
    store = ArtifactStore(LocalBackend(data), data / ".cache")
    assert store.list_keys(layout.CHECKPOINTS) == []  # cleared once the adapter was stored
    report = TrainingReport.from_json(store.read_bytes(layout.TRAINING_REPORT))
    assert report.steps == 20 and report.hardware.device is Device.cpu
    assert report.format is DatasetFormat.messages and report.tokens_per_second > 0
    assert [step for step, _ in report.eval_loss] == [10, 20]
    adapter = store.read_tree(layout.ADAPTER)
    assert (adapter / "loss_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The command reports each asset's wall time, as Dagster recorded it for the run it started.
    assert "wall time per step, as Dagster recorded it:" in output
    # Asset and check steps, a partitioned one once per batch: "  12.3 s  cleaned_documents [b]".
    timed = set(re.findall(r"^ +\d+\.\d s  (\w+)(?: \[[\w-]+\])?$", output, re.M))
    assert "notes_text" not in timed  # no notes configured: that step is skipped
    assert set(ALL_ASSETS) - {"notes_text"} <= timed
    assert TrainingReport.from_json(report.to_json()) == report  # round-trips as JSON
