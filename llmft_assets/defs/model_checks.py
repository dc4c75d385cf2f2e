"""Checks of the model half; blocking, because each guards what the next asset builds on.
Each reads its asset's typed report."""

from dataclasses import asdict

import dagster as dg

from llmft_assets.defs.modeling import gguf_model, lora_adapter, merged_model
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.export.gguf import GGUF_TYPES
from llmft_assets.export.stage import ExportReport
from llmft_assets.modeling.stage import MergeReport
from llmft_assets.modeling.training import TrainingReport
from llmft_assets.storage import layout


@dg.asset_check(asset=lora_adapter, blocking=True)
def fine_tuned_perplexity_below_base(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """Training must have helped on documents it never saw."""
    report = TrainingReport.from_json(artifact_store.store().read_bytes(layout.TRAINING_REPORT))
    base, tuned = report.base_perplexity, report.fine_tuned_perplexity
    return dg.AssetCheckResult(
        passed=tuned < base,
        metadata={"base": base, "fine_tuned": tuned, "ratio": round(tuned / base, 4)},
    )


MAX_MERGE_KL = 1e-3  # nats per token
MIN_MERGE_TOP1 = 0.99


@dg.asset_check(asset=merged_model, blocking=True)
def merged_logits_match_adapter(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """Merged weights predict what base + adapter predicted, on a fixed input."""
    parity = MergeReport.from_json(artifact_store.store().read_bytes(layout.MERGE_REPORT)).parity
    return dg.AssetCheckResult(
        passed=parity.mean_kl_divergence <= MAX_MERGE_KL
        and parity.top1_agreement >= MIN_MERGE_TOP1,
        metadata=asdict(parity),
    )


MAX_QUANTIZATION_GAP = 0.05  # merged perplexity at most 5% above base + adapter as trained


@dg.asset_check(asset=merged_model, blocking=True)
def merged_keeps_what_training_learned(
    artifact_store: ArtifactStoreResource,
) -> dg.AssetCheckResult:
    """The merged 16-bit model scores at most 5% above base + adapter as they trained. After
    plain LoRA they differ by float16 rounding; after QLoRA the adapter leaves the NF4 weights
    it trained against for the 16-bit ones, which on SmolLM2 gains (benchmarks/RESULTS.md) but
    on a model whose quantization error swamps the adapter would not."""
    report = MergeReport.from_json(artifact_store.store().read_bytes(layout.MERGE_REPORT))
    return dg.AssetCheckResult(
        passed=report.quantization_gap <= MAX_QUANTIZATION_GAP,
        metadata={
            "trained_quantization": report.trained_quantization.value,
            "trained_perplexity": report.trained_perplexity,
            "merged_perplexity": report.perplexity,
            "quantization_gap": round(report.quantization_gap, 4),
        },
    )


@dg.asset_check(asset=gguf_model, blocking=True)
def gguf_files_load_generate_and_stop(
    artifact_store: ArtifactStoreResource,
) -> dg.AssetCheckResult:
    """Each GGUF loads, writes something, and ends (EOS or a stop token) within the limit."""
    files = ExportReport.from_json(artifact_store.store().read_bytes(layout.EXPORT_REPORT)).files
    rows = {
        name: {"finish": f.smoke.finish_reason, "tokens": f.smoke.completion_tokens}
        for name, f in files.items()
    }
    return dg.AssetCheckResult(
        passed=all(
            f.smoke.text.strip() and f.smoke.finish_reason == "stop" for f in files.values()
        ),
        metadata={"generations": dg.MetadataValue.json(rows)},
    )


@dg.asset_check(asset=gguf_model, blocking=True)
def gguf_perplexity_close_to_merged(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """Conversion and quantization keep what was learned: each GGUF's perplexity within its
    type's drift of the merged model's (10% for f16/Q8_0, 15% for 5-6 bit, 25% for 4-bit)."""
    report = ExportReport.from_json(artifact_store.store().read_bytes(layout.EXPORT_REPORT))
    merged = report.merged_perplexity
    drift = {name: f.perplexity / merged - 1 for name, f in report.files.items()}
    return dg.AssetCheckResult(
        passed=all(abs(d) <= GGUF_TYPES[name].max_perplexity_drift for name, d in drift.items()),
        metadata={
            "merged_perplexity": merged,
            "drift": dg.MetadataValue.json({n: round(d, 4) for n, d in drift.items()}),
        },
    )


MODEL_CHECKS = [
    fine_tuned_perplexity_below_base,
    merged_logits_match_adapter,
    merged_keeps_what_training_learned,
    gguf_files_load_generate_and_stop,
    gguf_perplexity_close_to_merged,
]
