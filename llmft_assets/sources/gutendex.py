"""Find Project Gutenberg books through the Gutendex API (`/books?topic=...&languages=...`).

Pagination follows `next`, but only its query string is used against the configured server,
so a proxy or test server is never redirected elsewhere. A book is usable when it has a
`text/plain*` format that is not a zip; UTF-8 formats are preferred.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlparse

import requests

from llmft_assets.errors import SourceError
from llmft_assets.sources.http import FetchError, fetch_bytes
from llmft_assets.sources.policy import FetchPolicy

PAGE_SIZE = 32
_MAX_LISTING_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class GutendexBook:
    book_id: int
    title: str
    authors: tuple[str, ...]
    languages: tuple[str, ...]
    text_url: str


@dataclass(frozen=True)
class GutendexListing:
    books: list[GutendexBook]
    skipped: dict[int, str]  # book id -> why it was not usable


def search_books(
    base_url: str,
    *,
    topic: str | None,
    languages: tuple[str, ...],
    max_books: int,
    mime_type: str = "text/plain",
    policy: FetchPolicy,
    session: requests.Session | None = None,
) -> GutendexListing:
    """Up to `max_books` usable books matching the query, in the server's order."""
    params = {"mime_type": mime_type}
    if topic:
        params["topic"] = topic
    if languages:
        params["languages"] = ",".join(languages)
    books: list[GutendexBook] = []
    skipped: dict[int, str] = {}
    pages = 0
    while params is not None and len(books) < max_books:
        pages += 1
        if pages > max_books // PAGE_SIZE + 50:
            raise SourceError(f"Gutendex at {base_url} keeps paginating; stopped after {pages}")
        page = _get_page(base_url, params, policy, session)
        for record in page["results"]:
            book = _parse_book(record, skipped)
            if book is not None and len(books) < max_books:
                books.append(book)
        params = _next_params(page.get("next"))
    return GutendexListing(books=books, skipped=skipped)


def _get_page(
    base_url: str, params: dict[str, str], policy: FetchPolicy, session: requests.Session | None
) -> dict:
    url = f"{base_url.rstrip('/')}/books?{urlencode(params)}"
    try:
        body = fetch_bytes(
            url, policy.model_copy(update={"max_bytes": _MAX_LISTING_BYTES}), session
        )
    except FetchError as error:
        raise SourceError(f"Gutendex listing failed: {error}") from error
    try:
        page = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SourceError(f"Gutendex at {url} returned malformed JSON: {error}") from error
    if not isinstance(page, dict) or not isinstance(page.get("results"), list):
        raise SourceError(f"Gutendex at {url} returned JSON without a 'results' list")
    return page


def _parse_book(record: object, skipped: dict[int, str]) -> GutendexBook | None:
    if not isinstance(record, dict) or not isinstance(record.get("id"), int):
        return None
    book_id = record["id"]
    formats = record.get("formats")
    url = pick_text_format(formats) if isinstance(formats, dict) else None
    if url is None:
        skipped[book_id] = "no plain-text format (only zip or none)"
        return None
    authors = tuple(
        a["name"] for a in record.get("authors") or [] if isinstance(a, dict) and a.get("name")
    )
    languages = tuple(x for x in record.get("languages") or [] if isinstance(x, str))
    return GutendexBook(book_id, str(record.get("title") or ""), authors, languages, url)


def pick_text_format(formats: dict[str, object]) -> str | None:
    """The best `text/plain*` URL: UTF-8 first, then unlabelled, then any other charset."""

    def rank(mime: str) -> int:
        mime = mime.lower().replace(" ", "")
        if "charset=utf-8" in mime:
            return 0
        return 1 if mime == "text/plain" else 2

    candidates = sorted(
        (rank(mime), url)
        for mime, url in formats.items()
        if isinstance(mime, str)
        and mime.lower().startswith("text/plain")
        and isinstance(url, str)
        and not url.lower().endswith(".zip")
    )
    return candidates[0][1] if candidates else None


def _next_params(next_url: object) -> dict[str, str] | None:
    if not isinstance(next_url, str) or not next_url:
        return None
    return dict(parse_qsl(urlparse(next_url).query))
