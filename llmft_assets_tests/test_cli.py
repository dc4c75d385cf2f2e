"""`python -m llmft_assets clean`: the cleaning core on files, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from llmft_assets_tests.deployment import SAMPLE_DATA
from llmft_assets_tests.hostile_files import make_hostile_files

POST = SAMPLE_DATA / "blog_posts" / "89014957.data-engineer-vs-senior-data-engineer.html"
BOOK = SAMPLE_DATA / "gutenberg" / "pg68283-orig_call-of-cthulhu_2022.txt"


def clean(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmft_assets", "clean", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_prints_each_files_cleaned_text_and_a_clear_error_for_a_bad_one(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")
    result = clean(str(POST), str(broken), str(BOOK))
    assert result.returncode == 1  # one file failed
    assert f"error: {broken}: binary content" in result.stderr
    out = result.stdout
    assert f"==> {POST} (html): Data Engineer vs Senior Data Engineer <==" in out
    assert f"==> {BOOK} (gutenberg): The call of Cthulhu <==" in out
    assert "reader-supported publication" not in out  # the subscribe widget is gone
    assert "PROJECT GUTENBERG" not in out.upper()
    assert "Of such great powers or beings" in out  # the book's text follows its error


def test_jsonl_gives_one_object_per_file_with_text_or_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = clean("--jsonl", str(BOOK), str(empty), str(tmp_path / "missing.html"))
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == [str(BOOK), str(empty), str(tmp_path / "missing.html")]
    assert records[0]["kind"] == "gutenberg" and records[0]["title"] == "The call of Cthulhu"
    assert records[0]["text"].startswith("The CALL of CTHULHU")
    assert "empty document" in records[1]["error"]
    assert records[2]["error"] == "No such file or directory"
    assert result.returncode == 1


def test_kind_overrides_detection() -> None:
    result = clean("--jsonl", "--kind", "gutenberg", str(POST))
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["kind"] == "gutenberg"
    assert "<p>" in record["text"]  # taken as plain text, markup and all
    assert result.returncode == 0


def test_pipeline_needs_a_dagster_home() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    result = subprocess.run(
        [sys.executable, "-m", "llmft_assets", "pipeline"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 2 and "set DAGSTER_HOME" in result.stderr


def test_every_hostile_file_gets_an_error_and_the_files_after_it_still_print(
    tmp_path: Path,
) -> None:
    hostile = make_hostile_files(tmp_path / "hostile", ".txt")
    site_only = tmp_path / "cookie-banner.html"
    site_only.write_text(
        "<html><body><nav><a href='/'>Home</a> <a href='/about'>About</a></nav><div><p>We use"
        " cookies to improve your experience on our website. By continuing to browse you agree"
        " to our use of cookies.</p></div><footer>© 2024 Example. All rights reserved.</footer>"
        "</body></html>"
    )
    book = BOOK.read_text(encoding="utf-8-sig")
    licence_only = tmp_path / "licence-only.txt"
    start, end = book.index("*** START OF"), book.index("*** END OF")
    licence_only.write_text(book[:start] + book[book.index("\n", end) :], encoding="utf-8")
    bad = [*(p for k, p in hostile.items() if k != "proc-file"), site_only, licence_only]
    args = [str(p) for path in bad for p in (path, POST)]
    result = clean("--jsonl", *args)  # a FIFO opened for reading would block: the timeout fails it
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["path"] for r in records] == args
    errors = {Path(r["path"]).name: r["error"] for r in records[0::2]}
    assert all("text" in r and r["title"] for r in records[1::2])  # the post after each
    assert "a FIFO" in errors["fifo.txt"] and "a FIFO" in errors["link-to-fifo.txt"]
    assert "a character device" in errors["dev-zero.txt"]
    assert "a directory" in errors["directory.txt"]
    assert "over the 52428800-byte cap" in errors["sparse.txt"]
    assert "no article text" in errors["cookie-banner.html"]
    assert "Project Gutenberg header and licence" in errors["licence-only.txt"]
    assert result.returncode == 1
