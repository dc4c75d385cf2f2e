"""Discover documents in their sources, and fetch one document's raw bytes.

Discovery lists what exists (files in a folder, objects under an S3 prefix, a list of URLs,
books from Gutendex) as catalog entries with stable ids; fetching reads one entry's bytes,
bounded in size. The catalog is what turns new documents into new partitions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from llmft_assets.errors import DocumentError, SourceError
from llmft_assets.sources.gutendex import GutendexListing
from llmft_assets.sources.http import FetchError, HttpPolicy, fetch_bytes
from llmft_assets.sources.naming import document_id
from llmft_assets.storage.backends import LocalBackend, S3Backend, backend_for

BLOG = "blog"
GUTENBERG = "gutenberg"
SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
BUNDLED_BLOG_POSTS = SAMPLE_DATA / "blog_posts"
BUNDLED_BOOKS = SAMPLE_DATA / "gutenberg"
HTML_SUFFIXES = (".html", ".htm")
TEXT_SUFFIXES = (".txt",)


@dataclass(frozen=True)
class CatalogEntry:
    doc_id: str
    source: str  # BLOG or GUTENBERG
    locator: str  # a local path, an s3:// URI or an http(s) URL
    title: str = ""  # empty when only the content can tell
    authors: str = ""
    language: str = ""

    def as_row(self) -> dict[str, str]:
        return asdict(self)


def discover_folder(folder: Path, source: str, suffixes: tuple[str, ...]) -> list[CatalogEntry]:
    if not folder.is_dir():
        raise SourceError(f"{source} folder does not exist or is not a folder: {folder}")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    entries = [CatalogEntry(document_id(source, p.stem), source, str(p)) for p in files]
    return _with_unique_ids(entries)


def discover_s3_prefix(
    uri: str, source: str, suffixes: tuple[str, ...], endpoint_url: str | None
) -> list[CatalogEntry]:
    backend = backend_for(uri, endpoint_url)
    if not isinstance(backend, S3Backend):
        raise SourceError(f"not an s3:// URI: {uri!r}")
    try:
        keys = backend.list_keys("")
    except Exception as error:  # boto raises many types; all mean the prefix is unusable
        raise SourceError(f"cannot list {uri}: {error}") from error
    entries = [
        CatalogEntry(document_id(source, PurePosixPath(k).stem), source, backend.uri(k))
        for k in keys
        if PurePosixPath(k).suffix.lower() in suffixes
    ]
    return _with_unique_ids(entries)


def discover_urls(urls: list[str], source: str) -> list[CatalogEntry]:
    entries = []
    for url in urls:
        parsed = urlparse(url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise SourceError(f"not an http(s) URL: {url!r}")
        name = PurePosixPath(parsed.path).stem or parsed.netloc
        entries.append(CatalogEntry(document_id(source, name), source, url))
    return _with_unique_ids(entries)


def gutendex_entries(listing: GutendexListing) -> list[CatalogEntry]:
    return [
        CatalogEntry(
            doc_id=document_id(GUTENBERG, str(book.book_id)),
            source=GUTENBERG,
            locator=book.text_url,
            title=book.title,
            authors="; ".join(book.authors),
            language=",".join(book.languages),
        )
        for book in listing.books
    ]


def _with_unique_ids(entries: list[CatalogEntry]) -> list[CatalogEntry]:
    """Two inputs whose names sanitize alike get ids from their full locators instead."""
    seen: dict[str, int] = {}
    for entry in entries:
        seen[entry.doc_id] = seen.get(entry.doc_id, 0) + 1
    return [
        replace(e, doc_id=document_id(e.source, e.locator)) if seen[e.doc_id] > 1 else e
        for e in entries
    ]


def fetch_document(
    entry: CatalogEntry, policy: HttpPolicy, s3_endpoint_url: str | None = None
) -> bytes:
    """Raw bytes of one catalog entry; DocumentError if it cannot be read within the cap."""
    locator = entry.locator
    try:
        if locator.startswith(("http://", "https://")):
            return fetch_bytes(locator, policy)
        if locator.startswith("s3://"):
            bucket_uri, _, key = locator.removeprefix("s3://").partition("/")
            backend = backend_for(f"s3://{bucket_uri}", s3_endpoint_url)
        else:
            backend, key = LocalBackend(Path(locator).parent), Path(locator).name
        size = backend.size(key)  # before reading: the cap bounds memory, not just output
        if size > policy.max_bytes:
            raise DocumentError(f"{locator} is {size} bytes, over the {policy.max_bytes} cap")
        data = backend.get_bytes(key)
    except FetchError as error:
        raise DocumentError(f"download failed: {error}") from error
    except (OSError, ClientError, BotoCoreError) as error:
        raise DocumentError(f"cannot read {locator}: {error}") from error
    if len(data) > policy.max_bytes:
        raise DocumentError(f"{locator} is {len(data)} bytes, over the {policy.max_bytes} cap")
    return data
