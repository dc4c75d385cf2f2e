"""Blog posts as HTML: a folder (by default the bundled samples), an S3 prefix, or URLs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from llmft_assets.cleaning.documents import DocumentKind
from llmft_assets.sources.catalog import (
    BUNDLED_BLOG_POSTS,
    discover_folder,
    discover_s3_prefix,
    discover_urls,
)
from llmft_assets.sources.policy import MIB
from llmft_assets.sources.source import Discovery, Source, SourceSettings

HTML_SUFFIXES = (".html", ".htm")


class BlogPostSettings(SourceSettings):
    """Blog posts as HTML: a folder (default: the bundled samples), an S3 prefix, or URLs."""

    folder: str | None = None
    s3_prefix: str | None = Field(default=None, description="s3://bucket/prefix of .html files")
    urls: list[str] = Field(default_factory=list)
    max_bytes: int = Field(default=5 * MIB, description="Documents larger than this are set aside.")

    def discover(self) -> Discovery:
        if self.s3_prefix:
            return Discovery(
                discover_s3_prefix(
                    self.s3_prefix, BLOG_POSTS.name, HTML_SUFFIXES, self.s3_endpoint_url
                )
            )
        if self.urls:
            return Discovery(discover_urls(self.urls, BLOG_POSTS.name))
        folder = Path(self.folder or BUNDLED_BLOG_POSTS)
        return Discovery(discover_folder(folder, BLOG_POSTS.name, HTML_SUFFIXES))


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    return {
        "folder": env.get("LLMFT_BLOG_FOLDER"),
        "s3_prefix": env.get("LLMFT_BLOG_S3_PREFIX"),
        "urls": [u.strip() for u in env.get("LLMFT_BLOG_URLS", "").split(",") if u.strip()],
        "s3_endpoint_url": env.get("LLMFT_S3_ENDPOINT_URL") or None,
    }


BLOG_POSTS = Source(
    name="blog",
    raw_asset="blog_posts_html",
    partitions="blog_post_batches",
    raw_suffix=".html",
    kind=DocumentKind.HTML,
    reflows=False,
    request="blog post",
    plural="blog posts",
    catalog_count="blog_posts",
    description="Raw HTML of each blog post, as fetched from its folder, bucket or URL.",
    asset_kinds=frozenset({"html"}),
    settings=BlogPostSettings,
    from_environment=_from_environment,
)
