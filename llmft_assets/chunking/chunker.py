"""Split a document into chunks of at most `target_tokens`, at paragraph, then sentence bounds.

Paragraphs are packed greedily. A paragraph is split into its sentences when it is longer
than a chunk, or when the chunk being filled is still below `min_tokens` and the paragraph
does not fit whole; only a sentence longer than a chunk is cut between words. A chunk still
below `min_tokens` joins a neighbour when they fit together, and is dropped (and counted)
when not.

Counts are exact without re-encoding chunks: a chunk's count is the sum of each unit's count
taken together with the separator before it. That holds for any tokenizer whose pieces never
span from a non-space character into following whitespace, which is true of byte-level BPE;
other counters recount each chunk.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

import regex

from llmft_assets.chunking.tokens import ByteLevelCounter, TokenCounter

PARAGRAPH_BREAK = "\n\n"
_PARAGRAPHS = re.compile(r"\n[ \t]*\n+")
# A sentence ends with . ! ? or … (optionally closed by quotes or brackets) before
# whitespace and a capital, a digit or an opening quote; common abbreviations do not.
_SENTENCE_END = regex.compile(
    r"""(?<=[.!?…]["'”’)\]]{0,3})(?<!\b(?:Mr|Mrs|Ms|Dr|St|vs|e\.g|i\.e|etc)\.)"""
    r"""\s+(?=["'“‘(\[]?[\p{Lu}\p{N}])"""
)


@dataclass(frozen=True)
class ChunkingResult:
    chunks: list[tuple[str, int]]  # (text, token count)
    dropped_tokens: int  # tokens in chunks too short to keep that no neighbour could take


@dataclass(slots=True)
class _Unit:
    text: str
    joiner: str  # what goes before it when it follows another unit in a chunk
    alone: int  # tokens when it starts a chunk
    joined: int  # tokens of joiner + text when it follows another unit
    is_paragraph: bool


def chunk_text(
    text: str, counter: TokenCounter, target_tokens: int, min_tokens: int
) -> ChunkingResult:
    if not 0 < min_tokens <= target_tokens:
        raise ValueError(f"need 0 < min_tokens <= target_tokens, got {min_tokens}, {target_tokens}")
    packer = _Packer(counter, target_tokens, min_tokens)
    paragraphs = [p.strip("\n").rstrip() for p in _PARAGRAPHS.split(text)]
    units = deque([packer.unit(p, PARAGRAPH_BREAK, True) for p in paragraphs if p.strip()])
    return packer.merge_short(packer.pack(units))


class _Packer:
    def __init__(self, counter: TokenCounter, target: int, minimum: int) -> None:
        self.counter = counter
        self.target = target
        self.minimum = minimum
        self.additive = isinstance(counter, ByteLevelCounter)
        self.break_tokens = counter.count(f"a{PARAGRAPH_BREAK}a") - 2 * counter.count("a")

    def unit(self, text: str, joiner: str, is_paragraph: bool) -> _Unit:
        alone = self.counter.count(text)
        if self.additive and joiner == PARAGRAPH_BREAK and not text[:1].isspace():
            joined = alone + self.break_tokens  # the break splits into pieces of its own
        else:
            joined = self.counter.count(joiner + text)
        return _Unit(text, joiner, alone, joined, is_paragraph)

    def pack(self, queue: deque[_Unit]) -> list[tuple[str, int]]:
        chunks: list[tuple[str, int]] = []
        current: list[_Unit] = []
        tokens = 0
        while queue:
            unit = queue.popleft()
            cost = unit.joined if current else unit.alone
            overflows = tokens + cost > self.target
            if unit.alone > self.target or (
                overflows and unit.is_paragraph and tokens < self.minimum
            ):
                pieces = self._split(unit)
                if len(pieces) > 1:
                    queue.extendleft(reversed(pieces))
                    continue
            if current and overflows:
                chunks.append(self._finish(current, tokens))
                current, tokens, cost = [], 0, unit.alone
            current.append(unit)
            tokens += cost
        if current:
            chunks.append(self._finish(current, tokens))
        return chunks

    def _finish(self, units: list[_Unit], tokens: int) -> tuple[str, int]:
        text = units[0].text + "".join(u.joiner + u.text for u in units[1:])
        return text, tokens if self.additive else self.counter.count(text)

    def _split(self, unit: _Unit) -> list[_Unit]:
        """A paragraph into sentences; a sentence over the target into runs of words."""
        if unit.is_paragraph:
            sentences = _SENTENCE_END.split(unit.text)
            if len(sentences) > 1:
                return [
                    self.unit(s, unit.joiner if i == 0 else " ", False)
                    for i, s in enumerate(sentences)
                ]
        if unit.alone <= self.target:
            return [unit]
        runs = self._word_runs(unit.text.split(" "), " ")
        return [self.unit(r, unit.joiner if i == 0 else " ", False) for i, r in enumerate(runs)]

    def _word_runs(self, words: list[str], joiner: str) -> list[str]:
        """Longest runs of words that fit, by binary search; a lone word that does not fit
        (a URL, a base64 blob) is cut between characters instead."""
        runs: list[str] = []
        start = 0
        while start < len(words):
            low, high = start, len(words)
            while low < high:
                middle = (low + high + 1) // 2
                if self.counter.count(joiner.join(words[start:middle])) <= self.target:
                    low = middle
                else:
                    high = middle - 1
            if low == start:
                if len(words[start]) <= 1:  # one character over the target: nothing to cut
                    raise ValueError(
                        f"target_tokens={self.target} is less than the "
                        f"{self.counter.count(words[start])} tokens of {words[start]!r}"
                    )
                runs.extend(self._word_runs(list(words[start]), ""))
                start += 1
            else:
                runs.append(joiner.join(words[start:low]))
                start = low
        return runs

    def merge_short(self, chunks: list[tuple[str, int]]) -> ChunkingResult:
        """Fold chunks under the minimum into a neighbour, or drop them."""
        kept: list[tuple[str, int]] = []
        dropped = 0
        for index, (text, tokens) in enumerate(chunks):
            if tokens >= self.minimum:
                kept.append((text, tokens))
                continue
            if kept and self._fits(kept[-1][0], text):
                kept[-1] = self._joined(kept[-1][0], text)
            elif index + 1 < len(chunks) and self._fits(text, chunks[index + 1][0]):
                chunks[index + 1] = self._joined(text, chunks[index + 1][0])
            else:
                dropped += tokens
        return ChunkingResult(kept, dropped)

    def _joined(self, first: str, second: str) -> tuple[str, int]:
        text = first + PARAGRAPH_BREAK + second
        return text, self.counter.count(text)

    def _fits(self, first: str, second: str) -> bool:
        return self._joined(first, second)[1] <= self.target
