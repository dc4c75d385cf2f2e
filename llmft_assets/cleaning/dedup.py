"""Exact and near-duplicate documents: which to drop, and which copy each one duplicates.

Exact duplicates share the hash of their case-folded, whitespace-normalized text. Near
duplicates (the same book in two editions: another header era, other line wrapping, a
transcriber's note more or less) share most word 5-grams: MinHash signatures bucketed by LSH
find candidate pairs, and a pair is a duplicate when the signatures estimate a Jaccard
similarity of at least `threshold`. Of each group, the preferred copy is kept.

Candidates are consumed one at a time and no text is kept, so a corpus larger than memory can
be deduplicated. What stays proportional to the number of documents: in memory, each doc_id
as a Python string (about 50 bytes plus its length), 8 bytes per rank field, the 32-byte
SHA-256 of the normalized text and, while grouping, a handful of int64 arrays (union-find
parents, sort orders) and one LSH band (32 bytes): some 250 bytes a document in all, 25 MB
for 100,000; on disk, in a temporary file, the 128 x uint64 signatures (1 KiB a document),
memory-mapped when compared.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import zlib
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SHINGLE_WORDS = 5
NUM_PERMUTATIONS = 128
BANDS = 32  # 32 bands x 4 rows: pairs at Jaccard 0.8 meet in a band with p > 0.9999
_ROWS = NUM_PERMUTATIONS // BANDS
_WORD = re.compile(r"\w+")
_MERSENNE = np.uint64((1 << 61) - 1)
_rng = np.random.default_rng(20240601)
_PERM_A = _rng.integers(1, (1 << 61) - 1, NUM_PERMUTATIONS, dtype=np.uint64)
_PERM_B = _rng.integers(0, (1 << 61) - 1, NUM_PERMUTATIONS, dtype=np.uint64)
_BLOCK = 256  # shingles hashed at once: 256 KiB of work space however long the text
_NO_SIGNATURE = np.zeros(NUM_PERMUTATIONS, dtype=np.uint64).tobytes()


@dataclass(frozen=True)
class DedupCandidate:
    doc_id: str
    text: str
    rank: tuple[int, ...]  # lower is preferred as the copy to keep; one length for all


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
    return _normalized_digest(text).hex()


def _normalized_digest(text: str) -> bytes:
    return hashlib.sha256(" ".join(text.casefold().split()).encode()).digest()


def find_duplicates(
    candidates: Iterable[DedupCandidate], threshold: float = 0.8
) -> list[Duplicate]:
    """Every candidate that duplicates a preferred one, with the copy it duplicates.

    Duplicates group transitively: if a duplicates b and b duplicates c, the three are one
    group, its preferred copy (lowest rank, then doc_id) is kept and every other member names
    that copy as `kept`, with its own estimated similarity to it (1.0 and "exact" when their
    normalized texts match). `candidates` is iterated once; pass a generator to hold one text
    at a time.
    """
    return duplicates_among(map(fingerprint, candidates), threshold)


@dataclass(frozen=True)
class Fingerprint:
    """What deduplication needs of a document, without its text: computed where the text is
    read (a shard of the corpus) and compared corpus-wide later."""

    doc_id: str
    rank: tuple[int, ...]
    digest: bytes  # SHA-256 of the normalized text
    signature: np.ndarray | None  # MinHash; None for texts under five words


def fingerprint(candidate: DedupCandidate) -> Fingerprint:
    return Fingerprint(
        candidate.doc_id,
        tuple(int(field) for field in candidate.rank),
        _normalized_digest(candidate.text),
        minhash_signature(candidate.text),
    )


def duplicates_among(prints: Iterable[Fingerprint], threshold: float = 0.8) -> list[Duplicate]:
    """`find_duplicates` over fingerprints computed beforehand (iterated once)."""
    with tempfile.TemporaryDirectory(prefix="llmft-minhash-") as tmp:
        stacked = _Fingerprints.of(prints, Path(tmp) / "signatures.u64")
        if not stacked.doc_ids:
            return []
        return _Groups(stacked, threshold).duplicates()


@dataclass
class _Fingerprints:
    """Per document, in the order given: id, rank, normalized-text digest, MinHash signature
    (on disk; all zeros and `signed` False for texts under five words)."""

    doc_ids: list[str]
    ranks: np.ndarray  # (n, rank fields) int64
    digests: np.ndarray  # (n, 4) uint64: the SHA-256 digest
    signed: np.ndarray  # (n,) bool
    signatures: np.ndarray  # (n, NUM_PERMUTATIONS) uint64, memory-mapped

    @classmethod
    def of(cls, prints: Iterable[Fingerprint], spill: Path) -> _Fingerprints:
        doc_ids: list[str] = []
        ranks, digests, signed = array("q"), bytearray(), bytearray()
        with open(spill, "wb") as signatures:
            for document in prints:
                if doc_ids and len(document.rank) * len(doc_ids) != len(ranks):
                    raise ValueError(f"rank of {document.doc_id!r} has another length")
                doc_ids.append(document.doc_id)
                ranks.extend(document.rank)
                digests += document.digest
                signed.append(document.signature is not None)
                signature = document.signature
                signatures.write(_NO_SIGNATURE if signature is None else signature.tobytes())
        n = len(doc_ids)
        return cls(
            doc_ids,
            np.frombuffer(ranks, dtype=np.int64).reshape(n, -1) if n else np.empty((0, 0)),
            np.frombuffer(digests, dtype=np.uint64).reshape(n, 4),
            np.frombuffer(signed, dtype=np.bool_),
            np.memmap(spill, dtype=np.uint64, mode="r", shape=(n, NUM_PERMUTATIONS))
            if n
            else np.empty((0, NUM_PERMUTATIONS), dtype=np.uint64),
        )


class _Groups:
    """Union-find over documents, where a group's root is its most preferred member."""

    def __init__(self, prints: _Fingerprints, threshold: float) -> None:
        self.prints = prints
        n = len(prints.doc_ids)
        self.by_id = np.argsort(np.array(prints.doc_ids, dtype=object), kind="stable")
        id_order = np.empty(n, dtype=np.int64)
        id_order[self.by_id] = np.arange(n)
        preferred = np.lexsort((id_order, *prints.ranks.T[::-1]))
        self.position = np.empty(n, dtype=np.int64)  # 0 for the most preferred document
        self.position[preferred] = np.arange(n)
        self.first_copy = self._exact_copies()
        self.parent = self.first_copy.copy()
        self._near_copies(threshold)

    def _exact_copies(self) -> np.ndarray:
        """For each document, the most preferred document with the same normalized text."""
        digests = self.prints.digests
        order = np.lexsort((self.position, *digests.T[::-1]))
        ordered = digests[order]
        starts = np.ones(len(order), dtype=bool)
        starts[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
        first = np.empty(len(order), dtype=np.int64)
        first[order] = order[np.flatnonzero(starts)][np.cumsum(starts) - 1]
        return first

    def _near_copies(self, threshold: float) -> None:
        """Join the first copies whose signatures share a band and estimate >= threshold.

        Each band is bucketed by sorting that band's rows of every signature, so memory holds
        one band at a time. Pairs already in one group are not compared again: joining them
        would change nothing.
        """
        signatures = self.prints.signatures
        unique = np.flatnonzero(
            (self.first_copy == np.arange(len(self.first_copy))) & self.prints.signed
        )
        for band in range(BANDS):
            rows = np.asarray(signatures[unique, band * _ROWS : (band + 1) * _ROWS])
            order = np.lexsort(rows.T[::-1])
            rows = rows[order]
            same = np.all(rows[1:] == rows[:-1], axis=1)
            starts = np.flatnonzero(np.diff(np.concatenate(([False], same, [False])).astype(int)))
            for start, end in starts.reshape(-1, 2):
                members = unique[order[start : end + 1]]
                for i, member in enumerate(members):
                    for other in members[:i]:
                        if self.root(member) != self.root(other) and (
                            _similarity(signatures[other], signatures[member]) >= threshold
                        ):
                            self.join(member, other)

    def root(self, index: int) -> int:
        parent = self.parent
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = int(parent[index])
        return index

    def join(self, a: int, b: int) -> None:
        a, b = self.root(a), self.root(b)
        if self.position[a] < self.position[b]:
            self.parent[b] = a
        else:
            self.parent[a] = b

    def duplicates(self) -> list[Duplicate]:
        """By doc_id, every document that is not its group's root."""
        ids, signatures = self.prints.doc_ids, self.prints.signatures
        found: list[Duplicate] = []
        for index in map(int, self.by_id):
            kept = self.root(index)
            if kept == index:
                continue
            copy = int(self.first_copy[index])
            if copy == kept:
                found.append(Duplicate(ids[index], ids[kept], "exact", 1.0))
            else:
                similarity = _similarity(signatures[kept], signatures[copy])
                found.append(Duplicate(ids[index], ids[kept], "near", similarity))
        return found


def _similarity(a: np.ndarray, b: np.ndarray) -> float:
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
    # A shingle that repeats changes no minimum, so they are not made unique (a sort).
    shingles = _mod_mersenne(shingles)
    signature = np.full(NUM_PERMUTATIONS, np.iinfo(np.uint64).max, dtype=np.uint64)
    for start in range(0, len(shingles), _BLOCK):
        block = shingles[start : start + _BLOCK, None]
        hashed = block * _PERM_A
        hashed += _PERM_B
        np.minimum(signature, _mod_mersenne(hashed).min(axis=0), out=signature)
    return signature


def _mod_mersenne(values: np.ndarray) -> np.ndarray:
    """`values % (2**61 - 1)`, in place, without numpy's slow uint64 division: since 2**61 is
    1 modulo the prime, a value is (value >> 61) + (value & prime), which is under twice the
    prime, modulo it."""
    high = values >> np.uint64(61)
    values &= _MERSENNE
    values += high
    np.subtract(values, _MERSENNE, out=values, where=values >= _MERSENNE)
    return values
