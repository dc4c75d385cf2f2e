"""Notes: plain `.txt` and Markdown `.md` files from a folder, kept as the author wrote them.

Off unless a folder is configured (`LLMFT_NOTES_FOLDER`): with none it offers nothing. Notes
are not reflowed (their line breaks are the author's: Markdown lists, code, short lines), and
a training request asks for "a note".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from llmft_assets.cleaning.documents import DocumentKind
from llmft_assets.sources.catalog import discover_folder
from llmft_assets.sources.policy import MIB
from llmft_assets.sources.source import Discovery, Source, SourceSettings

NOTE_SUFFIXES = (".txt", ".md")


class NotesSettings(SourceSettings):
    """Notes as .txt or .md files in a folder; none when no folder is set."""

    folder: str | None = Field(default=None, description="A folder of .txt and .md notes.")
    max_bytes: int = Field(default=5 * MIB, description="Documents larger than this are set aside.")

    def discover(self) -> Discovery:
        if not self.folder:
            return Discovery([])
        return Discovery(discover_folder(Path(self.folder), NOTES.name, NOTE_SUFFIXES))


def _from_environment(env: Mapping[str, str]) -> dict[str, Any]:
    return {"folder": env.get("LLMFT_NOTES_FOLDER") or None}


NOTES = Source(
    name="notes",
    raw_asset="notes_text",
    partitions="note_batches",
    raw_suffix=".txt",
    kind=DocumentKind.TEXT,
    reflows=False,
    request="note",
    plural="notes",
    catalog_count="notes",
    description="Raw text of each note (.txt or .md), as read from the notes folder.",
    asset_kinds=frozenset({"text"}),
    settings=NotesSettings,
    from_environment=_from_environment,
)
