"""The one bounded reader of local files: regular files only, a cap on the bytes actually
read, a deadline."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from llmft_assets.errors import DocumentError
from llmft_assets.sources.policy import FetchPolicy
from llmft_assets.sources.reading import read_file
from llmft_assets_tests.hostile_files import make_hostile_files

CAP = FetchPolicy(max_bytes=1000)


def read_within_seconds(path: Path, policy: FetchPolicy, seconds: float = 10.0) -> bytes:
    """read_file in a thread, so a read that blocks fails the test instead of hanging it."""
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(read_file(path, policy))
        except Exception as error:  # handed to the test below
            outcome.append(error)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"reading {path} blocked for {seconds} s"
    if isinstance(outcome[0], Exception):
        raise outcome[0]
    return outcome[0]  # type: ignore[return-value]


def test_a_regular_file_and_a_link_to_one_are_read_whole(tmp_path: Path) -> None:
    (tmp_path / "post.html").write_bytes(b"a" * 1000)
    (tmp_path / "link.html").symlink_to(tmp_path / "post.html")
    assert read_file(tmp_path / "post.html", CAP) == b"a" * 1000
    assert read_file(tmp_path / "link.html", CAP) == b"a" * 1000


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("fifo", "a FIFO"),
        ("link-to-fifo", "a FIFO"),
        ("dev-zero", "a character device"),
        ("directory", "a directory"),
        ("sparse", "over the 52428800-byte cap"),
    ],
)
def test_what_is_not_a_readable_document_is_refused_without_blocking(
    tmp_path: Path, kind: str, reason: str
) -> None:
    path = make_hostile_files(tmp_path, ".txt")[kind]
    with pytest.raises(DocumentError, match=reason):
        read_within_seconds(path, FetchPolicy())


def test_the_cap_counts_bytes_read_not_the_size_a_file_reports(tmp_path: Path) -> None:
    path = make_hostile_files(tmp_path, ".txt")["proc-file"]
    assert os.stat(path).st_size == 0 and len(Path("/proc/self/maps").read_bytes()) > 1000
    with pytest.raises(DocumentError, match="more than 1000 bytes, over the 1000-byte cap"):
        read_file(path, CAP)


def test_a_file_one_byte_over_the_cap_is_refused(tmp_path: Path) -> None:
    (tmp_path / "big.txt").write_bytes(b"b" * 1001)
    with pytest.raises(DocumentError, match="1001 bytes, over the 1000-byte cap"):
        read_file(tmp_path / "big.txt", CAP)


def test_a_read_past_its_deadline_is_refused(tmp_path: Path) -> None:
    (tmp_path / "slow.txt").write_bytes(b"c" * 100)
    with pytest.raises(DocumentError, match="deadline"):
        read_file(tmp_path / "slow.txt", FetchPolicy(deadline_s=0.0))


def test_a_missing_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_file(tmp_path / "gone.txt", CAP)
