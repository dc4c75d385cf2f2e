"""Main-content quality of llmft's HTML extraction on real web articles with ground truth.

The held-out set is Zyte's article-extraction-benchmark (181 real news and blog pages, each
with a hand-checked `articleBody`; MIT licence), used from a checkout outside this repo:

    git clone https://github.com/scrapinghub/article-extraction-benchmark /tmp/aeb
    .venv/bin/python benchmarks/html_extraction.py /tmp/aeb

The score is that benchmark's: word 4-gram shingles of the extracted text against those of
the ground truth, true/false positives and negatives normalised per page, precision and
recall averaged over pages, F1 from the two averages. In the same run: trafilatura's plain
`extract()` (what the benchmark lists for trafilatura) and BeautifulSoup's `get_text()` (the
seed projects' way), so the figures compare like with like.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura
from bs4 import BeautifulSoup

from llmft_assets.cleaning.decoding import decode_text
from llmft_assets.cleaning.html import extract_article
from llmft_assets.errors import DocumentError

_WORD = re.compile(r"\w+")
SHINGLE = 4


def shingles(text: str) -> Counter[tuple[str, ...]]:
    words = _WORD.findall(text)
    return Counter(tuple(words[i : i + SHINGLE]) for i in range(max(1, len(words) - SHINGLE + 1)))


def page_scores(true: str, predicted: str) -> tuple[float | None, float | None]:
    """Precision and recall of one page's shingles; None where the page cannot define one."""
    expected, got = shingles(true), shingles(predicted)
    expected.pop((), None)
    got.pop((), None)
    hits = sum((expected & got).values())
    extra = sum(got.values()) - hits
    missed = sum(expected.values()) - hits
    if extra == missed == 0:
        return 1.0, 1.0
    precision = hits / (hits + extra) if hits + extra else None
    recall = hits / (hits + missed) if hits + missed else None
    return precision, recall


def llmft(html: bytes) -> str:
    try:
        return extract_article(decode_text(html).text).text
    except DocumentError:
        return ""  # set aside by the pipeline: nothing extracted


def trafilatura_default(html: bytes) -> str:
    return trafilatura.extract(html.decode("utf-8"), include_comments=False) or ""


def bs4_get_text(html: bytes) -> str:
    return BeautifulSoup(html, "html.parser").get_text()


def score(pages: dict[str, bytes], truth: dict[str, str], extract: Callable[[bytes], str]):
    precisions, recalls, empty = [], [], 0
    for key, html in pages.items():
        text = extract(html)
        empty += not text.strip()
        precision, recall = page_scores(truth[key], text)
        if precision is not None:
            precisions.append(precision)
        if recall is not None:
            recalls.append(recall)
    precision, recall = statistics.mean(precisions), statistics.mean(recalls)
    return 2 * precision * recall / (precision + recall), precision, recall, empty


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", type=Path, help="checkout of article-extraction-benchmark")
    args = parser.parse_args()
    truth = {
        key: item.get("articleBody", "")
        for key, item in json.loads((args.benchmark / "ground-truth.json").read_text()).items()
    }
    pages = {
        path.name.split(".")[0]: gzip.decompress(path.read_bytes())
        for path in sorted((args.benchmark / "html").glob("*.html.gz"))
    }
    assert pages.keys() == truth.keys(), "pages and ground truth do not match"
    print(f"{len(pages)} pages; word {SHINGLE}-gram shingles")
    print(f"{'extractor':<24} {'F1':>6} {'precision':>10} {'recall':>7} {'empty':>6}")
    for name, extract in [
        ("llmft (extract_article)", llmft),
        ("trafilatura.extract", trafilatura_default),
        ("bs4 get_text (seed)", bs4_get_text),
    ]:
        f1, precision, recall, empty = score(pages, truth, extract)
        print(f"{name:<24} {f1:6.3f} {precision:10.3f} {recall:7.3f} {empty:6d}")


if __name__ == "__main__":
    main()
