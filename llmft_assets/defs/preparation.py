"""Preparation: cleaned documents chunked in tokens one batch at a time (`batch_chunks`,
partitioned like `cleaned_documents`, so each batch is a run on the deployment's launcher),
then merged corpus-wide without duplicates (`text_chunks`) and split into a Hugging Face
dataset (`training_dataset`); these two rebuild from every batch."""

import tempfile
from array import array
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq

from llmft_assets.chunking.stage import (
    ChunkingReport,
    ChunkingSettings,
    ShardingSettings,
    open_chunks,
    run_batch_chunking,
    run_chunking,
)
from llmft_assets.defs.ingestion import DATA_TEAM, cleaned_documents
from llmft_assets.defs.metadata import distribution, markdown_table, stored
from llmft_assets.defs.partitions import ONE_RUN_PER_BATCH, document_batches
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.storage import layout
from llmft_assets.training_data.build import DatasetSettings, run_dataset


class ShardingConfig(dg.Config, ShardingSettings):
    """`ShardingSettings` as run config (the launchpad shows its fields)."""


@dg.asset(
    partitions_def=document_batches,
    backfill_policy=ONE_RUN_PER_BATCH,
    deps=[cleaned_documents],
    automation_condition=dg.AutomationCondition.eager(),
    group_name="preparation",
    kinds={"python", "parquet"},
    owners=[DATA_TEAM],
)
def batch_chunks(
    context: dg.AssetExecutionContext, config: ShardingConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """A batch's cleaned documents, chunked at paragraph and sentence bounds in tokens of the
    base model's tokenizer and fingerprinted for deduplication, in resumable shards."""
    try:
        report = run_batch_chunking(artifact_store.store(), context.partition_keys, config)
    except ValueError as error:
        raise dg.Failure(str(error)) from error
    return dg.MaterializeResult(
        metadata={
            "documents": sum(s.documents for s in report.shards),
            "chunks": sum(s.chunks for s in report.shards),
            "shards": len(report.shards),
            "shards_reused": len(report.reused),
            "tokenizer": config.tokenizer,
        }
    )


class ChunkingConfig(dg.Config, ChunkingSettings):
    """`ChunkingSettings` as run config (the launchpad shows its fields)."""


@dg.asset(
    deps=[batch_chunks],
    automation_condition=dg.AutomationCondition.eager(),
    group_name="preparation",
    kinds={"python", "parquet"},
    owners=[DATA_TEAM],
)
def text_chunks(
    config: ChunkingConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Every cleaned document's chunks once, in doc_id order: every batch's chunks merged,
    exact and near duplicates across the corpus dropped."""
    store = artifact_store.store()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chunks.parquet"
        try:
            report = run_chunking(store, config, path)
        except ValueError as error:
            raise dg.Failure(str(error)) from error
        info = store.write_file(layout.CHUNKS, path)
        chunk_metadata = _chunk_metadata(path)
    store.write_bytes(layout.CHUNKING_SPEC, report.to_json().encode())
    return dg.MaterializeResult(
        metadata={
            "documents": report.documents,
            "shards": report.shards,
            "duplicates_dropped": len(report.duplicates),
            "duplicates": markdown_table(
                ("dropped", "duplicate of", "kind", "similarity"),
                [(d.doc_id, d.kept, d.kind, f"{d.similarity:.2f}") for d in report.duplicates],
            ),
            "chunks": report.chunks,
            "tokens": report.tokens,
            "tokenizer": report.tokenizer,
            "short_tail_tokens_dropped": report.short_tail_tokens_dropped,
            **chunk_metadata,
            **stored(info),
        }
    )


def _chunk_metadata(path: Path) -> dict[str, dg.MetadataValue]:
    """Tokens per chunk and the first chunks, read from the file without loading the table
    (the counts take 8 bytes a chunk)."""
    counts = pq.read_table(path, columns=["token_count"]).column(0).to_numpy()
    head = next(open_chunks(path).iter_batches(10, columns=["chunk_id", "token_count", "text"]))
    return {
        **distribution("tokens_per_chunk", array("q", counts.tobytes())),
        "preview": markdown_table(
            ("chunk", "tokens", "text"),
            [(r["chunk_id"], r["token_count"], r["text"][:200]) for r in head.to_pylist()],
        ),
    }


class DatasetConfig(dg.Config, DatasetSettings):
    """`DatasetSettings` as run config (the launchpad shows its fields)."""


@dg.asset(
    deps=[text_chunks],
    automation_condition=dg.AutomationCondition.eager(),
    group_name="preparation",
    kinds={"huggingface"},
    owners=[DATA_TEAM],
)
def training_dataset(
    config: DatasetConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """A Hugging Face dataset (save_to_disk layout, with a dataset card) with train and
    validation splits by document, in the format the run asks for."""
    store = artifact_store.store()
    chunking = ChunkingReport.from_json(store.read_bytes(layout.CHUNKING_SPEC))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dataset"
        chunks = store.local_file(layout.CHUNKS, Path(tmp))
        try:
            report = run_dataset(chunks, config, chunking.tokenizer, folder)
        except ValueError as error:
            raise dg.Failure(str(error)) from error
        (folder / layout.DATASET_INFO).write_text(report.to_json())
        info = store.write_tree(layout.DATASET, folder)
    return dg.MaterializeResult(
        metadata={
            "format": report.format.value,
            **{f"{name}_records": count for name, count in report.records.items()},
            "train_tokens": report.train_tokens,
            "validation_tokens": report.validation_tokens,
            "validation_documents": markdown_table(
                ("validation document",), [(d,) for d in report.validation_documents]
            ),
            "example": dg.MetadataValue.json(report.example),
            **stored(info),
        }
    )
