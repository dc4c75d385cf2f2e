"""Every source the pipeline reads, and finding a document's source by its id.

A new source is a module beside these (a `Source` and its `SourceSettings`) added here; the
Dagster layer derives its asset, partition set and resource from this list.
"""

from __future__ import annotations

from llmft_assets.sources.blog import BLOG_POSTS
from llmft_assets.sources.gutenberg import GUTENBERG_BOOKS
from llmft_assets.sources.notes import NOTES
from llmft_assets.sources.source import Source

SOURCES: tuple[Source, ...] = (BLOG_POSTS, GUTENBERG_BOOKS, NOTES)
_BY_NAME = {source.name: source for source in SOURCES}


def source_named(name: str) -> Source:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"no source named {name!r}") from None


def source_of(doc_id: str) -> Source:
    """Document ids start with their source's name: `blog-...`, `gutenberg-...`."""
    source = _BY_NAME.get(doc_id.split("-", 1)[0])
    if source is None:
        raise ValueError(f"document id {doc_id!r} does not start with a known source")
    return source
