"""Where each asset keeps its files inside the artifact store. A raw document sits in its
source's folder (the source's asset name) with its source's suffix (see sources/registry.py)."""

from llmft_assets.sources.registry import source_of

CATALOG = "document_catalog/catalog.parquet"
CLEANED_FOLDER = "cleaned_documents"
# Per batch, what its last cleaning stored: doc_id -> SHA-256 of the document's file.
CLEANED_BATCHES = f"{CLEANED_FOLDER}/batches"
CHUNKS = "text_chunks/chunks.parquet"
CHUNKING_SPEC = "text_chunks/spec.json"  # the ChunkingReport
CHUNK_SHARDS = "batch_chunks/shards"  # a folder per shard, reused while it is unchanged
# Per batch, the shards its last chunking stored: what `text_chunks` merges.
CHUNKED_BATCHES = "batch_chunks/batches"
DATASET = "training_dataset"
DATASET_INFO = "llmft.json"  # inside the dataset folder: its DatasetReport (format, splits)
BASE_MODEL = "base_model"
ADAPTER = "lora_adapter"
CHECKPOINTS = "checkpoints/lora_adapter"
MERGED_MODEL = "merged_model"
GGUF_MODEL = "gguf_model"
# Small JSON reports beside the big trees, so checks and later steps need not download them.
TRAINING_REPORT = "reports/lora_adapter.json"
EVAL_SEQUENCES = "reports/eval_sequences.json"
MERGE_REPORT = "reports/merged_model.json"
EXPORT_REPORT = "reports/gguf_model.json"
REJECTED_FOLDER = "rejected"


def raw_document(doc_id: str) -> str:
    source = source_of(doc_id)
    return f"{source.raw_asset}/{doc_id}{source.raw_suffix}"


def cleaned_document(doc_id: str) -> str:
    return f"{CLEANED_FOLDER}/{doc_id}.parquet"


def cleaned_batch(batch: str) -> str:
    return f"{CLEANED_BATCHES}/{batch}.json"


def chunked_batch(batch: str) -> str:
    return f"{CHUNKED_BATCHES}/{batch}.json"


def chunk_shard(shard: str) -> str:
    return f"{CHUNK_SHARDS}/{shard}"


def rejected_folder(stage: str) -> str:
    """Where the documents set aside at a stage are kept."""
    return f"{REJECTED_FOLDER}/{stage}"


def rejection(stage: str, doc_id: str) -> str:
    """Why a document was set aside at a stage; its bytes, if any, sit beside it."""
    return f"{rejected_folder(stage)}/{doc_id}.json"


def rejected_bytes(stage: str, doc_id: str) -> str:
    return f"{rejected_folder(stage)}/{doc_id}{source_of(doc_id).raw_suffix}"
