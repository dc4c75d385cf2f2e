"""Join the hard line wraps of book prose, so the model does not learn to break lines at
column 70. A paragraph is reflowed only when every line but its last is long (wrapped prose)
and none is indented beyond the paragraph's own margin (but for a paragraph indent of a few
spaces on the first line); verse, tables and centred headings keep their lines. A reflowed
paragraph also loses the typewriter's two spaces between sentences: one space, as in text
the model will be asked to write.

The indentation etexts use for layout goes too: a paragraph's indent, centring, a block's
common indent, a first line set in (verse keeps the indents of its other lines). Left in, a
chunk that opens with spaces teaches the model to open its answers with them, and its first
token merges with the newline that ends a chat prompt, so prompt and answer no longer
tokenize apart."""

from __future__ import annotations

import re
from itertools import chain, compress
from operator import not_

_PARAGRAPHS = re.compile(r"(\n[ \t]*\n+)")
_WRAPPED_SHARE = 0.7  # of the text's typical line width
_PARAGRAPH_INDENT = 4  # spaces before a paragraph's first line, as in many older etexts
_INDENTED_LINE = re.compile(r"\n\s")  # a line after the first that opens with whitespace
_SPACE_RUN = re.compile("  +")


def unwrap_prose(text: str) -> str:
    body = text.strip("\n")  # newlines before the first paragraph and after the last stay
    start = len(text) - len(text.lstrip("\n"))
    parts = _PARAGRAPHS.split(body)  # even indexes are paragraphs, odd are separators
    paragraph_lines = [paragraph.split("\n") for paragraph in parts[::2]]
    # The typical width of the non-blank lines, found without a Python loop over lines.
    lines = list(chain.from_iterable(paragraph_lines))
    lengths = sorted(filter(None, compress(map(len, lines), map(not_, map(str.isspace, lines)))))
    if not lengths:
        return text
    minimum = _WRAPPED_SHARE * lengths[int(0.9 * (len(lengths) - 1))]
    for index, lines in zip(range(0, len(parts), 2), paragraph_lines, strict=True):
        parts[index] = _reflowed(parts[index], lines, minimum)
    return text[:start] + "".join(parts) + text[start + len(body) :]


def _reflowed(paragraph: str, lines: list[str], minimum: float) -> str:
    if len(lines) == 1:
        return paragraph.lstrip()
    if not _INDENTED_LINE.search(paragraph):  # most paragraphs: no line indented but the first
        indent = len(lines[0]) - len(lines[0].lstrip(" "))
        if (
            indent <= _PARAGRAPH_INDENT
            and not lines[0][indent : indent + 1].isspace()
            and min(map(len, lines[:-1])) >= minimum
        ):
            return _joined(lines)
        return paragraph[len(lines[0]) - len(lines[0].lstrip()) :]  # the first line's indent
    lines = _without_margin(lines)
    # A first line indented by a few spaces opens a paragraph; it is not a block quote.
    indent = len(lines[0]) - len(lines[0].lstrip(" "))
    if (
        indent <= _PARAGRAPH_INDENT
        and all(len(line) >= minimum for line in lines[:-1])
        and not any(line[:1].isspace() for line in [lines[0][indent:], *lines[1:]])
    ):
        return _joined(lines)
    # A first line set in further than the rest is centred (the rest keep their indents).
    return "\n".join([lines[0].lstrip(), *lines[1:]])


def _joined(lines: list[str]) -> str:
    paragraph = " ".join(map(str.strip, lines))
    return _SPACE_RUN.sub(" ", paragraph) if "  " in paragraph else paragraph


def _without_margin(lines: list[str]) -> list[str]:
    """The lines less the indent they all share (tabs and spaces alike)."""
    if not lines[0][:1].isspace():  # most paragraphs: no margin to share
        return lines
    margin = min((len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()), default=0)
    return [line[margin:] for line in lines] if margin else lines
