"""A plain-text or Markdown note, kept as its author wrote it.

Markdown stays Markdown (lists, emphasis and code are text a model can learn to write); only
what is about the note rather than in it goes: YAML front matter (its `title:` becomes the
title) and a first-line `# Heading` when it is the title (no front matter title). Lines
lose trailing whitespace, and runs of blank lines shrink to one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from llmft_assets.errors import DocumentError

MIN_NOTE_CHARS = 40
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(?P<body>.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_MATTER_TITLE = re.compile(r"^title[ \t]*:[ \t]*(?P<title>.+?)[ \t]*$", re.M | re.I)
_HEADING = re.compile(r"\A[ \t]*#[ \t]+(?P<title>[^\n]+?)[ \t#]*(?:\n|\Z)")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Note:
    title: str  # empty when the note names none
    text: str


def clean_note(text: str) -> Note:
    """Title and text of a decoded, LF-normalized note; DocumentError if too little is left."""
    title = ""
    front_matter = _FRONT_MATTER.match(text)
    if front_matter:
        found = _FRONT_MATTER_TITLE.search(front_matter.group("body"))
        title = found.group("title").strip("'\"") if found else ""
        text = text[front_matter.end() :]
    text = text.lstrip("\n")
    heading = _HEADING.match(text)
    if heading and not title:
        title = heading.group("title")
        text = text[heading.end() :]
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip("\n")
    if len(text.strip()) < MIN_NOTE_CHARS:
        raise DocumentError(f"only {len(text.strip())} characters of text in the note")
    return Note(title=title, text=text)
