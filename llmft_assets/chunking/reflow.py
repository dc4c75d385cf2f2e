"""Join the hard line wraps of book prose, so the model does not learn to break lines at
column 70. A paragraph is reflowed only when every line but its last is long (wrapped prose)
and none is indented beyond the paragraph's own margin (but for a paragraph indent of a few
spaces on the first line); verse, tables and centred headings keep their lines.

The indentation etexts use for layout goes too: a paragraph's indent, centring, a block's
common indent, a first line set in (verse keeps the indents of its other lines). Left in, a
chunk that opens with spaces teaches the model to open its answers with them, and its first
token merges with the newline that ends a chat prompt, so prompt and answer no longer
tokenize apart."""

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
    body = text.strip("\n")  # newlines before the first paragraph and after the last stay
    start = len(text) - len(text.lstrip("\n"))
    parts = _PARAGRAPHS.split(body)
    for index in range(0, len(parts), 2):  # even indexes are paragraphs, odd are separators
        lines = _without_margin(parts[index].split("\n"))
        # A first line indented by a few spaces opens a paragraph; it is not a block quote.
        indent = len(lines[0]) - len(lines[0].lstrip(" "))
        if (
            len(lines) > 1
            and indent <= _PARAGRAPH_INDENT
            and all(len(line) >= minimum for line in lines[:-1])
            and not any(line[:1].isspace() for line in [lines[0][indent:], *lines[1:]])
        ):
            parts[index] = " ".join(line.strip() for line in lines)
        else:  # a first line set in further than the rest is centred or a verse's indent
            lines[0] = lines[0].lstrip()
            parts[index] = "\n".join(lines)
    return text[:start] + "".join(parts) + text[start + len(body) :]


def _without_margin(lines: list[str]) -> list[str]:
    """The lines less the indent they all share (tabs and spaces alike)."""
    if not lines[0][:1].isspace():  # most paragraphs: no margin to share
        return lines
    margin = min((len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()), default=0)
    return [line[margin:] for line in lines] if margin else lines
