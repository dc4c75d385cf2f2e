"""run_chunking: which copy of a duplicate is kept, which text is reflowed, what it reports."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from llmft_assets.chunking.stage import (
    CHARACTERS,
    CHUNK_COLUMNS,
    ChunkingReport,
    ChunkingSettings,
    run_chunking,
)
from llmft_assets.cleaning.dedup import Duplicate

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


def documents(*rows: dict[str, object]) -> pd.DataFrame:
    return pd.DataFrame(list(rows)).sort_values("doc_id", ignore_index=True)


def test_a_copy_whose_markers_were_found_is_kept_over_a_longer_one_without() -> None:
    book = prose("lantern")
    chunks, report = run_chunking(
        documents(
            document("gutenberg-a", "gutenberg", book + "\n\nA transcriber's note.", "no_markers"),
            document("gutenberg-b", "gutenberg", book),
            document("blog-c", "blog", prose("harbour")),
        ),
        SETTINGS,
    )
    assert report.duplicates == (
        Duplicate("gutenberg-a", "gutenberg-b", "near", pytest.approx(1.0, abs=0.1)),
    )
    assert report.documents == 2
    assert set(chunks.doc_id) == {"gutenberg-b", "blog-c"}


def test_book_prose_is_reflowed_and_blog_text_is_not() -> None:
    chunks, _ = run_chunking(
        documents(
            document("gutenberg-a", "gutenberg", prose("lantern")),
            document("blog-b", "blog", prose("harbour")),
        ),
        SETTINGS,
    )
    by_source = chunks.groupby("source").text.apply(" ".join)
    assert "\n" not in by_source["gutenberg"]
    assert "\n" in by_source["blog"]


def test_chunks_are_numbered_per_document_and_counted_in_the_report() -> None:
    chunks, report = run_chunking(
        documents(document("blog-a", "blog", prose("lantern")), document("blog-b", "blog", "")),
        SETTINGS,
    )
    assert list(chunks.columns) == list(CHUNK_COLUMNS)
    assert len(chunks) > 1
    assert list(chunks.position) == list(range(len(chunks)))
    assert list(chunks.chunk_id) == [f"blog-a:{p:05d}" for p in range(len(chunks))]
    assert chunks.token_count.between(SETTINGS.min_tokens, SETTINGS.target_tokens).all()
    assert report.chunks == len(chunks)
    assert report.tokens == chunks.token_count.sum()
    assert (report.tokenizer, report.target_tokens, report.min_tokens) == ("characters/4", 64, 8)


def test_no_chunk_left_is_an_error() -> None:
    with pytest.raises(ValueError, match="no chunks"):
        run_chunking(documents(document("blog-a", "blog", "")), SETTINGS)


def test_the_report_round_trips_and_keeps_the_spec_keys() -> None:
    book = prose("lantern")
    _, report = run_chunking(
        documents(
            document("gutenberg-a", "gutenberg", book), document("gutenberg-b", "gutenberg", book)
        ),
        SETTINGS,
    )
    assert report.duplicates == (Duplicate("gutenberg-b", "gutenberg-a", "exact", 1.0),)
    assert ChunkingReport.from_json(report.to_json()) == report
    spec = json.loads(report.to_json())  # what text_chunks/spec.json held before the report
    assert {k: spec[k] for k in ("tokenizer", "target_tokens", "min_tokens")} == {
        "tokenizer": "characters/4",
        "target_tokens": 64,
        "min_tokens": 8,
    }
