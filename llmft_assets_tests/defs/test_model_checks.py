"""The model checks on a real instance, for QLoRA: SmolLM2-135M trained in nf4 (on CPU, through
bitsandbytes), merged onto its 16-bit weights and exported to GGUF, passes every model check,
the metadata says how it was trained and what the merge cost, and a merge report that says
the merge lost what training learned fails its check."""

from __future__ import annotations

import dataclasses

import dagster as dg
import pytest

from llmft_assets.defs.model_checks import MODEL_CHECKS, merged_keeps_what_training_learned
from llmft_assets.defs.modeling import base_model, gguf_model, lora_adapter, merged_model
from llmft_assets.modeling.settings import Optimizer, Quantization
from llmft_assets.modeling.stage import MergeReport
from llmft_assets.modeling.training import TrainingReport
from llmft_assets.storage import layout
from llmft_assets_tests.deployment import Deployment

pytestmark = pytest.mark.slow  # SmolLM2 trained, merged and exported

QLORA = {
    "quantization": "nf4",
    "optimizer": "paged_adamw_8bit",
    "max_steps": 12,
    "batch_size": 2,
    "max_length": 192,
    "learning_rate": 0.001,
    "eval_steps": 6,
    "save_steps": 6,
    "max_eval_samples": 4,
}


def test_a_qlora_adapter_merged_and_exported_passes_every_model_check(
    deployment: Deployment,
) -> None:
    deployment.build_dataset(
        {
            "ops": {
                "batch_chunks": {"config": {"target_tokens": 128, "min_tokens": 16}},
                "training_dataset": {"config": {"format": "messages"}},
            }
        }
    )
    assert dg.materialize(
        [base_model], instance=deployment.instance, resources=deployment.resources
    ).success  # the bundled SmolLM2-135M

    result = dg.materialize(
        [base_model, lora_adapter, merged_model, gguf_model, *MODEL_CHECKS],
        selection=[lora_adapter, merged_model, gguf_model],
        instance=deployment.instance,
        resources=deployment.resources,
        run_config={
            "ops": {
                "lora_adapter": {"config": QLORA},
                "gguf_model": {"config": {"quantizations": ["Q8_0"], "max_new_tokens": 768}},
            }
        },
        raise_on_error=False,
    )
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert {name: e.passed for name, e in evaluations.items()} == {
        check.check_key.name: True for check in MODEL_CHECKS
    }, {name: e.metadata for name, e in evaluations.items()}
    assert result.success

    training = TrainingReport.from_json(deployment.store.read_bytes(layout.TRAINING_REPORT))
    assert training.hardware.quantization is Quantization.nf4
    assert training.hardware.optimizer is Optimizer.paged_adamw_8bit
    adapter_metadata = result.asset_materializations_for_node("lora_adapter")[0].metadata
    assert adapter_metadata["quantization"].value == "nf4"
    assert adapter_metadata["optimizer"].value == "paged_adamw_8bit"

    # The merge's metadata states the quantization gap: base + adapter as trained (nf4)
    # against the merged 16-bit model, on the same validation tokens.
    merge = MergeReport.from_json(deployment.store.read_bytes(layout.MERGE_REPORT))
    assert merge.trained_quantization is Quantization.nf4
    assert merge.trained_perplexity == training.fine_tuned_perplexity
    merged_metadata = result.asset_materializations_for_node("merged_model")[0].metadata
    assert merged_metadata["trained_quantization"].value == "nf4"
    assert merged_metadata["quantization_gap"].value == pytest.approx(
        merge.perplexity / training.fine_tuned_perplexity - 1, abs=1e-4
    )

    # A merge that lost what training learned (the merged model well above the trained one)
    # fails the check that reads the report.
    worse = dataclasses.replace(merge, trained_perplexity=merge.perplexity / 1.2)
    deployment.store.write_bytes(layout.MERGE_REPORT, worse.to_json().encode())
    resource = deployment.resources["artifact_store"]
    assert not merged_keeps_what_training_learned(artifact_store=resource).passed
