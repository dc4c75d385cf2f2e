"""Join the hard line wraps of book prose, so the model does not learn to break lines at
column 70. A paragraph is reflowed only when every line but its last is long (wrapped prose)
and none is indented (but for a paragraph indent of a few spaces on the first line); verse,
tables, centred headings and indented quotations keep their lines."""

from __future__ import annotations

import re

_PARAGRAPHS = re.compile(r"(\n[ \t]*\n+)")
_WRAPPED_SHARE = 0.7  # of the text's typical line width
_PARAGRAPH_INDENT = 4  # spaces before a paragraph's first line, as in many older etexts


def unwrap_prose(text: str) -> str:
    lengths = sorted(len(line) for line in text.split("\n") if line.strip())
    if not lengths:
        return text
    width = lengths[int(0.9 * (len(lengths) - 1))]
    minimum = _WRAPPED_SHARE * width
    parts = _PARAGRAPHS.split(text)
    for index in range(0, len(parts), 2):  # even indexes are paragraphs, odd are separators
        lines = parts[index].split("\n")
        # A first line indented by a few spaces opens a paragraph; it is not a block quote.
        indent = len(lines[0]) - len(lines[0].lstrip(" "))
        if (
            len(lines) > 1
            and indent <= _PARAGRAPH_INDENT
            and all(len(line) >= minimum for line in lines[:-1])
            and not any(line[:1].isspace() for line in [lines[0][indent:], *lines[1:]])
        ):
            parts[index] = lines[0][:indent] + " ".join(line.strip() for line in lines)
    return "".join(parts)
