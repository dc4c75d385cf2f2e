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


def normalized_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).hexdigest()


def find_duplicates(candidates: list[DedupCandidate], threshold: float = 0.8) -> list[Duplicate]:
    """Every candidate that duplicates a preferred one, with the copy it duplicates."""
    ordered = sorted(candidates, key=lambda c: (c.rank, c.doc_id))
    duplicates: dict[str, Duplicate] = {}
    first_by_hash: dict[str, str] = {}
    unique: list[DedupCandidate] = []
    for candidate in ordered:
        digest = normalized_hash(candidate.text)
        if digest in first_by_hash:
            kept = first_by_hash[digest]
            duplicates[candidate.doc_id] = Duplicate(candidate.doc_id, kept, "exact", 1.0)
        else:
            first_by_hash[digest] = candidate.doc_id
            unique.append(candidate)

    signatures = [minhash_signature(c.text) for c in unique]
    buckets: dict[tuple[int, bytes], int] = {}
    rows = NUM_PERMUTATIONS // BANDS
    # Walk in preference order: a document is compared with the preferred copies before it.
    for index, (candidate, signature) in enumerate(zip(unique, signatures, strict=True)):
        if signature is None:
            continue
        keys = [
            (band, signature[band * rows : (band + 1) * rows].tobytes()) for band in range(BANDS)
        ]
        best: tuple[float, int] | None = None
        for key in keys:
            other = buckets.get(key)
            if other is None:
                continue
            similarity = float(np.mean(signatures[other] == signature))
            if similarity >= threshold and (best is None or similarity > best[0]):
                best = (similarity, other)
        if best is not None:
            kept = unique[best[1]].doc_id
            duplicates[candidate.doc_id] = Duplicate(candidate.doc_id, kept, "near", best[0])
            continue
        # Only kept copies go into the buckets, so a later duplicate points at a kept one.
        for key in keys:
            buckets.setdefault(key, index)
    return sorted(duplicates.values(), key=lambda d: d.doc_id)


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
