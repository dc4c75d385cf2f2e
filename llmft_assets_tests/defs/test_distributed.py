"""More than one process configured: the training asset runs data-parallel under torchrun
(here 2 CPU processes over gloo, as 2 GPUs would be over NCCL)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from llmft_assets.defs.modeling import base_model, lora_adapter
from llmft_assets.modeling.training import TrainingReport
from llmft_assets.storage import layout
from llmft_assets_tests.deployment import Deployment

pytestmark = pytest.mark.slow  # training under torchrun

STEPS, BATCH, LENGTH = 6, 2, 64


def _train(deployment: Deployment, processes: int) -> TrainingReport:
    config = {
        "max_steps": STEPS,
        "batch_size": BATCH,
        "max_length": LENGTH,
        "eval_steps": 3,
        "save_steps": 3,
        "max_eval_samples": 2,
        "processes": processes,
    }
    result = dg.materialize(
        [base_model, lora_adapter],
        selection=[lora_adapter],
        instance=deployment.instance,
        resources=deployment.resources,
        run_config={"ops": {"lora_adapter": {"config": config}}},
    )
    assert result.success
    return TrainingReport.from_json(deployment.store.read_bytes(layout.TRAINING_REPORT))


def test_two_processes_train_data_parallel_and_store_one_adapter(
    deployment: Deployment, tiny_model_dir: Path
) -> None:
    deployment.build_dataset()
    deployment.materialize_base_model(tiny_model_dir)

    single = _train(deployment, processes=1)
    double = _train(deployment, processes=2)
    assert single.steps == double.steps == STEPS
    # Each rank trains on its own share of the data, batch x (up to) length tokens a step:
    # in the same steps two ranks see about twice the tokens of one. Packing fills a
    # sequence up to max_length, so a shard's last one may be short.
    assert single.train_tokens <= STEPS * BATCH * LENGTH
    assert 1.8 * single.train_tokens < double.train_tokens <= 2 * STEPS * BATCH * LENGTH
    assert double.hardware.processes == 2
    adapter = deployment.store.read_tree(layout.ADAPTER)
    assert (adapter / "adapter_model.safetensors").is_file()
    assert deployment.store.list_keys(layout.CHECKPOINTS) == []
