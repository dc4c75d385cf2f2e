"""Data preparation throughput on one core: llmft's cleaning and chunking beside the seed way.

Books: the bundled books replicated to >= 100 MB; llmft = decode + strip Project Gutenberg
boilerplate + reflow + chunk in exact SmolLM2 tokens; seed = decode, split at the
"*** START/END OF THE" markers, cut into fixed character chunks. HTML: the bundled posts
replicated to >= 1,000 pages; llmft = decode + main-text extraction; seed = BeautifulSoup
get_text(). Both run in this process, one after the other, and print MB/s, pages/s and ratios.

    RAYON_NUM_THREADS=1 .venv/bin/python benchmarks/data_prep.py
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("RAYON_NUM_THREADS", "1")  # one core: no tokenizer threads
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bs4 import BeautifulSoup

from llmft_assets.chunking.chunker import chunk_text
from llmft_assets.chunking.reflow import unwrap_prose
from llmft_assets.chunking.tokens import counter_for
from llmft_assets.cleaning.decoding import decode_text
from llmft_assets.cleaning.gutenberg import strip_gutenberg
from llmft_assets.cleaning.html import extract_article
from llmft_assets.modeling.source import BUNDLED_SMOLLM2, load_tokenizer, resolve_model_source
from llmft_assets.paths import cache_dir
from llmft_assets.sources.catalog import BUNDLED_BLOG_POSTS, BUNDLED_BOOKS

SEED_CHUNK_CHARS = 2000


def replicate(files: list[Path], minimum_bytes: int = 0, minimum_count: int = 0) -> list[bytes]:
    originals = [p.read_bytes() for p in files]
    copies: list[bytes] = []
    while sum(map(len, copies)) < minimum_bytes or len(copies) < minimum_count:
        copies.extend(originals)
    return copies


def llmft_books(books: list[bytes], counter, target: int, minimum: int) -> int:
    chunks = 0
    for data in books:
        text = unwrap_prose(strip_gutenberg(decode_text(data).text).text)
        chunks += len(chunk_text(text, counter, target, minimum).chunks)
    return chunks


def seed_books(books: list[bytes]) -> int:
    chunks = 0
    for data in books:
        text = data.decode("utf-8", errors="ignore")
        start = text.find("*** START OF THE")
        end = text.find("*** END OF THE")
        body = text[start if start >= 0 else 0 : end if end >= 0 else len(text)]
        chunks += len(range(0, len(body), SEED_CHUNK_CHARS))
    return chunks


def llmft_html(pages: list[tuple[str, bytes]]) -> int:
    return sum(len(extract_article(decode_text(d).text, file_name=n).text) for n, d in pages)


def seed_html(pages: list[tuple[str, bytes]]) -> int:
    return sum(len(BeautifulSoup(d, "html.parser").get_text()) for _, d in pages)


def timed(function, *args) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--book-mb", type=float, default=100.0)
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--target-tokens", type=int, default=512)
    parser.add_argument("--min-tokens", type=int, default=32)
    args = parser.parse_args()

    tokenizer = load_tokenizer(resolve_model_source(BUNDLED_SMOLLM2), cache_dir())
    counter = counter_for(tokenizer.backend_tokenizer, BUNDLED_SMOLLM2)
    books = replicate(sorted(BUNDLED_BOOKS.glob("*.txt")), minimum_bytes=int(args.book_mb * 1e6))
    megabytes = sum(map(len, books)) / 1e6
    html_files = sorted(BUNDLED_BLOG_POSTS.glob("*.html"))
    names = [p.name for p in html_files] * (args.pages // len(html_files) + 1)
    pages = list(zip(names, replicate(html_files, 0, args.pages), strict=False))

    threads = os.environ["RAYON_NUM_THREADS"]
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores,"
        f" python {platform.python_version()}, RAYON_NUM_THREADS={threads}"
    )
    html_mb = sum(len(d) for _, d in pages) / 1e6
    print(
        f"books: {len(books)} files, {megabytes:.1f} MB; html: {len(pages)} pages, {html_mb:.1f} MB"
    )
    seed_s, seed_chunks = timed(seed_books, books)
    ours_s, our_chunks = timed(llmft_books, books, counter, args.target_tokens, args.min_tokens)
    print(
        f"books clean+chunk, seed (markers, split, fixed chars): {megabytes / seed_s:8.1f} MB/s"
        f"  ({seed_chunks} chunks)"
    )
    print(
        f"books clean+chunk, llmft (strip, reflow, token chunks): {megabytes / ours_s:7.1f} MB/s"
        f"  ({our_chunks} chunks), {seed_s / ours_s:.3f}x seed speed"
    )
    seed_s, _ = timed(seed_html, pages)
    ours_s, _ = timed(llmft_html, pages)
    print(f"html extraction, seed (bs4 get_text):     {len(pages) / seed_s:8.1f} pages/s")
    print(
        f"html extraction, llmft (main text, kept structure): {len(pages) / ours_s:8.1f} pages/s,"
        f" {seed_s / ours_s:.3f}x seed speed"
    )


if __name__ == "__main__":
    main()
