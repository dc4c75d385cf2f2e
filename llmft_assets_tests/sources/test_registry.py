"""The source registry: one object per source, and a document's source by its id."""

from __future__ import annotations

import pytest

from llmft_assets.sources.registry import SOURCES, source_named, source_of


def test_sources_do_not_share_a_name_folder_partition_set_or_resource() -> None:
    for field in ("name", "raw_asset", "partitions", "resource_key"):
        values = [getattr(source, field) for source in SOURCES]
        assert len(set(values)) == len(values), field
    # Ids are "<name>-<rest>": a name with a hyphen would make ids ambiguous.
    assert not any("-" in source.name for source in SOURCES)


def test_the_existing_sources_keep_their_names_and_keys() -> None:
    by_name = {s.name: (s.raw_asset, s.partitions, s.raw_suffix, s.resource_key) for s in SOURCES}
    assert by_name["blog"] == ("blog_posts_html", "blog_post_batches", ".html", "blog_source")
    assert by_name["gutenberg"] == (
        "gutenberg_books",
        "gutenberg_book_batches",
        ".txt",
        "gutenberg_source",
    )
    assert by_name["notes"] == ("notes_text", "note_batches", ".txt", "notes_source")


@pytest.mark.parametrize(
    ("doc_id", "name"),
    [("blog-kimball-is-not-dead", "blog"), ("gutenberg-345", "gutenberg"), ("notes-a-b", "notes")],
)
def test_a_document_is_found_by_its_id_prefix(doc_id: str, name: str) -> None:
    assert source_of(doc_id) is source_named(name)


@pytest.mark.parametrize("doc_id", ["file-x", "blogpost", "", "-blog"])
def test_an_id_without_a_known_prefix_is_refused(doc_id: str) -> None:
    with pytest.raises(ValueError, match="known source"):
        source_of(doc_id)
