"""The notes source: .txt and .md files from a folder, nothing when none is configured."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmft_assets.errors import DocumentError, SourceError
from llmft_assets.sources.catalog import SAMPLE_DATA
from llmft_assets.sources.notes import NOTES, NotesSettings
from llmft_assets_tests.hostile_files import make_hostile_files


def test_without_a_folder_the_source_offers_nothing() -> None:
    assert NotesSettings().discover().entries == []
    assert NOTES.from_environment({}) == {"folder": None}


def test_notes_are_the_txt_and_md_files_of_the_folder(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE_DATA / "notes", tmp_path / "notes")
    (tmp_path / "notes" / "image.png").write_bytes(b"\x89PNG")
    (tmp_path / "notes" / "sub.md").mkdir()
    settings = NotesSettings(
        **NOTES.from_environment({"LLMFT_NOTES_FOLDER": str(tmp_path / "notes")})
    )
    entries = settings.discover().entries
    assert [e.doc_id for e in entries] == [
        "notes-backfills-without-tears",
        "notes-on-naming-tables",
        "notes-reading-query-plans",
    ]
    assert all(e.source == "notes" for e in entries)
    assert settings.fetch(entries[1]) == (tmp_path / "notes" / "on-naming-tables.txt").read_bytes()


def test_a_missing_folder_is_a_source_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no-such-folder"):
        NotesSettings(folder=str(tmp_path / "no-such-folder")).discover()


def test_hostile_files_in_the_folder_are_listed_then_refused_with_a_reason(tmp_path: Path) -> None:
    hostile = make_hostile_files(tmp_path / "notes", ".md")
    settings = NotesSettings(folder=str(tmp_path / "notes"))
    entries = {Path(e.locator).stem: e for e in settings.discover().entries}
    assert set(entries) == set(hostile) - {"directory"}  # a folder is not a note
    reasons = {}
    for kind, entry in entries.items():
        if kind == "proc-file":  # under the default cap; refused with a small one below
            continue
        with pytest.raises(DocumentError) as caught:
            settings.fetch(entry)
        reasons[kind] = str(caught.value)
    assert "a FIFO" in reasons["fifo"] and "a FIFO" in reasons["link-to-fifo"]
    assert "a character device" in reasons["dev-zero"]
    assert "over the 5242880-byte cap" in reasons["sparse"]
    small = NotesSettings(folder=str(tmp_path / "notes"), max_bytes=100)
    with pytest.raises(DocumentError, match="more than 100 bytes"):
        small.fetch(entries["proc-file"])
