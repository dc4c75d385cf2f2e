"""Exact and near-duplicate documents: which to drop, and which copy each one duplicates.

Exact duplicates share the hash of their case-folded, whitespace-normalized text. Near
duplicates (the same book in two editions: another header era, other line wrapping, a
transcriber's note more or less) share most word 5-grams: MinHash signatures bucketed by LSH
find candidate pairs, and a pair is a duplicate when the signatures estimate a Jaccard
similarity of at least `threshold`. Of each group, the preferred copy is kept.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass

import numpy as np

SHINGLE_WORDS = 5
NUM_PERMUTATIONS = 128
BANDS = 32  # 32 bands x 4 rows: pairs at Jaccard 0.8 meet in a band with p > 0.9999
_WORD = re.compile(r"\w+")
_MERSENNE = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(20240601)
_PERM_A = _rng.integers(1, (1 << 61) - 1, NUM_PERMUTATIONS, dtype=np.uint64)
_PERM_B = _rng.integers(0, (1 << 61) - 1, NUM_PERMUTATIONS, dtype=np.uint64)
_BLOCK = 65536


@dataclass(frozen=True)
class DedupCandidate:
    doc_id: str
    text: str
    rank: tuple  # lower is preferred as the copy to keep


@dataclass(frozen=True)
class Duplicate:
    doc_id: str
    kept: str
    kind: str  # "exact" or "near"
    similarity: float


def keep_rank(flags: str, char_count: int) -> tuple[bool, int]:
    """A cleaned document's `DedupCandidate.rank`: copies whose Project Gutenberg markers were
    found first (a copy without them may still carry a licence), then the longest."""
    return ("no_markers" in flags, -char_count)


def normalized_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest()


def find_duplicates(candidates: list[DedupCandidate], threshold: float = 0.8) -> list[Duplicate]:
    """Every candidate that duplicates a preferred one, with the copy it duplicates.

    Duplicates group transitively: if a duplicates b and b duplicates c, the three are one
    group, its preferred copy is kept and every other member names that copy as `kept`, with
    its own estimated similarity to it (1.0 and "exact" when their normalized texts match).
    """
    ordered = sorted(candidates, key=lambda c: (c.rank, c.doc_id))
    digests = [normalized_hash(c.text) for c in ordered]
    group = list(range(len(ordered)))  # union-find; a group's root is its most preferred member

    def root(index: int) -> int:
        while group[index] != index:
            group[index] = group[group[index]]
            index = group[index]
        return index

    def join(a: int, b: int) -> None:
        a, b = root(a), root(b)
        group[max(a, b)] = min(a, b)

    first_by_hash: dict[str, int] = {}
    unique: list[int] = []
    for index, digest in enumerate(digests):
        if digest in first_by_hash:
            join(first_by_hash[digest], index)
        else:
            first_by_hash[digest] = index
            unique.append(index)

    signatures: dict[int, np.ndarray | None] = {
        i: minhash_signature(ordered[i].text) for i in unique
    }
    buckets: dict[tuple[int, bytes], list[int]] = {}
    rows = NUM_PERMUTATIONS // BANDS
    for index in unique:
        signature = signatures[index]
        if signature is None:
            continue
        compared: set[int] = set()
        for band in range(BANDS):
            key = (band, signature[band * rows : (band + 1) * rows].tobytes())
            members = buckets.setdefault(key, [])
            for other in members:
                if other not in compared:
                    compared.add(other)
                    if _similarity(signatures[other], signature) >= threshold:
                        join(other, index)
            members.append(index)

    duplicates: list[Duplicate] = []
    for index, candidate in enumerate(ordered):
        kept = root(index)
        if kept == index:
            continue
        if digests[index] == digests[kept]:
            duplicates.append(Duplicate(candidate.doc_id, ordered[kept].doc_id, "exact", 1.0))
        else:
            similarity = _similarity(
                signatures[first_by_hash[digests[kept]]],
                signatures[first_by_hash[digests[index]]],
            )
            duplicates.append(Duplicate(candidate.doc_id, ordered[kept].doc_id, "near", similarity))
    return sorted(duplicates, key=lambda d: d.doc_id)


def _similarity(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Estimated Jaccard similarity of two signatures' shingle sets."""
    return float(np.mean(a == b))


def minhash_signature(text: str) -> np.ndarray | None:
    """MinHash of the text's word 5-grams; None when it has fewer than five words."""
    words = _WORD.findall(text.casefold())
    if len(words) < SHINGLE_WORDS:
        return None
    vocabulary: dict[str, int] = {}
    ids = np.fromiter(
        (vocabulary.setdefault(w, zlib.crc32(w.encode())) for w in words),
        dtype=np.uint64,
        count=len(words),
    )
    shingles = np.zeros(len(words) - SHINGLE_WORDS + 1, dtype=np.uint64)
    for offset in range(SHINGLE_WORDS):
        shingles = shingles * np.uint64(1_000_003) + ids[offset : offset + len(shingles)]
    shingles = np.unique(shingles) % _MERSENNE
    signature = np.full(NUM_PERMUTATIONS, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, len(shingles), _BLOCK):
        block = shingles[start : start + _BLOCK, None]
        hashed = (block * _PERM_A + _PERM_B) % _MERSENNE
        signature = np.minimum(signature, hashed.min(axis=0))
    return signature
