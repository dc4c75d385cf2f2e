"""Token counts in the base model's tokenizer, fast enough for gigabytes of books.

Byte-level BPE tokenizers (GPT-2, SmolLM2, Llama 3) first split text with a fixed regex and
then encode each piece on its own, so a text's token count is the sum of its pieces' counts.
No piece spans the start of a whitespace run that follows a non-space character (a piece is
letters, digits or other symbols with at most one space before them, or whitespace alone),
so the count is also the sum over whitespace-led segments: a run of whitespace and the
non-space run after it. `ByteLevelCounter` cuts text into those segments with a cheap stdlib
regex and caches the exact count of every distinct segment: after warm-up a count costs one
scan and a dict lookup per word. It is exact, and tested against the tokenizer. Other
tokenizers are counted by encoding; with no tokenizer, characters / 4 stand in.
"""

from __future__ import annotations

import json
import math
import re
from typing import Protocol

import regex
from tokenizers import Tokenizer

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
        self._cache: dict[str, int] = {}
        added = [t.content for t in tokenizer.get_added_tokens_decoder().values()]
        # Text that spells a special token is tokenized differently; it is encoded directly.
        self._special = re.compile("|".join(re.escape(t) for t in added)) if added else None

    def count(self, text: str) -> int:
        if self._special is not None and self._special.search(text):
            return len(self.tokenizer.encode(text, add_special_tokens=False).ids)
        split = _PRETOKENIZER_SPLIT if _STDLIB_ONLY_SPACES.search(text) else _SEGMENTS
        pieces = split.findall(text)
        cache = self._cache
        try:
            return sum(map(cache.__getitem__, pieces))  # warm: one C-level lookup a segment
        except KeyError:
            if len(cache) > _MAX_CACHE:
                cache.clear()
            for piece in set(pieces).difference(cache):
                cache[piece] = len(self.tokenizer.encode(piece, add_special_tokens=False).ids)
            return sum(map(cache.__getitem__, pieces))


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
        return ByteLevelCounter(tokenizer, name)
    return EncodingCounter(tokenizer, name)
