"""Checks of the data half; blocking, because each guards what the next asset builds on."""

import dagster as dg

from llmft_assets.chunking.stage import ChunkingReport
from llmft_assets.cleaning.dedup import normalized_hash
from llmft_assets.cleaning.gutenberg import BOILERPLATE
from llmft_assets.defs.preparation import text_chunks, training_dataset
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.storage import layout
from llmft_assets.training_data.build import TRAIN, VALIDATION, DatasetReport

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
    report = ChunkingReport.from_json(store.read_bytes(layout.CHUNKING_SPEC))
    low, high = report.min_tokens, report.target_tokens
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
