"""Token counts in the base model's tokenizer, fast enough for gigabytes of books.

Byte-level BPE tokenizers (GPT-2, SmolLM2, Llama 3) first split text with a fixed regex and
then encode each piece on its own, so a text's token count is the sum of its pieces' counts.
`ByteLevelCounter` caches the count of every distinct piece: English text has a few hundred
thousand distinct pieces, so after warm-up a count costs one regex scan and a dict lookup per
word, several times faster than encoding. It is exact, and tested against the tokenizer.
Other tokenizers are counted by encoding; with no tokenizer, characters / 4 stand in.
"""

from __future__ import annotations

import json
import math
import re
from typing import Protocol

import regex
from tokenizers import Tokenizer

# The ByteLevel pre-tokenizer's split (tokenizers' GPT-2 pattern), in two spellings: the
# `regex` module's, identical to the tokenizer's, and a faster stdlib `re` one that is
# identical on text without Nl/No numerals (Roman numeral signs, superscripts, fractions) and
# without the C0 separators \x1c-\x1f, which stdlib treats as spaces.
_EXACT_SPLIT = regex.compile(
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
# Letters come first in the fast spelling because they are the commonest piece; at any given
# position a letter and an apostrophe cannot both start a match, so the order of the first
# two groups does not change what matches.
_FAST_SPLIT = re.compile(
    r"""[ ]?[^\W\d_]+|'s|'t|'re|'ve|'m|'ll|'d| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"""
)
_FAST_UNSAFE = regex.compile(r"[\p{Nl}\p{No}\x1c-\x1f]")
_ASCII_UNSAFE = re.compile(r"[\x1c-\x1f]")  # no Nl/No numeral is ASCII
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
        unsafe = _ASCII_UNSAFE if text.isascii() else _FAST_UNSAFE
        pieces = (_EXACT_SPLIT if unsafe.search(text) else _FAST_SPLIT).findall(text)
        cache = self._cache
        try:
            return sum(map(cache.__getitem__, pieces))  # warm: one C-level lookup a piece
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
