"""search_books against a Gutendex-shaped server on 127.0.0.1."""

from __future__ import annotations

import pytest

from llmft_assets.errors import SourceError
from llmft_assets.sources.gutendex import pick_text_format, search_books
from llmft_assets_tests.gutendex_server import FakeGutendex, fast_policy


def _search(server: FakeGutendex, **kwargs: object):
    options: dict[str, object] = {
        "topic": "horror",
        "languages": ("en",),
        "max_books": 100,
        "policy": fast_policy(),
    }
    options.update(kwargs)
    return search_books(server.url, **options)  # type: ignore[arg-type]


def test_pagination_follows_next_until_max_books(gutendex: FakeGutendex) -> None:
    gutendex.page_size = 4
    for book_id in range(1, 12):  # 11 books: pages of 4, 4, 3
        gutendex.add_book(book_id)
    listing = _search(gutendex, max_books=6)
    assert [b.book_id for b in listing.books] == [1, 2, 3, 4, 5, 6]
    pages = [r.param("page") for r in gutendex.requests_to("/books")]
    assert pages == [None, "2"]  # the third page was not needed


def test_pagination_reads_every_page_when_max_books_is_large(gutendex: FakeGutendex) -> None:
    gutendex.page_size = 3
    for book_id in range(1, 9):
        gutendex.add_book(book_id)
    listing = _search(gutendex, max_books=1000)
    assert [b.book_id for b in listing.books] == list(range(1, 9))
    assert [r.param("page") for r in gutendex.requests_to("/books")] == [None, "2", "3"]


def test_query_parameters_are_sent_and_filter_the_results(gutendex: FakeGutendex) -> None:
    gutendex.add_book(1, languages=("en",), subjects=("Horror tales",))
    gutendex.add_book(2, languages=("fr",), subjects=("Vampires -- Fiction",), bookshelves=())
    gutendex.add_book(3, languages=("de",), subjects=("Horror tales",))
    gutendex.add_book(4, languages=("en",), subjects=("Sea stories",), bookshelves=("Adventure",))
    gutendex.add_book(5, languages=("fr",), formats={"text/html": gutendex.url + "/5.html"})
    listing = _search(gutendex, topic="horror", languages=("en", "fr"), mime_type="text/plain")
    assert [b.book_id for b in listing.books] == [1]
    (seen,) = gutendex.requests_to("/books")
    assert seen.query == {
        "topic": ["horror"],
        "languages": ["en,fr"],
        "mime_type": ["text/plain"],
    }
    assert "mime-type" not in seen.query  # the hyphenated spelling is ignored by Gutendex


def test_no_topic_and_no_languages_send_only_the_mime_type(gutendex: FakeGutendex) -> None:
    gutendex.add_book(1, subjects=("Sea stories",), bookshelves=(), languages=("fi",))
    listing = _search(gutendex, topic=None, languages=())
    assert [b.book_id for b in listing.books] == [1]
    (seen,) = gutendex.requests_to("/books")
    assert seen.query == {"mime_type": ["text/plain"]}


def test_book_fields_are_parsed(gutendex: FakeGutendex) -> None:
    gutendex.add_book(
        345,
        "Dracula",
        authors=("Stoker, Bram", "Editor, An"),
        languages=("en", "fr"),
        subjects=("Horror tales", "Vampires -- Fiction"),
    )
    (book,) = _search(gutendex).books
    assert book.book_id == 345
    assert book.title == "Dracula"
    assert book.authors == ("Stoker, Bram", "Editor, An")
    assert book.languages == ("en", "fr")
    assert book.text_url == f"{gutendex.url}/ebooks/345.txt.utf-8"


def test_utf8_text_is_preferred_and_zip_only_books_are_skipped(gutendex: FakeGutendex) -> None:
    base = gutendex.url
    gutendex.add_book(
        1,
        formats={
            "text/plain; charset=us-ascii": f"{base}/files/1/1.txt",
            "text/plain; charset=utf-8": f"{base}/files/1/1-0.txt",
            "text/plain": f"{base}/ebooks/1.txt.utf-8",
            "text/html": f"{base}/ebooks/1.html.images",
        },
    )
    gutendex.add_book(
        2,
        formats={
            "text/plain; charset=us-ascii": f"{base}/files/2/2.txt",
            "text/plain": f"{base}/ebooks/2.txt.utf-8",
        },
    )
    gutendex.add_book(3, formats={"text/plain; charset=us-ascii": f"{base}/ebooks/3.txt.utf-8"})
    gutendex.add_book(
        4,
        formats={
            "text/plain; charset=us-ascii": f"{base}/files/4/4.zip",
            "text/plain; charset=utf-8": f"{base}/files/4/4-0.ZIP",
            "text/html": f"{base}/ebooks/4.html.images",
        },
    )
    gutendex.add_book(5, formats={"text/plain": f"{base}/files/5/5.txt"})
    listing = _search(gutendex)
    urls = {b.book_id: b.text_url for b in listing.books}
    assert urls == {
        1: f"{base}/files/1/1-0.txt",
        2: f"{base}/ebooks/2.txt.utf-8",
        3: f"{base}/ebooks/3.txt.utf-8",
        5: f"{base}/files/5/5.txt",
    }
    assert set(listing.skipped) == {4}
    assert "zip" in listing.skipped[4]


def test_skipped_books_do_not_count_towards_max_books(gutendex: FakeGutendex) -> None:
    gutendex.page_size = 2
    zipped = {"text/plain; charset=utf-8": gutendex.url + "/files/x.zip"}
    gutendex.add_book(1, formats=zipped)
    gutendex.add_book(2, formats=zipped)
    gutendex.add_book(3)
    gutendex.add_book(4)
    listing = _search(gutendex, max_books=2)
    assert [b.book_id for b in listing.books] == [3, 4]
    assert set(listing.skipped) == {1, 2}


def test_pick_text_format_ignores_other_types_and_case() -> None:
    assert pick_text_format({"text/html": "h", "application/epub+zip": "e"}) is None
    assert pick_text_format({"Text/Plain; Charset=UTF-8": "u", "text/plain": "p"}) == "u"
    assert pick_text_format({"text/plain; charset=iso-8859-1": "l", "text/plain": "p"}) == "p"
    assert pick_text_format({"text/plain": 17, "text/plain; charset=us-ascii": "a"}) == "a"


def test_malformed_json_is_a_source_error_naming_the_url(gutendex: FakeGutendex) -> None:
    gutendex.add_book(1)
    gutendex.malformed_json = True
    with pytest.raises(SourceError) as raised:
        _search(gutendex)
    assert gutendex.url in str(raised.value)
    assert "malformed JSON" in str(raised.value)


def test_json_without_results_is_a_source_error(gutendex: FakeGutendex) -> None:
    # A server mounted under /alt whose listing is an error object, not a page.
    url = gutendex.url + "/alt"
    gutendex.serve("/alt/books", b'{"detail": "Invalid page."}')
    with pytest.raises(SourceError, match="results"):
        search_books(url, topic=None, languages=(), max_books=5, policy=fast_policy())


def test_a_server_that_always_fails_is_a_source_error_naming_the_url(
    gutendex: FakeGutendex,
) -> None:
    gutendex.add_book(1)
    gutendex.fail_always = True
    with pytest.raises(SourceError) as raised:
        _search(gutendex, policy=fast_policy(max_attempts=2))
    assert gutendex.url + "/books?" in str(raised.value)
    assert len(gutendex.requests_to("/books")) == 2


def test_a_transient_failure_is_retried(gutendex: FakeGutendex) -> None:
    gutendex.add_book(1)
    gutendex.fail_next = 1
    assert [b.book_id for b in _search(gutendex).books] == [1]
    assert len(gutendex.requests_to("/books")) == 2


def test_next_on_the_real_host_is_used_only_for_its_query(gutendex: FakeGutendex) -> None:
    """`next` names https://gutendex.com, as the real API does; all pages come from here."""
    gutendex.page_size = 2
    for book_id in range(1, 6):
        gutendex.add_book(book_id)
    listing = _search(gutendex)
    assert [b.book_id for b in listing.books] == [1, 2, 3, 4, 5]
    seen = gutendex.requests_to("/books")
    assert [r.param("page") for r in seen] == [None, "2", "3"]
    assert all(r.param("topic") == "horror" for r in seen)


def test_next_pointing_at_another_host_is_not_followed_there(
    gutendex: FakeGutendex, other_host: FakeGutendex
) -> None:
    gutendex.page_size = 2
    gutendex.next_base = other_host.url  # a `next` that points somewhere else entirely
    for book_id in range(1, 5):
        gutendex.add_book(book_id)
    other_host.add_book(99)
    listing = _search(gutendex)
    assert [b.book_id for b in listing.books] == [1, 2, 3, 4]
    assert other_host.requests == []
    assert [r.param("page") for r in gutendex.requests_to("/books")] == [None, "2"]
