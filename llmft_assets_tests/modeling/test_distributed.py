"""Data-parallel training under torchrun (2 CPU processes over gloo): the ranks never see the
checkpoint store; the launching process stores what rank 0 hands over."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmft_assets.modeling.distributed import train_distributed
from llmft_assets.modeling.training import TrainingJob
from llmft_assets.training_data.formats import DatasetFormat
from llmft_assets_tests.modeling.test_training import SETTINGS, checkpoints_in, dataset_for

pytestmark = pytest.mark.slow  # training ranks under torchrun


def test_the_launcher_stores_each_checkpoint_rank_zero_hands_over(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    dataset_for(DatasetFormat.completion, tmp_path).save_to_disk(tmp_path / "dataset")
    checkpoints = checkpoints_in(tmp_path)
    settings = SETTINGS.model_copy(update={"processes": 2, "max_steps": 4, "save_steps": 2})
    logs: list[str] = []
    job = TrainingJob(tiny_model_dir, tmp_path / "dataset", DatasetFormat.completion, settings)
    adapter, report, sequences = train_distributed(
        job, tmp_path / "work", checkpoints, log=logs.append
    )
    assert checkpoints.steps() == [2, 4]
    stored = checkpoints.latest(tmp_path / "resume")
    assert stored is not None and (stored / "adapter_model.safetensors").is_file()
    assert list((tmp_path / "work" / "outbox").iterdir()) == []  # each copy gone once stored
    assert not any("checkpoint ready" in line for line in logs)  # taken, not logged
    assert any(line.startswith("[rank 1]") for line in logs)
    assert report.steps == 4 and report.hardware.processes == 2
    assert report.eval_tokens == sequences.scored_tokens > 0
    assert (adapter / "adapter_model.safetensors").is_file()
