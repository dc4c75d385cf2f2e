"""Where each asset keeps its files inside the artifact store."""

from llmft_assets.sources.catalog import BLOG, GUTENBERG

CATALOG = "document_catalog/catalog.parquet"
RAW_FOLDERS = {BLOG: "blog_posts_html", GUTENBERG: "gutenberg_books"}
RAW_SUFFIXES = {BLOG: ".html", GUTENBERG: ".txt"}
CLEANED_FOLDER = "cleaned_documents"
CHUNKS = "text_chunks/chunks.parquet"
CHUNKING_SPEC = "text_chunks/spec.json"
DATASET = "training_dataset"
DATASET_INFO = "llmft.json"  # inside the dataset folder: the format it was built in
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


def source_of(doc_id: str) -> str:
    """Document ids start with their source: `blog-...` or `gutenberg-...`."""
    source = doc_id.split("-", 1)[0]
    if source not in RAW_FOLDERS:
        raise ValueError(f"document id {doc_id!r} does not start with a known source")
    return source


def raw_document(doc_id: str) -> str:
    source = source_of(doc_id)
    return f"{RAW_FOLDERS[source]}/{doc_id}{RAW_SUFFIXES[source]}"


def cleaned_document(doc_id: str) -> str:
    return f"{CLEANED_FOLDER}/{doc_id}.parquet"


def rejection(stage: str, doc_id: str) -> str:
    """Why a document was set aside at a stage; its bytes, if any, sit beside it."""
    return f"{REJECTED_FOLDER}/{stage}/{doc_id}.json"


def rejected_bytes(stage: str, doc_id: str) -> str:
    return f"{REJECTED_FOLDER}/{stage}/{doc_id}{RAW_SUFFIXES[source_of(doc_id)]}"
