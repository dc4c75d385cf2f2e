"""The author's text of a Project Gutenberg book, without header, licence and footer.

Marker styles changed over three decades; this handles them by kind rather than by era:
- header ends: `*** START OF THE/THIS PROJECT GUTENBERG EBOOK ... ***` (any spacing, any
  indentation, split over two lines, "EBOOK"/"ETEXT"), and the 1990s
  `*END*THE SMALL PRINT! ... *END*` that closes the licence at the top of Etexts;
- footer starts: `*** END OF THE/THIS PROJECT GUTENBERG EBOOK`, `End of (the) Project
  Gutenberg('s) ...` lines, and licence or "small print" blocks, wherever they sit.
The body runs from the last header end before the first footer to the first footer after
it. Credits ("Produced by ...") and transcriber's notes go; nothing else is dropped. A text
with no marker at all is returned whole and flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import islice, takewhile

from llmft_assets.cleaning.titles import title_case

_GUTENBERG = r"PROJE[CK]T\s+GUTENBERG(?:-tm|™)?"
_EBOOK = r"E-?(?:BOOK|TEXT)S?"
# Header ends: the text starts on the line after these.
_START_MARKER = re.compile(
    rf"^[ \t]*\*+[ \t]*START[ \t]+OF[ \t]+(?:THE|THIS)[ \t]+(?:COPYRIGHTED[ \t]+)?"
    rf"{_GUTENBERG}[ \t]+{_EBOOK}\b(?P<title>[^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
_OTHER_HEADER_ENDS = re.compile(
    # 1990s Etexts: the licence ("small print") at the top closes with this line.
    r"^[ \t]*\*+[ \t]*END[ \t]*(?:\*[ \t]*)?THE[ \t]+SMALL[ \t]+PRINT[^\n]*$|"
    # 2002 files that moved the small print to the end say so at the top, like this.
    r"^[^\n]*tells[ \t]+you[ \t]+about[ \t]+restrictions[ \t]+in[ \t]+how[ \t]+the[ \t]+file"
    r"[ \t]+may[ \t]+be[ \t]+used\.?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
# Footer starts: the text ends before these.
_FOOTER_MARKERS = (
    re.compile(
        rf"^[ \t]*\*+[ \t]*END[ \t]+OF[ \t]+(?:THE[ \t]+|THIS[ \t]+)?{_GUTENBERG}",
        re.IGNORECASE | re.MULTILINE,
    ),
    re.compile(
        rf"^[ \t]*(?:\*+[ \t]*)?End[ \t]+of[ \t]+(?:the[ \t]+|this[ \t]+)?(?:Wiretap/)?"
        rf"{_GUTENBERG}",
        re.IGNORECASE | re.MULTILINE,
    ),
    re.compile(
        rf"^[ \t]*\"?This[ \t]+is[ \t]+the[ \t]+end[ \t]+of[ \t]+the[ \t]+{_GUTENBERG}", re.I
    ),
    re.compile(r"^[ \t]*\*+[ \t]*START\**[ \t]*(?:THE[ \t]+)?SMALL[ \t]+PRINT", re.I | re.M),
    re.compile(r"^[ \t]*(?:\*+[ \t]*)?START:[ \t]*FULL[ \t]+LICEN[CS]E", re.I | re.M),
    re.compile(rf"^[ \t]*THE[ \t]+FULL[ \t]+{_GUTENBERG}[ \t]+LICEN[CS]E", re.I | re.M),
    re.compile(r"^[ \t]*ETEXT[ \t]+EDITOR['’]S[ \t]+BOOKMARKS", re.I | re.M),
    re.compile(r"^[ \t]*\*+[ \t]*End[ \t]*\*+[ \t]*$", re.I | re.M),
)
# The strong footers (the first three): a header end after one belongs to a trailing licence.
_STRONG_FOOTER_COUNT = 3
# Every marker line starts (after blanks) like this, or carries the 2002 header phrase. The
# patterns open with the newline before the line: a literal first character lets `re` jump
# from line to line instead of trying every position (see `_lines_matching`).
_CANDIDATE_LINE = re.compile(
    r"\n[ \t]*(?:\*|\"?this[ \t]+is[ \t]+the[ \t]+end|end|start:|the[ \t]+full|etext[ \t]+editor)",
    re.IGNORECASE,
)
# The 2002 header phrase ("... tells you about restrictions in how the file may be used.") can
# sit anywhere in its line: lines holding its rarest word, as it is written, are candidates.
_RESTRICTIONS = ("estrictions", "ESTRICTIONS")

# Paragraphs at either end of the body that belong to Project Gutenberg, not the author:
# credits ("Produced by ..."), notes about the e-text, file names, copyright banners.
# What a credit opens with names the e-text or file ("This etext was", "HTML version"), or
# nothing: "The supper had been prepared by old Martha" is the author's.
_CREDIT_OPENING = re.compile(
    r"^[ \t]*(?:[\[(][ \t]*)?(?:(?:this|the|an?|illustrated|html|plain|ascii|e-?texts?|e-?books?|"
    r"texts?|files?|versions?|editions?)[ \t]+){0,3}(?:(?:was|were|is|are|has[ \t]+been|"
    r"have[ \t]+been)[ \t]+)?(?:produced|prepared|created|revised|transcribed|scanned|"
    r"digiti[sz]ed|proofread|updated)\b[^\n]{0,20}?\b(?:by|from)\b",
    re.IGNORECASE,
)
# The lookahead on the alternatives' first letters turns most positions away fast.
_PG_MENTION = re.compile(
    rf"(?=[pedgtmsi\[])(?:{_GUTENBERG}|\be-?texts?\b|\be-?books?\b|"
    r"distributed[ \t]+proofread|\bpgdp\b|"
    r"gutenberg\.(?:org|net)|this[ \t]+file[ \t]+should[ \t]+be[ \t]+named|"
    r"more[ \t]+information[ \t]+about[ \t]+this[ \t]+book|"
    r"\[portions[ \t]+of[ \t]+this[ \t]+header|short[ \t]+list[ \t]+of[ \t]+bookmarks|"
    r"images[ \t]+of[ \t]+the[ \t]+original[ \t]+pages[ \t]+are)",
    re.IGNORECASE | re.MULTILINE,
)
_NOTE_HEADING = re.compile(  # matched at the start of a paragraph's first line
    r"[ \t]*(?:[\[(][ \t]*)?(?:original[ \t]+)?(?:transcriber['’]?s?['’]?[ \t]+notes?|"
    r"note[ \t]+from[ \t]+the[ \t]+transcriber|preparer['’]?s[ \t]+notes?|"
    r"notes?[ \t]+on[ \t]+(?:this|the)[ \t]+e-?text|typographical[ \t]+errors[ \t]+corrected|"
    r"errata[ \t]+\(noted[ \t]+by[ \t]+transcriber|[^\n]{0,40}corrected[ \t]+by[ \t]+the[ \t]+"
    r"e-?text[ \t]+transcriber)",
    re.IGNORECASE,
)
# Lines that may open such a note start with one of its first words, or name the transcriber
# further in ("... corrected by the etext transcriber"). The lookahead on two letters turns
# most lines away before the slower case-insensitive words are tried.
_NOTE_LEAD = re.compile(
    r"\n[ \t]*(?:[\[(][ \t]*)?(?=[OoTtNnPpEe][RrOoYy])"
    r"(?:original|transcriber|note|preparer|typographical|errata)",
    re.IGNORECASE,
)
_TRANSCRIBER = ("ranscriber", "RANSCRIBER")
_PARAGRAPH = re.compile(r"[^\n]*\S[^\n]*(?:\n[^\n]*\S[^\n]*)*")
_SECTION_BREAK = re.compile(r"[ \t]*\*(?:[ \t]*\*)*[ \t]*(?:\n|$)")
_BLANK_LINE_RUN = re.compile(r"\n\n\n\n+")  # literal-led, so found fast
# Whitespace before a line's newline: the newline is the literal that `re` jumps between.
_TRAILING_WHITESPACE = re.compile(r"\n(?<=[^\S\n]\n)")
_SEPARATOR_LINE = re.compile(r"^[ \t]*(?:\*[ \t]*){3,}$")
_HEADER_FIELD = re.compile(
    r"\n[ \t]*(Title|Author|Language)[ \t]*:[ \t]*(?P<value>.+)$", re.I | re.M
)
_EBOOK_OF = re.compile(
    rf"{_GUTENBERG}[ \t]+{_EBOOK}[ \t]*,?[ \t]+of[ \t]+(?P<title>[^\n*]+?)(?:,[ \t]+by[ \t]+"
    rf"(?P<author>[^\n*]+?))?[ \t]*(?:\*+[ \t]*)?$",
    re.IGNORECASE | re.MULTILINE,
)
# Boilerplate that must never survive cleaning; used to reject and by the asset check.
# Licence text is hard-wrapped: its phrases break across lines wherever the width fell.
BOILERPLATE = re.compile(
    rf"{_GUTENBERG}\s+(?:LICEN[CS]E|Literary\s+Archive|trademark)|Gutenberg(?:-tm|™)|"
    r"LIMITED\s+RIGHT\s+OF\s+REPLACEMENT\s+OR\s+REFUND|DISCLAIMER\s+OF\s+DAMAGES|"
    rf"(?:START|END)\s+OF\s+(?:THE|THIS)\s+{_GUTENBERG}\s+{_EBOOK}|"
    r"THE\s+SMALL\s+PRINT!|www\.gutenberg\.(?:org|net)/license",
    re.IGNORECASE,
)
# What Project Gutenberg says about itself in headers and banners of every era, beyond the
# licence: a paragraph holding one is the project's, not the author's.
_HOUSE_PHRASE = re.compile(
    r"electronic[ \t\n]+texts?|this[ \t\n]+header|release[ \t\n]+dates?|donations?|"
    r"small[ \t\n]+print|updated[ \t\n]+editions|web[ \t\n]*site|mail[ \t\n]+to:|"
    r"internet|bitnet|volunteers|public[ \t\n]+domain|copyright[ \t\n]+laws?|"
    r"executive[ \t\n]+director|\[e-?(?:book|text)[ \t]*#|e-?(?:book|text)[ \t]+#",
    re.IGNORECASE,
)
# A header field ("Title: Morning Bells", "Character set encoding: UTF-8").
_FIELD = re.compile(r"[ \t]*[A-Z][A-Za-z ]{1,30}:[ \t]*\S")
_HEADER_SEARCH_CHARS = 60_000  # fields like Title: and Author: sit in the first few pages
_LEADING_WINDOW_LINES = 80  # credits and notes about the e-text sit among the first lines
_TRAILING_NOTE_SHARE = 0.05  # a transcriber's section this close to the end runs to the end
_MAX_NOTE_CHARS = 4000
_TAIL_BLOCK_CHARS = 20_000  # how much of the end of a book to scan for trailing boilerplate
_LANGUAGES = {
    "english": "en",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "dutch": "nl",
    "portuguese": "pt",
    "latin": "la",
    "finnish": "fi",
}


@dataclass(frozen=True)
class StrippedBook:
    text: str
    title: str
    author: str
    language: str
    flags: tuple[str, ...] = field(default=())  # e.g. ("no_markers",)


def strip_gutenberg(text: str) -> StrippedBook:
    """Body, title, author and language of a book's decoded, LF-normalized text."""
    start, end, flags = _body_bounds(text)
    body = text[start:end]
    body = _peel_boilerplate(_drop_transcriber_notes(body))
    title, author, language = _header_fields(text[:start] or text[:_HEADER_SEARCH_CHARS])
    if not title:
        marker = _START_MARKER.search(text)
        if marker:
            title = marker.group("title").strip(" *\t,").strip()
            title = title_case(title.split()) if title.isupper() else title
    return StrippedBook(
        text=_tidy(body), title=title, author=author, language=language, flags=tuple(flags)
    )


def has_author_text(text: str, chars: int) -> bool:
    """Whether a stripped book has `chars` characters in paragraphs that are the author's: not
    a header field, a credit, a licence or the project's notes about itself. A file that is
    only Project Gutenberg's header and licence has next to none; a book reaches `chars` in
    its first pages, so the scan stops there instead of testing every paragraph."""
    found = 0
    for paragraph in _PARAGRAPH.finditer(text):
        if not _is_project_paragraph(paragraph.group()):
            found += len(paragraph.group())
            if found >= chars:
                return True
    return False


def _is_project_paragraph(paragraph: str) -> bool:
    return (
        _is_boilerplate(paragraph)
        or bool(BOILERPLATE.search(paragraph) or _HOUSE_PHRASE.search(paragraph))
        or _is_header_fields(paragraph)
    )


def _is_header_fields(paragraph: str) -> bool:
    """Fields, one a line; a value that wraps goes on in indented lines."""
    first, *others = paragraph.split("\n")
    return bool(_FIELD.match(first)) and all(_FIELD.match(x) or x[:1] in " \t" for x in others)


def _body_bounds(text: str) -> tuple[int, int, list[str]]:
    # Headers sit at the top: a header-end line in the second half closes a trailing licence,
    # unless author text follows it (a short book behind a long header or small print).
    half = len(text) // 2
    starts, other_header_ends, strong, footers = _marker_lines(text)
    header_ends = sorted(
        end
        for match, end in [(m, _marker_end(text, m)) for m in starts]
        + [(m, m.end()) for m in other_header_ends]
        if match.end() <= half or _author_text_follows(text, end, footers)
    )
    flags: list[str] = []
    if header_ends:
        # A header end after the first strong footer belongs to a trailing licence.
        bound = next((s for s in strong if s > header_ends[0]), len(text))
        start = max(h for h in header_ends if h <= bound)
    else:
        start = 0
        flags.append("no_start_marker")
    end = next((f for f in footers if f >= start), len(text))
    if end == len(text):
        flags.append("no_end_marker")
    if not header_ends and end == len(text):
        flags = ["no_markers"]
    return start, end, flags


def _marker_lines(
    text: str,
) -> tuple[list[re.Match[str]], list[re.Match[str]], list[int], list[int]]:
    """START markers, other header ends, strong footer starts and all footer starts, found in
    one pass: only lines the cheap candidate patterns pick out are matched in detail."""
    starts: list[re.Match[str]] = []
    other_header_ends: list[re.Match[str]] = []
    strong: list[int] = []
    footers: list[int] = []
    candidates = {*_lines_matching(text, _CANDIDATE_LINE), *_lines_holding(text, _RESTRICTIONS)}
    for line in sorted(candidates):
        if _SECTION_BREAK.match(text, line):  # "*     *     *": common, and never a marker
            continue
        if match := _START_MARKER.match(text, line):
            starts.append(match)
        if match := _OTHER_HEADER_ENDS.match(text, line):
            other_header_ends.append(match)
        for index, pattern in enumerate(_FOOTER_MARKERS):
            if pattern.match(text, line):
                footers.append(line)
                if index < _STRONG_FOOTER_COUNT:
                    strong.append(line)
                break
    return starts, other_header_ends, strong, footers


def _lines_matching(text: str, line_head: re.Pattern[str]) -> Iterator[int]:
    """Offsets of the lines whose start matches `line_head`, a pattern that opens with the
    newline before the line (the text's first line counts as following one)."""
    first_line_end = text.find("\n")
    if line_head.match("\n" + (text if first_line_end == -1 else text[:first_line_end])):
        yield 0
    for match in line_head.finditer(text):
        yield match.start() + 1


def _lines_holding(text: str, words: tuple[str, ...]) -> Iterator[int]:
    """Offsets of the lines that hold any of `words` (a plain substring search, the fastest)."""
    for word in words:
        position = text.find(word)
        while position != -1:
            yield text.rfind("\n", 0, position) + 1
            position = text.find(word, position + 1)


def _author_text_follows(text: str, position: int, footers: list[int]) -> bool:
    """Whether a paragraph that is not boilerplate sits between `position` and the footer."""
    stop = next((f for f in footers if f >= position), len(text))
    return any(not _is_boilerplate(p) for p in _PARAGRAPH.findall(text, position, stop))


def _marker_end(text: str, match: re.Match[str]) -> int:
    """End of a START marker, following it onto a second line when its title wraps."""
    if "*" in match.group("title"):
        return match.end()
    next_end = text.find("\n", match.end() + 1)
    next_line = text[match.end() + 1 : next_end if next_end != -1 else len(text)]
    if next_line.rstrip().endswith("*") and len(next_line) < 100:
        return next_end if next_end != -1 else len(text)
    return match.end()


def _paragraph_spans(
    body: str, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, int]]:
    """(start, end) of each run of non-blank lines from `start`, a line start."""
    for match in _PARAGRAPH.finditer(body, start, len(body) if stop is None else stop):
        yield match.span()


def _paragraph_spans_from_end(body: str) -> Iterator[tuple[int, int]]:
    """The same spans, last first, found a block at a time: the blocks are cut at empty lines,
    which always separate paragraphs, so only the tail of a long book is scanned."""
    stop = len(body)
    while True:
        cut = body.rfind("\n\n", 0, max(0, stop - _TAIL_BLOCK_CHARS))
        yield from reversed(list(_paragraph_spans(body, cut + 1, stop)))
        if cut == -1:
            return
        stop = cut


def _opens_paragraph(body: str, line: int) -> bool:
    """Whether the non-blank line at offset `line` follows a blank line or the start."""
    return line == 0 or not body[body.rfind("\n", 0, line - 1) + 1 : line].strip()


def _is_boilerplate(paragraph: str) -> bool:
    return bool(_CREDIT_OPENING.match(paragraph) or _PG_MENTION.search(paragraph))


def _peel_boilerplate(body: str) -> str:
    """Drop Project Gutenberg paragraphs among the first lines, and from the end backwards."""
    window = _nth_line_offset(body, _LEADING_WINDOW_LINES)
    leading = takewhile(lambda span: span[0] < window, _paragraph_spans(body))
    drop = [span for span in leading if _is_boilerplate(body[slice(*span)])]
    for span in _paragraph_spans_from_end(body):
        paragraph = body[slice(*span)]
        # A line of asterisks is a section break in the author's text; at the end it goes
        # with the boilerplate around it.
        if span in drop or not (_is_boilerplate(paragraph) or _SEPARATOR_LINE.match(paragraph)):
            break
        drop.append(span)
    return _without(body, drop)


def _drop_transcriber_notes(body: str) -> str:
    """Notes by transcribers and preparers: a bracketed note up to its closing bracket; a
    headed note up to the next section break (two blank lines); near the end, to the end."""
    drop: list[tuple[int, int]] = []
    cursor = 0
    candidates = {*_lines_matching(body, _NOTE_LEAD), *_lines_holding(body, _TRANSCRIBER)}
    for start in sorted(candidates):
        if start < cursor or not (
            _NOTE_HEADING.match(body, start) and _opens_paragraph(body, start)
        ):
            continue
        end = _PARAGRAPH.match(body, start).end()
        opener = body[start:end].lstrip()[0]
        if opener in "[(":
            close = body.find("]" if opener == "[" else ")", start)
            stop = len(body) if close == -1 else body.find("\n", close)
            stop = len(body) if stop == -1 else stop
        elif start >= (1 - _TRAILING_NOTE_SHARE) * len(body) or _among_last_paragraphs(
            body, start, 3
        ):
            stop = len(body)
        else:
            section_break = body.find("\n\n\n", end)
            stop = section_break if 0 <= section_break - end <= _MAX_NOTE_CHARS else end
        drop.append((start, stop))
        cursor = stop
    return _without(body, drop)


def _among_last_paragraphs(body: str, start: int, count: int) -> bool:
    return len(list(islice(_paragraph_spans(body, start), count + 1))) <= count


def _without(body: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return body
    kept: list[str] = []
    cursor = 0
    for start, end in sorted(spans):
        if start >= cursor:
            kept.append(body[cursor:start])
            cursor = end
    kept.append(body[cursor:])
    return "".join(kept)


def _nth_line_offset(text: str, lines: int) -> int:
    offset = -1
    for _ in range(lines):
        offset = text.find("\n", offset + 1)
        if offset == -1:
            return len(text)
    return offset


def _header_fields(header: str) -> tuple[str, str, str]:
    fields: dict[str, str] = {}
    for match in _HEADER_FIELD.finditer("\n" + header[:_HEADER_SEARCH_CHARS]):
        fields.setdefault(match.group(1).lower(), match.group("value").strip())
    title, author = fields.get("title", ""), fields.get("author", "")
    if not title:
        match = _EBOOK_OF.search(header[:_HEADER_SEARCH_CHARS])
        if match:
            title = match.group("title").strip()
            author = author or (match.group("author") or "").strip()
    language = (
        _LANGUAGES.get(fields.get("language", "").split()[0].lower(), "")
        if fields.get("language")
        else ""
    )
    return title, author, language


def _tidy(body: str) -> str:
    """Lines without trailing whitespace, no blank or separator line at either end, and at
    most two blank lines in a row."""
    if _TRAILING_WHITESPACE.search(body) or body.rstrip("\n")[-1:].isspace():
        body = "\n".join([line.rstrip() for line in body.split("\n")])
    end = len(body)
    while end:  # filler lines at the end, last first
        line = body.rfind("\n", 0, end) + 1
        if not _is_filler(body[line:end]):
            break
        end = max(line - 1, 0)
    start = 0
    while start < end:  # and at the start
        line_end = body.find("\n", start, end)
        line_end = end if line_end == -1 else line_end
        if not _is_filler(body[start:line_end]):
            break
        start = line_end + 1
    return _BLANK_LINE_RUN.sub("\n\n\n", body[start:end])


def _is_filler(line: str) -> bool:
    return not line.strip() or bool(_SEPARATOR_LINE.match(line))
