"""run_chunking: which copy of a duplicate is kept, which text is reflowed, what it reports."""

from __future__ import annotations

import io
import json
import random
import textwrap
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from llmft_assets.chunking.chunker import chunk_text
from llmft_assets.chunking.stage import (
    CHARACTERS,
    CHUNK_COLUMNS,
    ChunkingReport,
    ChunkingSettings,
    StoredDocuments,
    run_chunking,
    text_to_chunk,
    token_counter,
)
from llmft_assets.cleaning.dedup import DedupCandidate, Duplicate, find_duplicates, keep_rank
from llmft_assets.storage import layout
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import LocalBackend

SETTINGS = ChunkingSettings(tokenizer=CHARACTERS, target_tokens=64, min_tokens=8)


def prose(topic: str, sentences: int = 12) -> str:
    """One paragraph hard-wrapped at 60 columns, as in a Project Gutenberg etext."""
    text = " ".join(
        f"The {topic} sentence {i} walks down Pell Street where the fog comes up."
        for i in range(sentences)
    )
    return textwrap.fill(text, width=60)


def document(doc_id: str, source: str, text: str, flags: str = "") -> dict[str, object]:
    return {
        "doc_id": doc_id,
        "source": source,
        "title": doc_id.title(),
        "url": "",
        "language": "en",
        "text": text,
        "char_count": len(text),
        "flags": flags,
    }


def documents(*rows: dict[str, object]) -> list[dict[str, object]]:
    return sorted(rows, key=lambda row: row["doc_id"])


Chunked = Callable[..., tuple[pd.DataFrame, ChunkingReport]]


@pytest.fixture
def chunked(tmp_path: Path) -> Chunked:
    """run_chunking, with the chunks it wrote read back."""

    def run(
        docs: list[dict[str, object]], settings: ChunkingSettings = SETTINGS
    ) -> tuple[pd.DataFrame, ChunkingReport]:
        path = tmp_path / "chunks.parquet"
        report = run_chunking(docs, settings, path)
        return pd.read_parquet(path), report

    return run


def test_a_copy_whose_markers_were_found_is_kept_over_a_longer_one_without(
    chunked: Chunked,
) -> None:
    book = prose("lantern")
    chunks, report = chunked(
        documents(
            document("gutenberg-a", "gutenberg", book + "\n\nA transcriber's note.", "no_markers"),
            document("gutenberg-b", "gutenberg", book),
            document("blog-c", "blog", prose("harbour")),
        ),
    )
    assert report.duplicates == (
        Duplicate("gutenberg-a", "gutenberg-b", "near", pytest.approx(1.0, abs=0.1)),
    )
    assert report.documents == 2
    assert set(chunks.doc_id) == {"gutenberg-b", "blog-c"}


def test_book_prose_is_reflowed_and_blog_text_is_not(chunked: Chunked) -> None:
    chunks, _ = chunked(
        documents(
            document("gutenberg-a", "gutenberg", prose("lantern")),
            document("blog-b", "blog", prose("harbour")),
        ),
    )
    by_source = chunks.groupby("source").text.apply(" ".join)
    assert "\n" not in by_source["gutenberg"]
    assert "\n" in by_source["blog"]


def test_chunks_are_numbered_per_document_and_counted_in_the_report(chunked: Chunked) -> None:
    chunks, report = chunked(
        documents(document("blog-a", "blog", prose("lantern")), document("blog-b", "blog", "")),
    )
    assert list(chunks.columns) == list(CHUNK_COLUMNS)
    assert len(chunks) > 1
    assert list(chunks.position) == list(range(len(chunks)))
    assert list(chunks.chunk_id) == [f"blog-a:{p:05d}" for p in range(len(chunks))]
    assert chunks.token_count.between(SETTINGS.min_tokens, SETTINGS.target_tokens).all()
    assert report.chunks == len(chunks)
    assert report.tokens == chunks.token_count.sum()
    assert (report.tokenizer, report.target_tokens, report.min_tokens) == ("characters/4", 64, 8)


def test_no_chunk_left_is_an_error(chunked: Chunked) -> None:
    with pytest.raises(ValueError, match="no chunks"):
        chunked(documents(document("blog-a", "blog", "")))


def test_the_report_round_trips_and_keeps_the_spec_keys(chunked: Chunked) -> None:
    book = prose("lantern")
    _, report = chunked(
        documents(
            document("gutenberg-a", "gutenberg", book), document("gutenberg-b", "gutenberg", book)
        ),
    )
    assert report.duplicates == (Duplicate("gutenberg-b", "gutenberg-a", "exact", 1.0),)
    assert ChunkingReport.from_json(report.to_json()) == report
    spec = json.loads(report.to_json())  # what text_chunks/spec.json held before the report
    assert {k: spec[k] for k in ("tokenizer", "target_tokens", "min_tokens")} == {
        "tokenizer": "characters/4",
        "target_tokens": 64,
        "min_tokens": 8,
    }


def in_memory_chunks(docs: list[dict[str, object]], settings: ChunkingSettings) -> pd.DataFrame:
    """What run_chunking returned before it streamed: every chunk row in one DataFrame."""
    frame = pd.DataFrame(docs).sort_values("doc_id", ignore_index=True)
    duplicates = find_duplicates(
        [
            DedupCandidate(r.doc_id, r.text, keep_rank(r.flags, r.char_count))
            for r in frame.itertuples()
        ],
        threshold=settings.near_duplicate_threshold,
    )
    dropped = {d.doc_id for d in duplicates}
    counter = token_counter(settings.tokenizer)
    rows = []
    for doc in frame[~frame.doc_id.isin(dropped)].itertuples():
        text = text_to_chunk(doc.source, doc.text)
        result = chunk_text(text, counter, settings.target_tokens, settings.min_tokens)
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
    return pd.DataFrame(rows, columns=list(CHUNK_COLUMNS))


MIXED = documents(
    document("gutenberg-a", "gutenberg", prose("lantern", 40) + "\n\nA note.", "no_markers"),
    document("gutenberg-b", "gutenberg", prose("lantern", 40)),
    document("gutenberg-c", "gutenberg", prose("harbour", 30).upper()),
    document("gutenberg-c-copy", "gutenberg", prose("harbour", 30)),
    document("blog-a", "blog", prose("kettle", 25)),
    document("blog-b", "blog", "Too short."),
    document("blog-c", "blog", ""),
    document("notes-a", "notes", prose("ledger", 9)),
)


@pytest.mark.parametrize("rows_per_group", [1, 7, 4096])
def test_streamed_chunks_are_the_rows_the_in_memory_stage_built(
    tmp_path: Path, rows_per_group: int
) -> None:
    settings = SETTINGS.model_copy(update={"rows_per_group": rows_per_group})
    path = tmp_path / "chunks.parquet"
    report = run_chunking(MIXED, settings, path)
    expected = in_memory_chunks(MIXED, settings)
    pd.testing.assert_frame_equal(pd.read_parquet(path), expected)
    groups = pq.ParquetFile(path).metadata.num_row_groups
    assert groups == -(-len(expected) // rows_per_group)
    assert (report.chunks, report.tokens) == (len(expected), expected.token_count.sum())
    assert report.documents == len(MIXED) - len(report.duplicates) == 6


def test_in_one_row_group_the_file_is_the_bytes_to_parquet_wrote(tmp_path: Path) -> None:
    run_chunking(MIXED, SETTINGS, tmp_path / "chunks.parquet")
    buffer = io.BytesIO()
    in_memory_chunks(MIXED, SETTINGS).to_parquet(buffer, index=False, compression="zstd")
    assert (tmp_path / "chunks.parquet").read_bytes() == buffer.getvalue()


def test_documents_out_of_doc_id_order_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="out of doc_id order"):
        run_chunking(list(reversed(MIXED)), SETTINGS, tmp_path / "chunks.parquet")


def test_stored_documents_come_one_file_at_a_time_in_doc_id_order(tmp_path: Path) -> None:
    store = ArtifactStore(LocalBackend(tmp_path / "store"), tmp_path / "cache")
    for doc in MIXED:
        store.write_table(layout.cleaned_document(doc["doc_id"]), pd.DataFrame([doc]))
    stored = StoredDocuments(store)
    ids = [doc["doc_id"] for doc in MIXED]
    assert ids.index("gutenberg-c") < ids.index("gutenberg-c-copy")  # unlike their file names
    assert [doc["doc_id"] for doc in stored] == ids
    assert list(stored) == MIXED  # every field, and again: the stage reads them twice
    report = run_chunking(stored, SETTINGS, tmp_path / "chunks.parquet")
    assert report == run_chunking(MIXED, SETTINGS, tmp_path / "again.parquet")


def test_no_cleaned_documents_is_an_error(tmp_path: Path) -> None:
    store = ArtifactStore(LocalBackend(tmp_path / "store"), tmp_path / "cache")
    with pytest.raises(ValueError, match="materialize cleaned_documents first"):
        StoredDocuments(store)


class SyntheticCorpus:
    """`count` distinct documents of ~`chars` characters, made afresh on each pass, so that
    the corpus itself is never in memory."""

    VOCABULARY = tuple(f"word{i}" for i in range(2000))

    def __init__(self, count: int, chars: int = 13_000) -> None:
        self.count = count
        self.chars = chars

    def __iter__(self) -> Iterator[dict[str, object]]:
        for i in range(self.count):
            words = random.Random(i).choices(self.VOCABULARY, k=self.chars // 9)
            sentences = (" ".join(words[k : k + 12]) + "." for k in range(0, len(words), 12))
            yield document(f"blog-{i:06d}", "blog", "\n\n".join(sentences))


def test_peak_memory_does_not_grow_with_the_corpus(tmp_path: Path) -> None:
    bound = 2 << 20  # Python allocations (numpy's included) during run_chunking, in bytes
    settings = SETTINGS.model_copy(update={"target_tokens": 512, "rows_per_group": 64})
    corpus = SyntheticCorpus(700)
    text = sum(len(doc["text"]) for doc in corpus)
    assert text > 4 * bound  # what the stage held at once before: every document and chunk
    tracemalloc.start()
    try:
        report = run_chunking(corpus, settings, tmp_path / "chunks.parquet")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.documents == 700 and report.chunks >= 700 * 6 and not report.duplicates
    assert peak < bound, f"peak {peak / 2**20:.1f} MiB for {text / 2**20:.1f} MiB of text"
