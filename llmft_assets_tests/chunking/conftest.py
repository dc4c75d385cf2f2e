"""The bundled samples as the pipeline cleans them, and the SmolLM2 tokenizer itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from tokenizers import Tokenizer

from llmft_assets.chunking.stage import text_to_chunk
from llmft_assets.chunking.tokens import ByteLevelCounter, TokenCounter
from llmft_assets.cleaning.decoding import decode_text
from llmft_assets.cleaning.gutenberg import strip_gutenberg
from llmft_assets.cleaning.html import extract_article
from llmft_assets.sources.blog import BLOG_POSTS
from llmft_assets.sources.gutenberg import GUTENBERG_BOOKS
from llmft_assets_tests.deployment import SAMPLE_DATA

BOOK_FILES = sorted((SAMPLE_DATA / "gutenberg").glob("*.txt"))
POST_FILES = sorted((SAMPLE_DATA / "blog_posts").glob("*.htm*"))


def cleaned_book(path: Path) -> str:
    return strip_gutenberg(decode_text(path.read_bytes()).text).text


def cleaned_post(path: Path) -> str:
    return extract_article(decode_text(path.read_bytes()).text, file_name=path.name).text


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_counter: TokenCounter) -> Tokenizer:
    assert isinstance(smollm2_counter, ByteLevelCounter)
    return smollm2_counter.tokenizer


@pytest.fixture(scope="session")
def cleaned_samples() -> dict[str, str]:
    """Every bundled sample's cleaned text, as `cleaned_documents` stores it."""
    texts = {f"book:{p.name}": cleaned_book(p) for p in BOOK_FILES}
    texts.update({f"post:{p.name}": cleaned_post(p) for p in POST_FILES})
    assert len(texts) >= 10 and all(texts.values())
    return texts


@pytest.fixture(scope="session")
def chunker_inputs(cleaned_samples: dict[str, str]) -> dict[str, str]:
    """What `batch_chunks` hands the chunker: books reflowed, posts as cleaned."""
    return {
        name: text_to_chunk(
            (GUTENBERG_BOOKS if name.startswith("book:") else BLOG_POSTS).name, text
        )
        for name, text in cleaned_samples.items()
    }
