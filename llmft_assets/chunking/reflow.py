"""Join the hard line wraps of book prose, so the model does not learn to break lines at
column 70. A paragraph is reflowed only when every line but its last is long (wrapped prose)
and none is indented; verse, tables and indented quotations keep their lines."""

from __future__ import annotations

import re

_PARAGRAPHS = re.compile(r"(\n[ \t]*\n+)")
_WRAPPED_SHARE = 0.7  # of the text's typical line width


def unwrap_prose(text: str) -> str:
    lengths = sorted(len(line) for line in text.split("\n") if line.strip())
    if not lengths:
        return text
    width = lengths[int(0.9 * (len(lengths) - 1))]
    minimum = _WRAPPED_SHARE * width
    parts = _PARAGRAPHS.split(text)
    for index in range(0, len(parts), 2):  # even indexes are paragraphs, odd are separators
        lines = parts[index].split("\n")
        if (
            len(lines) > 1
            and all(len(line) >= minimum for line in lines[:-1])
            and not any(line[:1].isspace() for line in lines)
        ):
            parts[index] = " ".join(line.strip() for line in lines)
    return "".join(parts)
