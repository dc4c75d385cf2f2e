"""One raw document in, one cleaned document out: the core behind `cleaned_documents` and
`python -m llmft_assets clean`."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass
from enum import StrEnum

from llmft_assets.cleaning.decoding import decode_text
from llmft_assets.cleaning.gutenberg import BOILERPLATE, has_author_text, strip_gutenberg
from llmft_assets.cleaning.html import extract_article
from llmft_assets.cleaning.language import guess_language
from llmft_assets.cleaning.text import clean_note
from llmft_assets.cleaning.titles import title_from_file_name
from llmft_assets.errors import DocumentError

MIN_BOOK_CHARS = 200
_HTML_START = re.compile(
    r"<\s*(?:!doctype|html|head|body|article|main|section|div|p|h[1-6]|ul|ol|blockquote|pre|"
    r"table|figure|span|a|em|strong|br)[\s>/]",
    re.I,
)


class DocumentKind(StrEnum):
    HTML = "html"  # a web page: its main article
    GUTENBERG = "gutenberg"  # a book: without Project Gutenberg's header, licence and footer
    TEXT = "text"  # a plain-text or Markdown note, kept as written


@dataclass(frozen=True)
class CleanedDocument:
    doc_id: str
    source: str
    kind: str
    title: str
    url: str
    text: str
    content_sha256: str  # of the cleaned text
    raw_sha256: str  # of the bytes as fetched
    char_count: int
    language: str
    encoding: str
    flags: str  # comma-separated, e.g. "no_markers"

    def as_row(self) -> dict[str, object]:
        return asdict(self)


def detect_kind(text: str) -> DocumentKind:
    return DocumentKind.HTML if _HTML_START.search(text[:4096]) else DocumentKind.GUTENBERG


def clean_document(
    data: bytes,
    *,
    doc_id: str,
    source: str,
    kind: DocumentKind | None = None,
    file_name: str | None = None,
    title_hint: str = "",
    url: str = "",
    language_hint: str = "",
) -> CleanedDocument:
    """Decode, detect the kind unless given, extract the text; DocumentError if unusable."""
    decoded = decode_text(data)
    kind = kind or detect_kind(decoded.text)
    try:
        title, text, language, flags = _extract(decoded.text, kind, file_name)
    except DocumentError:
        raise
    except Exception as error:  # a parser failing on hostile input sinks this document only
        raise DocumentError(f"cleaning failed: {type(error).__name__}: {error}") from error
    title = title_hint or title or title_from_file_name(file_name) or doc_id
    return CleanedDocument(
        doc_id=doc_id,
        source=source,
        kind=kind.value,
        title=title,
        url=url,
        text=text,
        content_sha256=hashlib.sha256(text.encode()).hexdigest(),
        raw_sha256=hashlib.sha256(data).hexdigest(),
        char_count=len(text),
        language=language_hint or language or guess_language(text),
        encoding=decoded.encoding,
        flags=",".join(flags),
    )


def _extract(
    text: str, kind: DocumentKind, file_name: str | None
) -> tuple[str, str, str, tuple[str, ...]]:
    """Title, text, language (may be empty) and flags of a decoded document."""
    if kind is DocumentKind.HTML:
        article = extract_article(text, file_name=file_name)
        return article.title, article.text, "", ()
    if kind is DocumentKind.TEXT:
        note = clean_note(text)
        return note.title, note.text, "", ()
    book = strip_gutenberg(text)
    leftover = BOILERPLATE.search(book.text)
    if leftover:
        raise DocumentError(
            f"Project Gutenberg boilerplate is left after stripping ({leftover.group(0)!r}):"
            " unrecognized marker style"
        )
    if len(book.text) < MIN_BOOK_CHARS:
        raise DocumentError(f"only {len(book.text)} characters of text after stripping")
    if not has_author_text(book.text, MIN_BOOK_CHARS):
        raise DocumentError(
            "nothing but Project Gutenberg header and licence text: fewer than"
            f" {MIN_BOOK_CHARS} characters of the author's"
        )
    return book.title, book.text, book.language, book.flags
