"""document_id: safe, bounded, collision-free and stable."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmft_assets.sources.naming import MAX_ID_CHARS, document_id

SAFE = re.compile(r"^[a-z0-9._-]+$")

AWKWARD_NAMES = [
    "My Post!.html",
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    "/absolute/path",
    ".hidden",
    "..",
    ".",
    "",
    "   ",
    "a/b",
    "a\\b",
    "ünïcödé",
    "日本語のタイトル",
    "emoji 😀 title",
    "tab\tnew\nline\x00nul",
    "CON",
    "x" * 500,
    "Ünïcödé " * 40,
    "surrogate \udcff",
    "%2e%2e%2fetc",
    "?query=1&x=2#frag",
]


@pytest.mark.parametrize("name", AWKWARD_NAMES)
@pytest.mark.parametrize("source", ["blog", "gutenberg"])
def test_ids_are_safe_and_bounded(source: str, name: str) -> None:
    doc_id = document_id(source, name)
    assert SAFE.match(doc_id), doc_id
    assert doc_id.startswith(f"{source}-")
    assert len(doc_id) <= MAX_ID_CHARS
    rest = doc_id.removeprefix(f"{source}-")
    assert rest and not rest.startswith((".", "-"))
    assert "/" not in doc_id and "\\" not in doc_id


@pytest.mark.parametrize("name", ["../../etc/passwd", "..", "../x", "a/../../b", "/etc/passwd"])
def test_traversal_names_stay_inside_a_folder(tmp_path: Path, name: str) -> None:
    doc_id = document_id("blog", name)
    assert doc_id not in (".", "..")
    target = (tmp_path / doc_id).resolve()
    assert target.parent == tmp_path.resolve()


def test_different_unsafe_names_do_not_collide() -> None:
    names = [
        "My Post!",
        "My Post?",
        "my post",
        "my-post",
        "MY-POST",
        "my--post",
        "my_post",
        "../my-post",
        "my/post",
        "ünïcödé",
        "ünïcödè",
        "日本",
        "中文",
        "",
        " ",
        "x" * 300,
        "x" * 301,
        "x" * 300 + "y",
        "y" + "x" * 300,
    ]
    ids = [document_id("blog", n) for n in names]
    assert len(set(ids)) == len(names), sorted(ids)


def test_ids_are_stable_and_safe_names_are_kept() -> None:
    assert document_id("blog", "My Post!.html") == document_id("blog", "My Post!.html")
    assert document_id("blog", "parquet-is-not-magic") == "blog-parquet-is-not-magic"
    assert document_id("gutenberg", "345") == "gutenberg-345"
    assert document_id("blog", "v1.2_final") == "blog-v1.2_final"
    # A known value pins the id across releases: partition keys must not change.
    # Known values pin ids across releases: they are partition keys and storage keys.
    assert document_id("blog", "My Post!.html") == "blog-my-post-.html-5d09a3fe"
    assert document_id("blog", "") == "blog-e3b0c442"


def test_readable_part_survives_sanitizing() -> None:
    doc_id = document_id("blog", "Stop Reaching For Spark!")
    assert doc_id.startswith("blog-stop-reaching-for-spark-")
    assert re.fullmatch(r"blog-stop-reaching-for-spark-[0-9a-f]{8}", doc_id)


def test_same_name_in_different_sources_differs() -> None:
    assert document_id("blog", "345") != document_id("gutenberg", "345")
