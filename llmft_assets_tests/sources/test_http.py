"""fetch_bytes against a real HTTP server on 127.0.0.1: retries, give-ups, timeouts, size cap."""

from __future__ import annotations

import pytest

from llmft_assets.sources.http import FetchError, fetch_bytes
from llmft_assets_tests.conftest import free_port
from llmft_assets_tests.gutendex_server import FakeGutendex, Served, fast_policy

BODY = b"It was a dark and stormy night.\n" * 20


def test_plain_download_returns_the_body(gutendex: FakeGutendex) -> None:
    url = gutendex.serve("/files/a.txt", BODY)
    assert fetch_bytes(url, fast_policy()) == BODY
    assert len(gutendex.requests_to("/files/a.txt")) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_errors_are_retried_until_the_server_recovers(
    gutendex: FakeGutendex, status: int
) -> None:
    url = gutendex.serve("/files/a.txt", BODY)
    gutendex.fail_status = status
    gutendex.fail_next = 2
    assert fetch_bytes(url, fast_policy(max_attempts=3)) == BODY
    assert len(gutendex.requests_to("/files/a.txt")) == 3


def test_gives_up_after_max_attempts(gutendex: FakeGutendex) -> None:
    url = gutendex.serve("/files/a.txt", BODY)
    gutendex.fail_always = True
    with pytest.raises(FetchError) as raised:
        fetch_bytes(url, fast_policy(max_attempts=4))
    assert url in str(raised.value)
    assert "4 attempts" in str(raised.value)
    assert "HTTP 500" in str(raised.value)
    assert len(gutendex.requests_to("/files/a.txt")) == 4


def test_one_transient_error_too_many_is_a_failure(gutendex: FakeGutendex) -> None:
    url = gutendex.serve("/files/a.txt", BODY)
    gutendex.fail_next = 3
    with pytest.raises(FetchError):
        fetch_bytes(url, fast_policy(max_attempts=3))
    assert len(gutendex.requests_to("/files/a.txt")) == 3


@pytest.mark.parametrize("status", [404, 403, 410])
def test_client_errors_are_not_retried(gutendex: FakeGutendex, status: int) -> None:
    url = gutendex.serve("/files/a.txt", BODY)
    if status == 404:
        gutendex.not_found.add("/files/a.txt")
    else:
        gutendex.fail_always, gutendex.fail_status = True, status
    with pytest.raises(FetchError, match=f"HTTP {status}"):
        fetch_bytes(url, fast_policy(max_attempts=5))
    assert len(gutendex.requests_to("/files/a.txt")) == 1


def test_a_missing_file_is_a_404_failure_named_by_url(gutendex: FakeGutendex) -> None:
    url = gutendex.url + "/files/nothing-here.txt"
    with pytest.raises(FetchError) as raised:
        fetch_bytes(url, fast_policy())
    assert url in str(raised.value)
    assert len(gutendex.requests) == 1


def test_a_timeout_is_retried_and_can_then_succeed(gutendex: FakeGutendex) -> None:
    url = gutendex.serve("/files/a.txt", BODY)
    gutendex.hang_next = 1
    assert fetch_bytes(url, fast_policy(timeout_s=0.5, max_attempts=2)) == BODY
    assert len(gutendex.requests_to("/files/a.txt")) == 2


def test_a_server_that_always_hangs_gives_a_fetch_error(gutendex: FakeGutendex) -> None:
    url = gutendex.serve("/files/a.txt", BODY)
    gutendex.hang_always = True
    with pytest.raises(FetchError) as raised:
        fetch_bytes(url, fast_policy(timeout_s=0.3, max_attempts=3))
    assert "3 attempts" in str(raised.value)
    assert "Timeout" in str(raised.value)
    assert len(gutendex.requests_to("/files/a.txt")) == 3


def test_a_body_that_stalls_midway_is_retried(gutendex: FakeGutendex) -> None:
    url = gutendex.serve("/files/a.txt", BODY)
    gutendex.stall_body_next = 1
    assert fetch_bytes(url, fast_policy(timeout_s=0.5, max_attempts=2)) == BODY
    assert len(gutendex.requests_to("/files/a.txt")) == 2


def test_a_connection_refused_is_a_fetch_error_after_retries() -> None:
    url = f"http://127.0.0.1:{free_port()}/files/a.txt"  # nothing listens there
    with pytest.raises(FetchError, match="2 attempts"):
        fetch_bytes(url, fast_policy(max_attempts=2))


def test_size_cap_by_declared_content_length(gutendex: FakeGutendex) -> None:
    url = gutendex.serve("/files/big.txt", Served(b"x" * 5000, send_length=True))
    with pytest.raises(FetchError, match="5000 bytes, over the 4096-byte cap"):
        fetch_bytes(url, fast_policy(max_bytes=4096, max_attempts=3))
    # Over the cap is final: retrying would download the same thing again.
    assert len(gutendex.requests_to("/files/big.txt")) == 1


def test_size_cap_by_streamed_body_without_content_length(gutendex: FakeGutendex) -> None:
    big = b"y" * (300 * 1024)
    url = gutendex.serve("/files/big.txt", Served(big, send_length=False))
    with pytest.raises(FetchError, match="exceeds the 100000-byte cap"):
        fetch_bytes(url, fast_policy(max_bytes=100_000, max_attempts=3))
    assert len(gutendex.requests_to("/files/big.txt")) == 1


def test_a_body_exactly_at_the_cap_is_accepted(gutendex: FakeGutendex) -> None:
    exact = b"z" * 4096
    with_length = gutendex.serve("/files/a.txt", Served(exact, send_length=True))
    streamed = gutendex.serve("/files/b.txt", Served(exact, send_length=False))
    assert fetch_bytes(with_length, fast_policy(max_bytes=4096)) == exact
    assert fetch_bytes(streamed, fast_policy(max_bytes=4096)) == exact


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/pub/book.txt",
        "s3://bucket/key.txt",
        "/etc/passwd",
        "gopher://127.0.0.1:70/1",
    ],
)
def test_non_http_schemes_are_refused(url: str) -> None:
    with pytest.raises(FetchError, match="non-HTTP"):
        fetch_bytes(url, fast_policy())
