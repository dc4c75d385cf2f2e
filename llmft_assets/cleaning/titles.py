"""Readable titles from file names and shouting capitals, when a document names itself no
better."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

_SUBSTACK_NAME = re.compile(r"^\d+\.(?P<slug>[A-Za-z0-9-]+)$")
_LOWERCASE_WORDS = frozenset(
    {"a", "an", "and", "as", "at", "but", "by", "for", "from", "in", "into", "nor", "of", "on"}
    | {"or", "over", "the", "to", "via", "vs", "with"}
)


def title_case(words: list[str]) -> str:
    """Capitalize each word but the small ones after the first: `THE CALL OF CTHULHU` ->
    `The Call of Cthulhu`, `LANTERN-MAKER'S` -> `Lantern-maker's`."""
    return " ".join(
        w.lower() if i and w.lower() in _LOWERCASE_WORDS else w[:1].upper() + w[1:].lower()
        for i, w in enumerate(words)
    )


def title_from_file_name(file_name: str | None) -> str | None:
    """`89014957.data-engineer-vs-senior-data-engineer.html` -> `Data Engineer vs Senior ...`."""
    if not file_name:
        return None
    stem = PurePosixPath(file_name).stem
    match = _SUBSTACK_NAME.match(stem)
    words = (match.group("slug") if match else stem).replace("_", "-").split("-")
    words = [w for w in words if w]
    return title_case(words) if words else None
