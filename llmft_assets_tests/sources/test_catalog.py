"""Discovery (folder, S3 prefix on moto, URLs, Gutendex) and fetching one document."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest

from llmft_assets.errors import DocumentError, SourceError
from llmft_assets.sources.blog import BLOG_POSTS, HTML_SUFFIXES
from llmft_assets.sources.catalog import (
    CatalogEntry,
    discover_folder,
    discover_s3_prefix,
    discover_urls,
    fetch_document,
)
from llmft_assets.sources.gutenberg import GUTENBERG_BOOKS, TEXT_SUFFIXES, gutendex_entries
from llmft_assets.sources.gutendex import search_books
from llmft_assets_tests.gutendex_server import FakeGutendex, fast_policy

SAFE_ID = re.compile(r"^[a-z0-9._-]+$")
BLOG = BLOG_POSTS.name
GUTENBERG = GUTENBERG_BOOKS.name
POST = b"<html><body><article><p>Hello.</p></article></body></html>"


def _ids(entries: list[CatalogEntry]) -> list[str]:
    return [e.doc_id for e in entries]


# Folders ------------------------------------------------------------------------------------


def test_discover_folder_is_sorted_filtered_and_safe(tmp_path: Path) -> None:
    folder = tmp_path / "posts"
    folder.mkdir()
    for name in ["b-post.html", "A Post.HTML", "c.htm", "notes.txt", "image.png", "noext"]:
        (folder / name).write_bytes(POST)
    (folder / "dir.html").mkdir()  # a folder named like a post is not a post
    entries = discover_folder(folder, BLOG, HTML_SUFFIXES)
    assert [Path(e.locator).name for e in entries] == ["A Post.HTML", "b-post.html", "c.htm"]
    assert all(e.source == BLOG for e in entries)
    assert all(SAFE_ID.match(e.doc_id) and e.doc_id.startswith("blog-") for e in entries)
    assert _ids(entries)[1:] == ["blog-b-post", "blog-c"]
    assert len(set(_ids(entries))) == 3
    assert all(Path(e.locator).is_file() for e in entries)


def test_discover_folder_ids_are_stable(tmp_path: Path) -> None:
    for name in ["one.txt", "Two Words.txt", "ünïcödé.txt"]:
        (tmp_path / name).write_text("text")
    first = discover_folder(tmp_path, GUTENBERG, TEXT_SUFFIXES)
    second = discover_folder(tmp_path, GUTENBERG, TEXT_SUFFIXES)
    assert first == second
    assert all(SAFE_ID.match(i) for i in _ids(first))


def test_discover_folder_ids_are_unique_when_names_sanitize_alike(tmp_path: Path) -> None:
    names = ["post.html", "post.htm", "My Post!.html", "My Post?.html", "my-post.html"]
    for name in names:
        (tmp_path / name).write_bytes(POST)
    entries = discover_folder(tmp_path, BLOG, HTML_SUFFIXES)
    assert len(entries) == len(names)
    ids = _ids(entries)
    assert len(set(ids)) == len(ids), ids
    assert all(SAFE_ID.match(i) and len(i) <= 96 for i in ids)
    # Names that stay unique keep their short, readable ids.
    by_name = {Path(e.locator).name: e.doc_id for e in entries}
    assert by_name["my-post.html"] == "blog-my-post"


@pytest.mark.parametrize("make", ["missing", "file"])
def test_discover_folder_refuses_a_missing_folder(tmp_path: Path, make: str) -> None:
    target = tmp_path / "posts"
    if make == "file":
        target.write_text("not a folder")
    with pytest.raises(SourceError, match="posts"):
        discover_folder(target, BLOG, HTML_SUFFIXES)


def test_fetch_document_reads_a_local_file_within_the_cap(tmp_path: Path) -> None:
    (tmp_path / "small.html").write_bytes(b"a" * 1000)
    (tmp_path / "big.html").write_bytes(b"b" * 1001)
    small, big = sorted(
        discover_folder(tmp_path, BLOG, HTML_SUFFIXES), key=lambda e: e.doc_id, reverse=True
    )
    assert fetch_document(small, fast_policy(max_bytes=1000)) == b"a" * 1000
    with pytest.raises(DocumentError, match="over the 1000"):
        fetch_document(big, fast_policy(max_bytes=1000))


def test_fetch_document_of_a_vanished_local_file_is_a_document_error(tmp_path: Path) -> None:
    entry = CatalogEntry("blog-gone", BLOG, str(tmp_path / "gone.html"))
    with pytest.raises(DocumentError, match=r"gone\.html"):
        fetch_document(entry, fast_policy())


# S3 ------------------------------------------------------------------------------------------


def _put(endpoint: str, bucket: str, objects: dict[str, bytes]) -> None:
    client = boto3.client("s3", endpoint_url=endpoint)
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)


def test_discover_s3_prefix_lists_posts_under_the_prefix(s3_endpoint: str, s3_bucket: str) -> None:
    _put(
        s3_endpoint,
        s3_bucket,
        {
            "posts/first.html": b"<p>one</p>",
            "posts/2024/second.HTM": b"<p>two</p>",
            "posts/readme.txt": b"not a post",
            "postscript/third.html": b"outside the prefix",
            "other/fourth.html": b"outside the prefix",
        },
    )
    entries = discover_s3_prefix(f"s3://{s3_bucket}/posts", BLOG, HTML_SUFFIXES, s3_endpoint)
    assert sorted(e.locator for e in entries) == [
        f"s3://{s3_bucket}/posts/2024/second.HTM",
        f"s3://{s3_bucket}/posts/first.html",
    ]
    assert sorted(_ids(entries)) == ["blog-first", "blog-second"]
    fetched = {e.doc_id: fetch_document(e, fast_policy(), s3_endpoint) for e in entries}
    assert fetched == {"blog-first": b"<p>one</p>", "blog-second": b"<p>two</p>"}


def test_discover_s3_prefix_makes_clashing_ids_unique(s3_endpoint: str, s3_bucket: str) -> None:
    _put(s3_endpoint, s3_bucket, {"a/post.html": b"1", "b/post.html": b"2", "b/other.html": b"3"})
    entries = discover_s3_prefix(f"s3://{s3_bucket}", BLOG, HTML_SUFFIXES, s3_endpoint)
    ids = _ids(entries)
    assert len(ids) == 3 and len(set(ids)) == 3
    assert all(SAFE_ID.match(i) for i in ids)
    contents = sorted(fetch_document(e, fast_policy(), s3_endpoint) for e in entries)
    assert contents == [b"1", b"2", b"3"]


def test_discover_s3_prefix_of_a_missing_bucket_is_a_source_error(s3_endpoint: str) -> None:
    with pytest.raises(SourceError, match="no-such-bucket"):
        discover_s3_prefix("s3://no-such-bucket/posts", BLOG, HTML_SUFFIXES, s3_endpoint)


def test_discover_s3_prefix_refuses_a_local_path(tmp_path: Path, s3_endpoint: str) -> None:
    with pytest.raises(SourceError, match="s3://"):
        discover_s3_prefix(str(tmp_path), BLOG, HTML_SUFFIXES, s3_endpoint)


def test_fetch_document_from_s3_missing_or_too_big(s3_endpoint: str, s3_bucket: str) -> None:
    _put(s3_endpoint, s3_bucket, {"big.html": b"x" * 2000})
    big = CatalogEntry("blog-big", BLOG, f"s3://{s3_bucket}/big.html")
    gone = CatalogEntry("blog-gone", BLOG, f"s3://{s3_bucket}/gone.html")
    with pytest.raises(DocumentError, match="over the 1000"):
        fetch_document(big, fast_policy(max_bytes=1000), s3_endpoint)
    with pytest.raises(DocumentError, match=r"gone\.html"):
        fetch_document(gone, fast_policy(), s3_endpoint)


# URLs ----------------------------------------------------------------------------------------


def test_discover_urls_and_fetch_them(gutendex: FakeGutendex) -> None:
    first = gutendex.serve("/blog/first-post.html", POST)
    second = gutendex.serve("/blog/2024/Second Post.html", b"<p>second</p>")
    root = gutendex.serve("/", b"<p>home</p>")
    entries = discover_urls([first, second, root], BLOG)
    assert [e.locator for e in entries] == [first, second, root]
    assert entries[0].doc_id == "blog-first-post"
    assert all(SAFE_ID.match(i) for i in _ids(entries))
    assert len(set(_ids(entries))) == 3
    assert fetch_document(entries[0], fast_policy()) == POST
    assert fetch_document(entries[1], fast_policy()) == b"<p>second</p>"
    assert fetch_document(entries[2], fast_policy()) == b"<p>home</p>"


def test_discover_urls_with_the_same_name_on_two_paths_get_unique_ids(
    gutendex: FakeGutendex,
) -> None:
    a = gutendex.serve("/a/post.html", b"a")
    b = gutendex.serve("/b/post.html", b"b")
    entries = discover_urls([a, b], BLOG)
    assert len(set(_ids(entries))) == 2
    assert [fetch_document(e, fast_policy()) for e in entries] == [b"a", b"b"]


@pytest.mark.parametrize("url", ["ftp://example.com/post.html", "not a url", "http://", "/p.html"])
def test_discover_urls_refuses_non_http_urls(url: str) -> None:
    with pytest.raises(SourceError):
        discover_urls([url], BLOG)


def test_fetch_document_over_http_404_and_cap(gutendex: FakeGutendex) -> None:
    gone = discover_urls([gutendex.url + "/blog/gone.html"], BLOG)[0]
    big = discover_urls([gutendex.serve("/blog/big.html", b"x" * 5000)], BLOG)[0]
    with pytest.raises(DocumentError, match="HTTP 404"):
        fetch_document(gone, fast_policy())
    with pytest.raises(DocumentError, match="cap"):
        fetch_document(big, fast_policy(max_bytes=4096))
    assert len(gutendex.requests_to("/blog/gone.html")) == 1


def test_fetch_document_over_http_after_retries_fails_as_document_error(
    gutendex: FakeGutendex,
) -> None:
    entry = discover_urls([gutendex.serve("/blog/p.html", POST)], BLOG)[0]
    gutendex.fail_always = True
    with pytest.raises(DocumentError, match="download failed"):
        fetch_document(entry, fast_policy(max_attempts=2))


# Gutendex -------------------------------------------------------------------------------------


def test_gutendex_entries_and_download_from_the_same_server(gutendex: FakeGutendex) -> None:
    gutendex.add_book(84, "Frankenstein", text=b"*** START ***\nIt was on a dreary night.\n")
    gutendex.add_book(345, "Dracula", authors=("Stoker, Bram", "Other, A."), languages=("en", "fr"))
    listing = search_books(
        gutendex.url, topic="horror", languages=("en",), max_books=10, policy=fast_policy()
    )
    entries = gutendex_entries(listing)
    assert _ids(entries) == ["gutenberg-84", "gutenberg-345"]
    assert all(e.source == GUTENBERG for e in entries)
    assert entries[1].title == "Dracula"
    assert entries[1].authors == "Stoker, Bram; Other, A."
    assert entries[1].language == "en,fr"
    assert fetch_document(entries[0], fast_policy()) == (
        b"*** START ***\nIt was on a dreary night.\n"
    )
    assert entries[0].as_row()["locator"] == f"{gutendex.url}/ebooks/84.txt.utf-8"


def test_gutendex_download_404_is_a_document_error(gutendex: FakeGutendex) -> None:
    gutendex.add_book(84)
    listing = search_books(
        gutendex.url, topic=None, languages=(), max_books=10, policy=fast_policy()
    )
    (entry,) = gutendex_entries(listing)
    gutendex.not_found.add("/ebooks/84.txt.utf-8")
    with pytest.raises(DocumentError, match="404"):
        fetch_document(entry, fast_policy())
