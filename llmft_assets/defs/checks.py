"""Asset checks; blocking, because each guards what the next asset builds on."""

import dagster as dg
from datasets import load_from_disk

from llmft_assets.cleaning.dedup import normalized_hash
from llmft_assets.cleaning.gutenberg import BOILERPLATE
from llmft_assets.defs import layout
from llmft_assets.defs.modeling import gguf_model, lora_adapter, merged_model
from llmft_assets.defs.preparation import text_chunks, training_dataset
from llmft_assets.defs.resources import ArtifactStoreResource

_SHOWN = 10


@dg.asset_check(asset=text_chunks, blocking=True)
def chunks_are_non_empty_and_unique(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """No empty chunk, and no chunk text twice (after case and whitespace folding)."""
    chunks = artifact_store.store().read_table(layout.CHUNKS)
    empty = chunks[chunks.text.str.strip() == ""].chunk_id.tolist()
    hashes = chunks.text.map(normalized_hash)
    repeated = chunks[hashes.duplicated(keep="first")].chunk_id.tolist()
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
    chunks = store.read_table(layout.CHUNKS)
    spec = store.read_json(layout.CHUNKING_SPEC)
    low, high = spec["min_tokens"], spec["target_tokens"]
    outside = chunks[(chunks.token_count < low) | (chunks.token_count > high)]
    return dg.AssetCheckResult(
        passed=outside.empty,
        metadata={
            "bounds": f"{low}..{high}",
            "outside": len(outside),
            "smallest": int(chunks.token_count.min()),
            "largest": int(chunks.token_count.max()),
            "examples": ", ".join(outside.chunk_id.head(_SHOWN)) or "none",
        },
    )


@dg.asset_check(asset=text_chunks, blocking=True)
def no_gutenberg_boilerplate(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """No Project Gutenberg licence, marker or small print left in any chunk."""
    chunks = artifact_store.store().read_table(layout.CHUNKS)
    hits = chunks[chunks.text.str.contains(BOILERPLATE)]
    return dg.AssetCheckResult(
        passed=hits.empty,
        metadata={
            "chunks_with_boilerplate": len(hits),
            "examples": ", ".join(hits.chunk_id.head(_SHOWN)) or "none",
        },
    )


@dg.asset_check(asset=training_dataset, blocking=True)
def both_splits_non_empty(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """Training needs examples to learn from and examples to be judged on."""
    dataset = load_from_disk(str(artifact_store.store().read_tree(layout.DATASET)))
    sizes = {name: len(split) for name, split in dataset.items()}
    return dg.AssetCheckResult(
        passed=sizes.get("train", 0) > 0 and sizes.get("validation", 0) > 0, metadata=sizes
    )


@dg.asset_check(asset=lora_adapter, blocking=True)
def fine_tuned_perplexity_below_base(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """Training must have helped on documents it never saw."""
    report = artifact_store.store().read_json(layout.TRAINING_REPORT)
    base, tuned = report["base_perplexity"], report["fine_tuned_perplexity"]
    return dg.AssetCheckResult(
        passed=tuned < base,
        metadata={"base": base, "fine_tuned": tuned, "ratio": round(tuned / base, 4)},
    )


MAX_MERGE_KL = 1e-3  # nats per token
MIN_MERGE_TOP1 = 0.99


@dg.asset_check(asset=merged_model, blocking=True)
def merged_logits_match_adapter(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """Merged weights predict what base + adapter predicted, on a fixed input."""
    parity = artifact_store.store().read_json(layout.MERGE_REPORT)
    return dg.AssetCheckResult(
        passed=parity["mean_kl_divergence"] <= MAX_MERGE_KL
        and parity["top1_agreement"] >= MIN_MERGE_TOP1,
        metadata={k: v for k, v in parity.items() if k != "perplexity"},
    )


@dg.asset_check(asset=gguf_model, blocking=True)
def gguf_files_load_generate_and_stop(
    artifact_store: ArtifactStoreResource,
) -> dg.AssetCheckResult:
    """Each GGUF loads, writes something, and ends (EOS or a stop token) within the limit."""
    files = artifact_store.store().read_json(layout.EXPORT_REPORT)["files"]
    rows = {
        name: {"finish": r["smoke"]["finish_reason"], "tokens": r["smoke"]["completion_tokens"]}
        for name, r in files.items()
    }
    return dg.AssetCheckResult(
        passed=all(
            r["smoke"]["text"].strip() and r["smoke"]["finish_reason"] == "stop"
            for r in files.values()
        ),
        metadata={"generations": dg.MetadataValue.json(rows)},
    )


# How far each GGUF's perplexity may drift from the merged model's, by bits per weight.
PERPLEXITY_TOLERANCE = {
    "f16": 0.10,
    "Q8_0": 0.10,
    "Q6_K": 0.15,
    "Q5_K_M": 0.15,
    "Q4_K_M": 0.25,
    "Q4_0": 0.25,
}


@dg.asset_check(asset=gguf_model, blocking=True)
def gguf_perplexity_close_to_merged(artifact_store: ArtifactStoreResource) -> dg.AssetCheckResult:
    """Conversion and quantization keep what was learned: GGUF perplexity within 10% of the
    merged model's for f16/Q8_0, within 25% for 4-bit."""
    report = artifact_store.store().read_json(layout.EXPORT_REPORT)
    merged = report["merged_perplexity"]
    drift = {name: r["perplexity"] / merged - 1 for name, r in report["files"].items()}
    return dg.AssetCheckResult(
        passed=all(abs(d) <= PERPLEXITY_TOLERANCE[name] for name, d in drift.items()),
        metadata={
            "merged_perplexity": merged,
            "drift": dg.MetadataValue.json({n: round(d, 4) for n, d in drift.items()}),
        },
    )


DATA_CHECKS = [
    chunks_are_non_empty_and_unique,
    chunk_token_counts_within_bounds,
    no_gutenberg_boilerplate,
    both_splits_non_empty,
]
MODEL_CHECKS = [
    fine_tuned_perplexity_below_base,
    merged_logits_match_adapter,
    gguf_files_load_generate_and_stop,
    gguf_perplexity_close_to_merged,
]
