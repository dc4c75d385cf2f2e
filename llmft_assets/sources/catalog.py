"""Catalog entries, the ways of listing them, and fetching one entry's raw bytes.

Discovery lists what exists (files in a folder, objects under an S3 prefix, a list of URLs)
as catalog entries with stable ids; fetching reads one entry's bytes, bounded by a
`FetchPolicy`, from the web, S3 or the local disk (through `reading.read_file`). Each source
module combines these; the catalog is what turns new documents into new partitions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from botocore.exceptions import BotoCoreError, ClientError

from llmft_assets.errors import DocumentError, SourceError
from llmft_assets.sources.http import FetchError, fetch_bytes
from llmft_assets.sources.naming import document_id
from llmft_assets.sources.policy import FetchPolicy
from llmft_assets.sources.reading import read_file
from llmft_assets.storage.backends import S3Backend, backend_for

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
BUNDLED_BLOG_POSTS = SAMPLE_DATA / "blog_posts"
BUNDLED_BOOKS = SAMPLE_DATA / "gutenberg"


@dataclass(frozen=True)
class CatalogEntry:
    doc_id: str
    source: str  # the name of its Source
    locator: str  # a local path, an s3:// URI or an http(s) URL
    title: str = ""  # empty when only the content can tell
    authors: str = ""
    language: str = ""
    batch: str = ""  # the partition tracking it, given by `document_catalog` (see batches.py)

    def as_row(self) -> dict[str, str]:
        return asdict(self)


def discover_folder(folder: Path, source: str, suffixes: tuple[str, ...]) -> list[CatalogEntry]:
    """Every entry of `folder` with one of `suffixes` but subfolders. Links, FIFOs and devices
    are listed too: fetching sets them aside with the reason, where a user sees it."""
    if not folder.is_dir():
        raise SourceError(f"{source} folder does not exist or is not a folder: {folder}")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes and not p.is_dir())
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
    entry: CatalogEntry, policy: FetchPolicy, s3_endpoint_url: str | None = None
) -> bytes:
    """Raw bytes of one catalog entry; DocumentError if it cannot be read within the policy."""
    locator = entry.locator
    try:
        if locator.startswith(("http://", "https://")):
            return fetch_bytes(locator, policy)
        if locator.startswith("s3://"):
            return _read_s3_object(locator, policy, s3_endpoint_url)
        return read_file(Path(locator), policy)
    except FetchError as error:
        raise DocumentError(f"download failed: {error}") from error
    except (OSError, ClientError, BotoCoreError) as error:
        raise DocumentError(f"cannot read {locator}: {error}") from error


def _read_s3_object(uri: str, policy: FetchPolicy, endpoint_url: str | None) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    backend = backend_for(f"s3://{bucket}", endpoint_url)
    size = backend.size(key)  # before reading: the cap bounds memory, not just output
    if size > policy.max_bytes:
        raise DocumentError(f"{uri} is {size} bytes, over the {policy.max_bytes} cap")
    data = backend.get_bytes(key)
    if len(data) > policy.max_bytes:
        raise DocumentError(f"{uri} is {len(data)} bytes, over the {policy.max_bytes} cap")
    return data
