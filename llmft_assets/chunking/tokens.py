"""Token counts in the base model's tokenizer, fast enough for gigabytes of books.

Byte-level BPE tokenizers (GPT-2, SmolLM2, Llama 3) first split text with a fixed regex and
then encode each piece on its own, so a text's token count is the sum of its pieces' counts.
No piece spans a space that is followed by a non-space character: the space opens the next
piece (" word", " 42", " ...") and nothing before it reaches past it. So when every space in
a text is followed by a non-space, the count is the count of the first word plus that of
" " + each later word. `ByteLevelCounter` stores those counts per word in a small C table
(`_wordcounts.c`) that cuts a text at its spaces and adds the counts up without making a
string per word: after warm-up a count costs a hash and a probe per word. Text with runs of
spaces or a space before other whitespace is counted per whitespace-led segment instead (a
run of whitespace and the non-space run after it), which sums just as exactly. Both are
tested against the tokenizer. Other tokenizers are counted by encoding; with no tokenizer,
characters / 4 stand in.
"""

from __future__ import annotations

import json
import math
import re
from typing import Protocol

import regex
from tokenizers import Tokenizer

from llmft_assets.chunking._wordcounts import WordCounts

_SEGMENTS = re.compile(r"\s*\S+|\s+")
# Stdlib `re` takes the C0 separators \x1c-\x1f for whitespace, the tokenizer does not; text
# holding them is split with the pre-tokenizer's own pattern (the `regex` module's spelling of
# tokenizers' GPT-2 pattern), whose pieces sum just as well.
_STDLIB_ONLY_SPACES = re.compile(r"[\x1c-\x1f]")
_PRETOKENIZER_SPLIT = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
_MAX_CACHE = 2_000_000
CHARS_PER_TOKEN = 4


class TokenCounter(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class ByteLevelCounter:
    def __init__(self, tokenizer: Tokenizer, name: str) -> None:
        self.tokenizer = tokenizer
        self.name = name
        # First word -> its tokens, and later word -> tokens of " " + word, summed in C.
        self._words = WordCounts()
        self._segments: dict[str, int] = {}  # a whitespace-led segment -> its tokens
        added = [t.content for t in tokenizer.get_added_tokens_decoder().values()]
        if any(c.isspace() for t in added for c in t):
            raise ValueError("byte-level counting needs special tokens without whitespace")
        # Text that spells a special token is tokenized differently; it is encoded directly.
        # Such tokens hold no space, so no stored word holds one.
        self._special = re.compile("|".join(re.escape(t) for t in added)) if added else None

    def count(self, text: str) -> int:
        tokens = self._words.count(text)  # the hot path
        return tokens if tokens >= 0 else self._count_and_learn(text)

    def _count_and_learn(self, text: str) -> int:
        """Count a text with a word not stored yet, storing its words where that is exact."""
        if self._special is not None and self._special.search(text):
            return self._encoded(text)
        first, *later = text.split(" ")
        # Each space must be followed by a non-space; isspace() covers the tokenizer's
        # whitespace and more (C0 separators), which only sends more text the exact slow way.
        if not all(w and not w[0].isspace() for w in later):
            return self._count_by_segments(text)
        if len(self._words) > _MAX_CACHE:
            self._words.clear()
        if not self._words.has_first(first):
            self._words.put_first(first, self._encoded(first))
        new = [w for w in set(later) if not self._words.has_later(w)]
        for word, tokens in zip(new, self._encode_all([" " + w for w in new]), strict=True):
            self._words.put_later(word, tokens)
        return self._words.count(text)

    def _count_by_segments(self, text: str) -> int:
        split = _PRETOKENIZER_SPLIT if _STDLIB_ONLY_SPACES.search(text) else _SEGMENTS
        pieces = split.findall(text)
        cache = self._segments
        try:
            return sum(map(cache.__getitem__, pieces))
        except KeyError:
            if len(cache) > _MAX_CACHE:
                cache.clear()
            new = set(pieces).difference(cache)
            for piece, tokens in zip(new, self._encode_all(list(new)), strict=True):
                cache[piece] = tokens
            return sum(map(cache.__getitem__, pieces))

    def _encoded(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def _encode_all(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]


class EncodingCounter:
    """Exact for any tokenizer, by encoding the whole text."""

    def __init__(self, tokenizer: Tokenizer, name: str) -> None:
        self.tokenizer = tokenizer
        self.name = name

    def count(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)


class CharCounter:
    """No tokenizer at hand: about four characters a token."""

    name = "characters/4"

    def count(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)


def counter_for(tokenizer: Tokenizer, name: str) -> TokenCounter:
    """The fastest exact counter for this tokenizer."""
    spec = json.loads(tokenizer.to_str())
    pre = spec.get("pre_tokenizer") or {}
    if (
        spec.get("normalizer") is None
        and spec.get("model", {}).get("type") == "BPE"
        and pre.get("type") == "ByteLevel"
        and pre.get("use_regex", True)
        and not pre.get("add_prefix_space", False)
    ):
        try:
            return ByteLevelCounter(tokenizer, name)
        except ValueError:  # a special token with whitespace in it
            pass
    return EncodingCounter(tokenizer, name)
