"""Gutendex-shaped servers for the source tests (see llmft_assets_tests/gutendex_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from llmft_assets_tests.gutendex_server import FakeGutendex, running


@pytest.fixture
def gutendex() -> Iterator[FakeGutendex]:
    """A Gutendex-shaped server (listing and book files) on 127.0.0.1."""
    with running(FakeGutendex()) as state:
        yield state


@pytest.fixture
def other_host() -> Iterator[FakeGutendex]:
    """A second server, to prove that nothing is ever sent to it."""
    with running(FakeGutendex()) as state:
        yield state
