"""One raw document in, one cleaned document out."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llmft_assets.cleaning.decoding import decode_text
from llmft_assets.cleaning.documents import (
    MIN_BOOK_CHARS,
    CleanedDocument,
    DocumentKind,
    clean_document,
    detect_kind,
)
from llmft_assets.errors import DocumentError

SAMPLE_DATA = Path(__file__).resolve().parents[2] / "llmft_assets" / "sample_data"
SUBSTACK = SAMPLE_DATA / "blog_posts" / "89014957.data-engineer-vs-senior-data-engineer.html"
CTHULHU = SAMPLE_DATA / "gutenberg" / "pg68283-orig_call-of-cthulhu_2022.txt"
BELLS_CP1252 = SAMPLE_DATA / "gutenberg" / "morning-bells_cp1252-labelled-utf8.txt"
SERMON = SAMPLE_DATA / "gutenberg" / "a-short-sermon_no-markers.txt"
PROSE = (
    "The lantern-maker lived at the bottom of Pell Street, where the fog came up from the river\n"
    "in the evenings and stood about the doorways like a crowd that had nowhere to go. His shop\n"
    "was narrow and deep, and smelt of tallow, brass polish and little pine shavings.\n"
)


def clean(data: bytes, **kwargs: object) -> CleanedDocument:
    return clean_document(data, doc_id=kwargs.pop("doc_id", "doc"), source="test", **kwargs)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("<p>Engineers at every level ask the same questions.</p><h2>Next</h2>", "html"),
        ("<!DOCTYPE html>\n<html lang='en'><head><title>T</title></head></html>", "html"),
        ("\n\n  <div class='post'><p>Text</p></div>", "html"),
        ("<article><h1>Title</h1></article>", "html"),
        (PROSE, "gutenberg"),
        ("The Project Gutenberg EBook of Dracula, by Bram Stoker\n\n" + PROSE, "gutenberg"),
        ("Use a <b> tag for bold, said the manual, and then it said no more.", "gutenberg"),
    ],
)
def test_detect_kind(text: str, kind: str) -> None:
    assert detect_kind(text) == DocumentKind(kind)


def test_detect_kind_of_the_bundled_files() -> None:
    assert detect_kind(SUBSTACK.read_text(encoding="utf-8")) is DocumentKind.HTML
    assert detect_kind(CTHULHU.read_text(encoding="utf-8-sig")) is DocumentKind.GUTENBERG


def test_clean_book_carries_hashes_counts_and_language() -> None:
    data = CTHULHU.read_bytes()
    document = clean(data, doc_id="gutenberg-68283", file_name=CTHULHU.name, url="https://x/1")
    assert document.kind == "gutenberg"
    assert (document.doc_id, document.source, document.url) == (
        "gutenberg-68283",
        "test",
        "https://x/1",
    )
    assert document.title == "The call of Cthulhu"
    assert document.content_sha256 == hashlib.sha256(document.text.encode()).hexdigest()
    assert document.raw_sha256 == hashlib.sha256(data).hexdigest()
    assert document.content_sha256 != document.raw_sha256
    assert document.char_count == len(document.text) > 60_000
    assert document.language == "en"
    assert document.encoding == "utf-8"
    assert document.flags == ""
    assert document.text.startswith("The CALL of CTHULHU")
    row = document.as_row()
    assert row["content_sha256"] == document.content_sha256
    assert set(row) >= {"doc_id", "title", "text", "raw_sha256", "char_count", "flags"}


def test_clean_html_post() -> None:
    data = SUBSTACK.read_bytes()
    document = clean(data, file_name=SUBSTACK.name)
    assert document.kind == "html"
    assert document.title == "Data Engineer vs Senior Data Engineer"
    assert document.language == "en"  # guessed from the text
    assert document.content_sha256 == hashlib.sha256(document.text.encode()).hexdigest()
    assert document.raw_sha256 == hashlib.sha256(data).hexdigest()
    assert document.char_count == len(document.text)


def test_clean_cp1252_book_labelled_utf8() -> None:
    document = clean(BELLS_CP1252.read_bytes(), file_name=BELLS_CP1252.name)
    assert document.encoding == "cp1252"
    assert document.title == "Morning Bells"
    assert "“Thy holy child Jesus.”—Acts iv. 30." in document.text


def test_clean_text_without_markers_is_kept_whole_and_flagged() -> None:
    data = SERMON.read_bytes()
    document = clean(data, file_name=SERMON.name)
    assert document.text == data.decode("utf-8").strip()
    assert document.flags == "no_markers"
    assert document.title == "A Short Sermon No Markers"  # from the file name
    assert document.language == "en"


def test_hints_override_what_the_document_says() -> None:
    document = clean(
        SERMON.read_bytes(),
        file_name=SERMON.name,
        title_hint="A Short Sermon on Small Duties",
        language_hint="en-GB",
    )
    assert (document.title, document.language) == ("A Short Sermon on Small Duties", "en-GB")


def test_book_with_surviving_boilerplate_is_rejected() -> None:
    # Markers in a style nobody recognizes: the licence after the book stays in the text, and
    # the document must not pass as clean.
    body = "\n".join([PROSE] * 30)
    text = f"""\
~~ BEGIN E-BOOK: THE LANTERN-MAKER ~~

{body}
~~ FINISH E-BOOK ~~

Section 4. Information about Donations to the Project Gutenberg Literary
Archive Foundation

Project Gutenberg-tm depends upon and cannot survive without wide
spread public support and donations to carry out its mission.

1.F.3. LIMITED RIGHT OF REPLACEMENT OR REFUND - If you discover a
defect in this electronic work within 90 days of receiving it, you can
receive a refund of the money (if any) you paid for it by sending a
written explanation to the person you received the work from.

Section 5. General Information About Project Gutenberg-tm electronic works.
"""
    with pytest.raises(DocumentError, match="boilerplate") as caught:
        clean(text.encode(), file_name="lantern.txt")
    assert "Project Gutenberg Literary" in str(caught.value)


def test_too_short_book_is_rejected() -> None:
    text = (
        "*** START OF THE PROJECT GUTENBERG EBOOK A NOTE ***\n\nA short note.\n\n"
        "*** END OF THE PROJECT GUTENBERG EBOOK A NOTE ***\n"
    )
    with pytest.raises(DocumentError, match="characters of text after stripping"):
        clean(text.encode())


def test_book_of_exactly_the_minimum_length_is_kept() -> None:
    body = "x" * MIN_BOOK_CHARS
    start, end = (
        "*** START OF THE PROJECT GUTENBERG EBOOK X ***",
        "*** END OF THE PROJECT GUTENBERG",
    )
    text = f"{start}\n\n{body}\n\n{end}"
    assert clean(text.encode()).text == body


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (b"  \r\n\t", "empty"),
        (b"%PDF-1.4\n1 0 obj", "binary"),
        (b"GGUF\x03\x00\x00\x00", "binary"),
        (b"text with a \x00 NUL", "binary"),
    ],
)
def test_binary_or_empty_input_is_rejected(data: bytes, reason: str) -> None:
    for kind in (None, DocumentKind.HTML, DocumentKind.GUTENBERG):
        with pytest.raises(DocumentError, match=reason):
            clean(data, kind=kind)


def test_html_without_article_is_rejected() -> None:
    html = b"<html><body><nav><a href='/'>Home</a></nav></body></html>"
    with pytest.raises(DocumentError, match="no article text"):
        clean(html)


def test_a_parser_failure_rejects_that_document_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A library bug on hostile input (here trafilatura recursing too deep) must not escape:
    the pipeline sets the document aside and goes on with the others."""

    def overflow(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr("llmft_assets.cleaning.html.trafilatura.bare_extraction", overflow)
    with pytest.raises(DocumentError, match="cleaning failed: RecursionError: maximum recursion"):
        clean(SUBSTACK.read_bytes())
    assert clean(CTHULHU.read_bytes()).kind == "gutenberg"  # books do not use it


def test_kind_override_skips_detection() -> None:
    html = SUBSTACK.read_bytes()
    as_book = clean(html, kind=DocumentKind.GUTENBERG)
    assert as_book.kind == "gutenberg"
    assert "<h2>" in as_book.text  # taken as plain text, markup and all
    assert as_book.flags == "no_markers"

    # A fragment with no <p>, <div> or heading: its blockquote and list still say HTML.
    fragment = (
        b"<blockquote>Data contracts are a people problem, and people problems need"
        b" conversations.</blockquote><ul><li>Talk to the producers of the data before you write"
        b" a single line.</li><li>Write down what you agreed, and who agreed to it.</li></ul>"
    )
    assert clean(fragment).kind == "html"
    as_html = clean(fragment, kind=DocumentKind.HTML, file_name="data-contracts.html")
    assert as_html.kind == "html"
    assert as_html.title == "Data Contracts"
    assert as_html.text == (
        "Data contracts are a people problem, and people problems need conversations.\n\n"
        "- Talk to the producers of the data before you write a single line.\n"
        "- Write down what you agreed, and who agreed to it."
    )


def _without_body(path: Path, keep_markers: bool) -> str:
    """A real book's Project Gutenberg header and licence, with nothing of the book between."""
    text = decode_text(path.read_bytes()).text
    start, end = text.index("*** START OF"), text.index("*** END OF")
    start_end, end_end = text.index("\n", start), text.index("\n", end)
    if keep_markers:
        return text[:start_end] + "\n\n" + text[end:]
    return text[:start] + text[end_end:]


@pytest.mark.parametrize(
    "text",
    [
        _without_body(CTHULHU, keep_markers=False),
        _without_body(BELLS_CP1252, keep_markers=False),
        decode_text(BELLS_CP1252.read_bytes()).text.split("*** START OF")[0],
    ],
    ids=["cthulhu-header-and-licence", "bells-header-and-licence", "bells-header-only"],
)
def test_a_book_of_nothing_but_header_and_licence_is_rejected(text: str) -> None:
    with pytest.raises(DocumentError, match="nothing but Project Gutenberg header and licence"):
        clean(text.encode())


def test_a_book_of_markers_and_licence_only_is_rejected() -> None:
    with pytest.raises(DocumentError, match="0 characters of text after stripping"):
        clean(_without_body(CTHULHU, keep_markers=True).encode())


def test_a_short_book_of_indented_verse_is_the_authors() -> None:
    verse = "\n".join(f"    The lantern-maker's song, verse {i}, by the river" for i in range(6))
    start, end = (
        "*** START OF THE PROJECT GUTENBERG EBOOK X ***",
        "*** END OF THE PROJECT GUTENBERG",
    )
    text = f"{start}\n\n{verse}\n\n{end}"
    assert clean(text.encode()).text == verse
