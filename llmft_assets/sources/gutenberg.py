"""Project Gutenberg books: from Gutendex when a URL is set, else from a local folder (by
default the bundled samples)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from llmft_assets.cleaning.documents import DocumentKind
from llmft_assets.errors import SourceError
from llmft_assets.sources.catalog import BUNDLED_BOOKS, CatalogEntry, discover_folder
from llmft_assets.sources.gutendex import GutendexListing, search_books
from llmft_assets.sources.naming import document_id
from llmft_assets.sources.policy import MIB
from llmft_assets.sources.source import Discovery, Source, SourceSettings

TEXT_SUFFIXES = (".txt",)


class GutenbergSettings(SourceSettings):
    """Project Gutenberg books: from Gutendex when a URL is set, else from a local folder."""

    folder: str | None = Field(default=None, description="Default: the bundled sample books.")
    gutendex_url: str | None = Field(default=None, description="e.g. https://gutendex.com")
    topic: str | None = None
    languages: list[str] = Field(default_factory=lambda: ["en"])
    max_books: int = 20
    mime_type: str = "text/plain"
    max_bytes: int = Field(
        default=50 * MIB, description="Documents larger than this are set aside."
    )

    def discover(self) -> Discovery:
        """Entries, and the Gutendex books skipped (no plain-text format) with why."""
        if not self.gutendex_url:
            folder = Path(self.folder or BUNDLED_BOOKS)
            return Discovery(discover_folder(folder, GUTENBERG_BOOKS.name, TEXT_SUFFIXES))
        listing = search_books(
            self.gutendex_url,
            topic=self.topic,
            languages=tuple(self.languages),
            max_books=self.max_books,
            mime_type=self.mime_type,
            policy=self,
        )
        if not listing.books:
            raise SourceError(
                f"Gutendex at {self.gutendex_url} found no usable books for topic={self.topic!r}"
                f" languages={self.languages}"
            )
        skipped = {str(book_id): why for book_id, why in sorted(listing.skipped.items())}
        return Discovery(gutendex_entries(listing), skipped)


def gutendex_entries(listing: GutendexListing) -> list[CatalogEntry]:
    return [
        CatalogEntry(
            doc_id=document_id(GUTENBERG_BOOKS.name, str(book.book_id)),
            source=GUTENBERG_BOOKS.name,
            locator=book.text_url,
            title=book.title,
            authors="; ".join(book.authors),
            language=",".join(book.languages),
        )
        for book in listing.books
    ]


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    languages = [x.strip() for x in env.get("LLMFT_GUTENDEX_LANGUAGES", "en").split(",")]
    return {
        "folder": env.get("LLMFT_BOOKS_FOLDER"),
        "gutendex_url": env.get("LLMFT_GUTENDEX_URL"),
        "topic": env.get("LLMFT_GUTENDEX_TOPIC"),
        "languages": [x for x in languages if x],
        "max_books": int(env.get("LLMFT_GUTENDEX_MAX_BOOKS", "20")),
        "s3_endpoint_url": env.get("LLMFT_S3_ENDPOINT_URL") or None,
    }


GUTENBERG_BOOKS = Source(
    name="gutenberg",
    raw_asset="gutenberg_books",
    partitions="gutenberg_book_batches",
    raw_suffix=".txt",
    kind=DocumentKind.GUTENBERG,
    reflows=True,
    request="passage from the book",
    plural="Project Gutenberg books",
    catalog_count="books",
    description="Raw text of each Project Gutenberg book, as downloaded (bounded, with retries).",
    asset_kinds=frozenset({"text"}),
    settings=GutenbergSettings,
    from_environment=_from_environment,
)
