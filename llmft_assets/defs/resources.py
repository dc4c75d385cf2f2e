"""Resources: the outside world (artifact storage, document sources) behind Dagster config.

`resources_from_environment` is the one place that reads deployment settings; see the README
for the variables. Credentials never pass through here: boto3 reads them from its own chain.
"""

import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from llmft_assets.errors import SourceError
from llmft_assets.paths import cache_dir
from llmft_assets.sources.catalog import (
    BLOG,
    BUNDLED_BLOG_POSTS,
    BUNDLED_BOOKS,
    GUTENBERG,
    HTML_SUFFIXES,
    TEXT_SUFFIXES,
    CatalogEntry,
    discover_folder,
    discover_s3_prefix,
    discover_urls,
    gutendex_entries,
)
from llmft_assets.sources.gutendex import search_books
from llmft_assets.sources.http import HttpPolicy
from llmft_assets.storage.artifacts import ArtifactStore
from llmft_assets.storage.backends import backend_for


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where every asset's files live: a local folder, or `s3://bucket/prefix`."""

    root: str = Field(description="A local folder or s3://bucket/prefix.")
    s3_endpoint_url: str | None = Field(
        default=None, description="For S3-compatible stores such as MinIO."
    )

    def store(self) -> ArtifactStore:
        return ArtifactStore(backend_for(self.root, self.s3_endpoint_url), cache_dir() / "store")


class _DownloadSettings(dg.ConfigurableResource):
    timeout_s: float = Field(default=60.0, description="Read timeout of one HTTP request.")
    max_attempts: int = Field(default=4, description="Attempts per download (5xx, timeouts).")
    max_bytes: int = Field(description="Documents larger than this are set aside.")
    s3_endpoint_url: str | None = None

    def http_policy(self) -> HttpPolicy:
        return HttpPolicy(
            read_timeout_s=self.timeout_s, max_attempts=self.max_attempts, max_bytes=self.max_bytes
        )


class BlogPostSource(_DownloadSettings):
    """Blog posts as HTML: a folder (default: the bundled samples), an S3 prefix, or URLs."""

    folder: str | None = None
    s3_prefix: str | None = Field(default=None, description="s3://bucket/prefix of .html files")
    urls: list[str] = Field(default_factory=list)
    max_bytes: int = 5 * 1024 * 1024

    def discover(self) -> list[CatalogEntry]:
        if self.s3_prefix:
            return discover_s3_prefix(self.s3_prefix, BLOG, HTML_SUFFIXES, self.s3_endpoint_url)
        if self.urls:
            return discover_urls(self.urls, BLOG)
        return discover_folder(Path(self.folder or BUNDLED_BLOG_POSTS), BLOG, HTML_SUFFIXES)


class GutenbergSource(_DownloadSettings):
    """Project Gutenberg books: from Gutendex when a URL is set, else from a local folder."""

    folder: str | None = Field(default=None, description="Default: the bundled sample books.")
    gutendex_url: str | None = Field(default=None, description="e.g. https://gutendex.com")
    topic: str | None = None
    languages: list[str] = Field(default_factory=lambda: ["en"])
    max_books: int = 20
    mime_type: str = "text/plain"
    max_bytes: int = 50 * 1024 * 1024

    def discover(self) -> tuple[list[CatalogEntry], dict[int, str]]:
        """Entries, and the Gutendex books skipped (no plain-text format) with why."""
        if not self.gutendex_url:
            return discover_folder(Path(self.folder or BUNDLED_BOOKS), GUTENBERG, TEXT_SUFFIXES), {}
        listing = search_books(
            self.gutendex_url,
            topic=self.topic,
            languages=tuple(self.languages),
            max_books=self.max_books,
            mime_type=self.mime_type,
            policy=self.http_policy(),
        )
        if not listing.books:
            raise SourceError(
                f"Gutendex at {self.gutendex_url} found no usable books for topic={self.topic!r}"
                f" languages={self.languages}"
            )
        return gutendex_entries(listing), listing.skipped


def default_data_dir() -> str:
    if "LLMFT_DATA_DIR" in os.environ:
        return os.environ["LLMFT_DATA_DIR"]
    if "DAGSTER_HOME" in os.environ:
        return str(Path(os.environ["DAGSTER_HOME"]) / "llmft-data")
    return str(Path.cwd() / "data")


def resources_from_environment() -> dict[str, dg.ConfigurableResource]:
    """Resources for this deployment, from LLMFT_* environment variables (see README)."""
    env = os.environ
    endpoint = env.get("LLMFT_S3_ENDPOINT_URL") or None
    bucket = env.get("LLMFT_S3_BUCKET")
    root = f"s3://{bucket}/{env.get('LLMFT_S3_PREFIX', 'llmft')}" if bucket else default_data_dir()
    urls = [u.strip() for u in env.get("LLMFT_BLOG_URLS", "").split(",") if u.strip()]
    languages = [x.strip() for x in env.get("LLMFT_GUTENDEX_LANGUAGES", "en").split(",")]
    return {
        "artifact_store": ArtifactStoreResource(root=root, s3_endpoint_url=endpoint),
        "blog_source": BlogPostSource(
            folder=env.get("LLMFT_BLOG_FOLDER"),
            s3_prefix=env.get("LLMFT_BLOG_S3_PREFIX"),
            urls=urls,
            s3_endpoint_url=endpoint,
        ),
        "gutenberg_source": GutenbergSource(
            folder=env.get("LLMFT_BOOKS_FOLDER"),
            gutendex_url=env.get("LLMFT_GUTENDEX_URL"),
            topic=env.get("LLMFT_GUTENDEX_TOPIC"),
            languages=[x for x in languages if x],
            max_books=int(env.get("LLMFT_GUTENDEX_MAX_BOOKS", "20")),
            s3_endpoint_url=endpoint,
        ),
    }
