"""Main article text and title from a blog post's HTML.

trafilatura decides what is main content (it scores at the top of open extractor
benchmarks); this module feeds it a whole document, renders its block tree into text with a
blank line between blocks, and finds the title. On a page with no post, trafilatura returns
what there is (a cookie notice, a footer): a page whose text is only such lines and menu
labels is rejected, by the same minimum length as an empty one. Substack exports are body
fragments with no <html>/<body>: wrapped as an <article>, they keep their headings and lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import lxml.html
import trafilatura
from lxml import etree

from llmft_assets.cleaning.titles import title_from_file_name
from llmft_assets.errors import DocumentError

_MIN_TEXT_CHARS = 40
_WHOLE_DOCUMENT = re.compile(r"<\s*(html|body)[\s>]", re.IGNORECASE)
# lxml refuses str input that still carries an encoding declaration.
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# "Post title - by Author - Publication", "Site :: Post title", "Post title | Site"
_TITLE_SEPARATOR = re.compile(r"\s+(?:[-|–—·]|::)\s+")
_TITLE_BYLINE = re.compile(r"\s+[-|–—·]\s+by\s+\S", re.IGNORECASE)
_PLAIN_QUOTES = str.maketrans("‘’“”", "''\"\"")
# A block that is only a number such as "14" or "1.2K": a like, clap or response counter.
_ENGAGEMENT_COUNT = re.compile(r"\d[\d.,]*\s*[KkMm]?\Z")
# Lines that a site puts around every page rather than in a post: cookie and consent notices,
# legal footers, share, follow and subscribe prompts, navigation. A line this long that says
# one of these is still the site talking; a longer one is a paragraph that mentions it.
_SITE_PHRASE = re.compile(
    r"\b(?:(?:we|this\s+(?:web)?site)\s+uses?\s+cookies|cookie\s+(?:policy|settings|preferences"
    r"|consent)|accept\s+(?:all\s+)?cookies|accept\s+all|privacy\s+(?:policy|notice|settings)|"
    r"terms\s+(?:of\s+(?:use|service)|(?:and|&)\s+conditions)|all\s+rights\s+reserved|"
    r"copyright\s+(?:©|\(c\)|\d{4})|powered\s+by|click\s+to\s+share|share\s+(?:this|on|via)\b|"
    r"follow\s+(?:us|me)\s+on|subscribe\s+(?:now|for\s+free|to\s+(?:our|my|the)\s+"
    r"(?:newsletter|blog|channel|feed))|(?:our|my)\s+newsletter|sign\s+(?:up|in)\s+(?:for|to)|"
    r"skip\s+to\s+(?:main\s+)?content|back\s+to\s+top|(?:previous|next)\s+post|related\s+posts|"
    r"read\s+more|leave\s+a\s+(?:reply|comment))\b|©",
    re.IGNORECASE,
)
_SITE_LINE_CHARS = 400
# A menu item or link label: a few words that do not end a sentence.
_LABEL_WORDS = 3
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]|\d+\.)\s+")


@dataclass(frozen=True)
class Article:
    title: str
    text: str


def extract_article(html: str, *, file_name: str | None = None) -> Article:
    """Return the title and main text of a decoded post; raise DocumentError if there is none."""
    html = _XML_DECLARATION.sub("", html, count=1)
    if not _WHOLE_DOCUMENT.search(html[:4096]):
        html = f"<html><body><article>{html}</article></body></html>"
    try:
        # Comments go at parse time: trafilatura drops a comment node together with the text
        # after it in the same paragraph ("<p>a<!-- ad -->b</p>" would lose "b"). A parser
        # per call: lxml parsers must not be shared between threads.
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True)
        tree = lxml.html.document_fromstring(html, parser=parser)
    except (etree.ParserError, ValueError) as error:
        raise DocumentError(f"HTML cannot be parsed: {error}") from error

    title = _title_from_tree(tree) or title_from_file_name(file_name)
    extracted = trafilatura.bare_extraction(
        tree,
        include_comments=False,
        include_tables=True,
        include_images=False,
        include_links=False,
        include_formatting=False,
        with_metadata=False,
        deduplicate=False,
    )
    blocks = _render_blocks(extracted.body) if extracted is not None else []
    if blocks and title and _same_words(blocks[0], title):
        blocks = blocks[1:]
    while blocks and _ENGAGEMENT_COUNT.match(blocks[0]):  # a clap or like counter by the title
        blocks = blocks[1:]
    while blocks and _ENGAGEMENT_COUNT.match(blocks[-1]):
        blocks = blocks[:-1]
    text = "\n\n".join(blocks)
    if len(text) < _MIN_TEXT_CHARS:
        raise DocumentError("no article text found in the HTML (truncated or not a post?)")
    if sum(len(line) for line in text.split("\n") if not _is_site_line(line)) < _MIN_TEXT_CHARS:
        raise DocumentError(
            "no article text found in the HTML, only the site's navigation, notices, footer or"
            " share links"
        )
    return Article(title=title or blocks[0][:120], text=text)


def _is_site_line(line: str) -> bool:
    """Whether a line of extracted text is the site's rather than the post's."""
    line = _LIST_MARKER.sub("", line).strip()
    if len(line.split()) <= _LABEL_WORDS and not line.endswith((".", "!", "?", "…")):
        return True
    return len(line) <= _SITE_LINE_CHARS and bool(_SITE_PHRASE.search(line))


def _title_from_tree(tree: lxml.html.HtmlElement) -> str | None:
    for xpath in (
        '//meta[@property="og:title"]/@content',
        '//meta[@name="twitter:title"]/@content',
        "//article//h1",
        "//main//h1",
        "//h1",
    ):
        for found in tree.xpath(xpath):
            text = _squash(found if isinstance(found, str) else found.text_content())
            if text:
                return text
    for found in tree.xpath("//title"):
        segments = [_squash(x) for x in _TITLE_SEPARATOR.split(found.text_content())]
        segments = [x for x in segments if x]
        if segments:
            # The heading on the page that one segment names, else the longest segment.
            headings = {
                _folded(h.text_content()): h.text_content() for h in tree.xpath("//h2|//h3")
            }
            for segment in segments:
                if _folded(segment) in headings:
                    return _squash(headings[_folded(segment)])
            return _title_without_site(_squash(found.text_content()))
    return None


def _title_without_site(title: str) -> str:
    """The post's part of a <title>: "Post - by Author - Publication" and "Post | Site" keep
    what comes before the author or the last separator, "Site :: Post" what follows "::"."""
    byline = _TITLE_BYLINE.search(title)
    if byline:
        return title[: byline.start()]
    if "::" in title:
        return _squash(title.rsplit("::", 1)[1]) or title
    separators = list(_TITLE_SEPARATOR.finditer(title))
    return title[: separators[-1].start()] if separators else title


def _render_blocks(body: etree._Element) -> list[str]:
    blocks: list[str] = []
    for element in body:
        _render_block(element, blocks)
    return [b for b in blocks if b.strip()]


def _render_block(element: etree._Element, blocks: list[str]) -> None:
    tag = element.tag
    if tag == "list":
        blocks.append("\n".join(_list_lines(element, depth=0)))
    elif tag == "code":
        blocks.append("".join(element.itertext()).strip("\n"))
    elif tag == "table":
        rows = [
            " | ".join(_inline_text(cell) for cell in row if cell.tag == "cell")
            for row in element.iter("row")
        ]
        blocks.append("\n".join(r for r in rows if r.strip(" |")))
    elif tag in ("quote", "div") and any(child.tag in _BLOCK_TAGS for child in element):
        if element.text and element.text.strip():
            blocks.append(_squash(element.text))
        for child in element:
            _render_block(child, blocks)
    elif tag != "graphic":
        blocks.append(_inline_text(element))


_BLOCK_TAGS = frozenset({"p", "head", "list", "quote", "code", "table", "div"})


def _list_lines(element: etree._Element, depth: int) -> list[str]:
    ordered = element.get("rend", "").lower() == "ol"
    lines: list[str] = []
    number = 0
    for item in element:
        if item.tag != "item":
            continue
        number += 1
        marker = f"{number}." if ordered else "-"
        nested = [child for child in item if child.tag == "list"]
        for child in nested:
            item.remove(child)
        text = _inline_text(item)
        if text:
            lines.append(f"{'  ' * depth}{marker} {text}")
        for child in nested:
            lines.extend(_list_lines(child, depth + 1))
    return lines


def _inline_text(element: etree._Element) -> str:
    """Text of an element with <lb/> as line breaks and runs of spaces collapsed."""
    parts: list[str] = []
    if element.text:
        parts.append(element.text)
    for child in element:
        parts.append("\n" if child.tag == "lb" else "".join(child.itertext()))
        if child.tail:
            parts.append(child.tail)
    lines = (_squash(line) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _squash(text: str) -> str:
    return " ".join(text.split())


def _folded(text: str) -> str:
    """Case, spacing and quote style folded, for comparing titles with headings."""
    return _squash(text).casefold().translate(_PLAIN_QUOTES)


def _same_words(a: str, b: str) -> bool:
    return _folded(a) == _folded(b)
