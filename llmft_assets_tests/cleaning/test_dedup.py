"""Exact and near-duplicate documents, on the bundled books and their reissued editions."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from llmft_assets.cleaning import dedup
from llmft_assets.cleaning.dedup import (
    BANDS,
    NUM_PERMUTATIONS,
    DedupCandidate,
    Duplicate,
    find_duplicates,
    keep_rank,
    minhash_signature,
    normalized_hash,
)
from llmft_assets.cleaning.documents import CleanedDocument, clean_document

SAMPLE_BOOKS = Path(__file__).resolve().parents[2] / "llmft_assets" / "sample_data" / "gutenberg"
CTHULHU = "pg68283-orig_call-of-cthulhu_2022"
CTHULHU_REISSUE = "pg68283-reissue_call-of-cthulhu_2013-style"
BELLS = "11563-8_morning-bells_2004_latin1"
BELLS_CP1252 = "morning-bells_cp1252-labelled-utf8"
ALICE = "alice30_1994-etext"
SERMON = "a-short-sermon_no-markers"
SMALL_BOOKS = [CTHULHU, CTHULHU_REISSUE, BELLS, BELLS_CP1252, ALICE, SERMON]


@pytest.fixture(scope="module")
def books() -> dict[str, CleanedDocument]:
    return {
        stem: clean_document(
            (SAMPLE_BOOKS / f"{stem}.txt").read_bytes(),
            doc_id=stem,
            source="gutenberg",
            file_name=f"{stem}.txt",
        )
        for stem in SMALL_BOOKS
    }


def candidate(document: CleanedDocument) -> DedupCandidate:
    """Ranked as the pipeline ranks them."""
    return DedupCandidate(
        document.doc_id, document.text, keep_rank(document.flags, document.char_count)
    )


def essay(seed: int, words: int = 400) -> str:
    """A deterministic text whose word 5-grams are (practically) its own."""
    vocabulary = [f"w{seed}x{i}" for i in range(words)]
    return " ".join(vocabulary[(i * 7 + seed) % words] for i in range(words))


def by_id(duplicates: list[Duplicate]) -> dict[str, Duplicate]:
    return {d.doc_id: d for d in duplicates}


def test_exact_duplicates_differ_only_in_whitespace_and_case() -> None:
    text = "The lantern-maker lived at the bottom of Pell Street, where the fog came up."
    variant = "  THE LANTERN-MAKER lived at the bottom\nof Pell Street,   where the fog\tcame up.\n"
    assert normalized_hash(text) == normalized_hash(variant)
    duplicates = find_duplicates(
        [DedupCandidate("a", text, (0,)), DedupCandidate("b", variant, (1,))]
    )
    assert duplicates == [Duplicate("b", "a", "exact", 1.0)]


def test_exact_duplicate_keeps_the_preferred_copy() -> None:
    text = essay(1)
    duplicates = find_duplicates(
        [DedupCandidate("first", text, (5,)), DedupCandidate("second", text.upper(), (1,))]
    )
    assert duplicates == [Duplicate("first", "second", "exact", 1.0)]


def test_reissued_cthulhu_is_a_near_duplicate_of_the_original(
    books: dict[str, CleanedDocument],
) -> None:
    original, reissue = books[CTHULHU], books[CTHULHU_REISSUE]
    # Different header era, line width and illustration: not the same text, nor the same hash.
    assert original.text != reissue.text
    assert normalized_hash(original.text) != normalized_hash(reissue.text)
    assert original.flags == reissue.flags == ""  # both have their markers
    assert original.char_count > reissue.char_count
    duplicates = find_duplicates([candidate(reissue), candidate(original)])
    assert len(duplicates) == 1
    duplicate = duplicates[0]
    assert (duplicate.doc_id, duplicate.kept, duplicate.kind) == (CTHULHU_REISSUE, CTHULHU, "near")
    assert 0.8 <= duplicate.similarity <= 1.0


def test_bundled_books_keep_one_copy_of_each(books: dict[str, CleanedDocument]) -> None:
    duplicates = by_id(find_duplicates([candidate(book) for book in books.values()]))
    assert set(duplicates) == {CTHULHU_REISSUE, BELLS_CP1252}
    assert duplicates[CTHULHU_REISSUE].kept == CTHULHU
    assert duplicates[BELLS_CP1252].kept == BELLS
    assert {d.kind for d in duplicates.values()} == {"near"}
    kept = set(books) - set(duplicates)
    assert kept == {CTHULHU, BELLS, ALICE, SERMON}


def test_unrelated_books_are_not_duplicates(books: dict[str, CleanedDocument]) -> None:
    unrelated = [books[name] for name in (CTHULHU, BELLS, ALICE, SERMON)]
    assert find_duplicates([candidate(book) for book in unrelated], threshold=0.3) == []


def edited(words: list[str], every: int, offset: int, word: str) -> list[str]:
    """The words with one in every `every` (from `offset`) replaced: another edition."""
    return [word if i % every == offset else w for i, w in enumerate(words)]


def test_near_duplicate_threshold_is_respected() -> None:
    base = essay(3, words=1000).split()
    # One word in 50 changed: about 82% of the word 5-grams are shared.
    variant = edited(base, 50, 0, "changed")
    candidates = [
        DedupCandidate("a", " ".join(base), (0,)),
        DedupCandidate("b", " ".join(variant), (1,)),
    ]
    assert find_duplicates(candidates, threshold=0.95) == []
    duplicates = find_duplicates(candidates, threshold=0.6)
    assert [(d.doc_id, d.kept, d.kind) for d in duplicates] == [("b", "a", "near")]
    assert 0.6 <= duplicates[0].similarity < 0.95


def test_transitive_group_keeps_a_single_copy() -> None:
    # b is an edited a, c an edited b: a~b and b~c, while a and c alone fall below 0.8.
    a = essay(5, words=2000).split()
    b = edited(a, 80, 0, "changed")
    c = edited(b, 80, 40, "altered")
    candidates = [
        DedupCandidate("c", " ".join(c), (2,)),
        DedupCandidate("a", " ".join(a), (0,)),
        DedupCandidate("b", " ".join(b), (1,)),
    ]
    assert find_duplicates(candidates[:2]) == []  # a and c are not duplicates by themselves
    duplicates = by_id(find_duplicates(candidates))
    assert set(duplicates) == {"b", "c"}
    assert {d.kept for d in duplicates.values()} == {"a"}  # never a dropped copy
    assert all(d.kind == "near" for d in duplicates.values())
    assert duplicates["c"].similarity < 0.8 <= duplicates["b"].similarity  # each to the kept a


def test_all_similar_copies_point_at_the_kept_one() -> None:
    a = essay(9, words=2000).split()
    b = edited(a, 400, 100, "changed")
    c = edited(b, 400, 300, "altered")  # closer to b than to a
    candidates = [
        DedupCandidate("a", " ".join(a), (0,)),
        DedupCandidate("b", " ".join(b), (1,)),
        DedupCandidate("c", " ".join(c), (2,)),
    ]
    duplicates = by_id(find_duplicates(candidates))
    assert {doc: d.kept for doc, d in duplicates.items()} == {"b": "a", "c": "a"}


def test_exact_copy_of_a_near_duplicate_points_at_the_kept_copy() -> None:
    a = essay(10, words=1000).split()
    b = " ".join(edited(a, 200, 7, "changed"))
    candidates = [
        DedupCandidate("a", " ".join(a), (0,)),
        DedupCandidate("b", b, (1,)),
        DedupCandidate("b-copy", b.upper(), (2,)),
    ]
    duplicates = by_id(find_duplicates(candidates))
    assert {doc: (d.kept, d.kind) for doc, d in duplicates.items()} == {
        "b": ("a", "near"),
        "b-copy": ("a", "near"),
    }


@pytest.mark.parametrize(
    ("ranks", "kept"),
    [
        ({"x": (0,), "y": (1,), "z": (2,)}, "x"),
        ({"x": (2,), "y": (0,), "z": (1,)}, "y"),
        ({"x": (True, -10), "y": (False, -5), "z": (False, -7)}, "z"),
    ],
)
def test_preference_rank_decides_which_copy_is_kept(ranks: dict[str, tuple], kept: str) -> None:
    text = essay(6)
    candidates = [
        DedupCandidate(doc_id, text + " " * i, rank)
        for i, (doc_id, rank) in enumerate(ranks.items())
    ]
    duplicates = find_duplicates(candidates)
    assert {d.doc_id for d in duplicates} == set(ranks) - {kept}
    assert {d.kept for d in duplicates} == {kept}


def test_near_duplicates_follow_the_rank_too() -> None:
    # As the pipeline ranks: a copy whose markers were found beats a longer one without.
    words = essay(8, words=1500).split()
    longer = [*words, "with", "a", "preface", "of", "its", "own"]
    marked, unmarked = " ".join(words), " ".join(longer)
    candidates = [
        DedupCandidate("marked", marked, keep_rank("", len(marked))),
        DedupCandidate("unmarked", unmarked, keep_rank("no_markers", len(unmarked))),
    ]
    assert find_duplicates(candidates) == [
        Duplicate("unmarked", "marked", "near", pytest.approx(1.0, abs=0.1))
    ]


@pytest.mark.parametrize("text", ["", "one", "one two three four", "Ends here. Full stop!"])
def test_fewer_than_five_words_have_no_signature(text: str) -> None:
    assert minhash_signature(text) is None


def test_short_texts_are_never_near_duplicates() -> None:
    candidates = [
        DedupCandidate("a", "one two three four", (0,)),
        DedupCandidate("b", "one two three four!", (1,)),
        DedupCandidate("c", "one two three five", (2,)),
        DedupCandidate("d", "one two three four five six seven", (3,)),
    ]
    duplicates = find_duplicates(candidates, threshold=0.0)
    assert [(d.doc_id, d.kind) for d in duplicates] == []


def test_signature_ignores_case_wrapping_and_punctuation() -> None:
    text = "The lantern-maker lived at the bottom of Pell Street, where the fog came."
    rewrapped = "THE LANTERN MAKER\nlived at the bottom of\nPell Street -- where the fog came"
    assert (minhash_signature(text) == minhash_signature(rewrapped)).all()


def reference_find_duplicates(
    candidates: list[DedupCandidate], threshold: float = 0.8
) -> list[Duplicate]:
    """The in-memory algorithm `find_duplicates` replaced (a text and a dict entry per
    candidate, 32 dicts of buckets), kept here as the reference its results must match."""
    ordered = sorted(candidates, key=lambda c: (c.rank, c.doc_id))
    digests = [normalized_hash(c.text) for c in ordered]
    group = list(range(len(ordered)))

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
    signatures = {i: minhash_signature(ordered[i].text) for i in unique}
    buckets: dict[tuple[int, bytes], list[int]] = {}
    rows = NUM_PERMUTATIONS // BANDS
    for index in unique:
        signature = signatures[index]
        if signature is None:
            continue
        compared: set[int] = set()
        for band in range(BANDS):
            members = buckets.setdefault(
                (band, signature[band * rows : (band + 1) * rows].tobytes()), []
            )
            for other in members:
                if other not in compared:
                    compared.add(other)
                    if float(np.mean(signatures[other] == signature)) >= threshold:
                        join(other, index)
            members.append(index)
    duplicates = []
    for index, candidate in enumerate(ordered):
        kept = root(index)
        if kept == index:
            continue
        if digests[index] == digests[kept]:
            duplicates.append(Duplicate(candidate.doc_id, ordered[kept].doc_id, "exact", 1.0))
        else:
            a = signatures[first_by_hash[digests[kept]]]
            b = signatures[first_by_hash[digests[index]]]
            duplicates.append(
                Duplicate(candidate.doc_id, ordered[kept].doc_id, "near", float(np.mean(a == b)))
            )
    return sorted(duplicates, key=lambda d: d.doc_id)


def random_corpus(seed: int) -> list[DedupCandidate]:
    """Families of editions (words changed here and there, some edits of edits), exact copies
    in other case and wrapping, short texts, rank ties, in shuffled order."""
    rng = random.Random(seed)
    candidates: list[DedupCandidate] = []
    for family in range(rng.randint(3, 12)):
        base = essay(seed * 100 + family, words=rng.randint(20, 600)).split()
        editions = [base]
        for _ in range(rng.randint(0, 6)):
            source = rng.choice(editions)
            every = rng.choice([5, 10, 30, 80, 300])
            editions.append(edited(source, every, rng.randrange(every), f"e{rng.randrange(99)}"))
        for edition, words in enumerate(editions):
            text = " ".join(words)
            for copy in range(rng.choice([1, 1, 1, 2, 3])):
                shown = text.upper() if copy % 2 else text.replace(" ", "\n", copy)
                rank = (rng.random() < 0.3, -rng.choice([len(text), 1000]))
                candidates.append(DedupCandidate(f"f{family}-e{edition}-c{copy}", shown, rank))
    for short in range(rng.randint(0, 4)):
        candidates.append(DedupCandidate(f"short-{short}", "one two three", (False, -13)))
    rng.shuffle(candidates)
    return candidates


@pytest.mark.parametrize("seed", range(12))
def test_results_match_the_in_memory_algorithm_on_random_editions(seed: int) -> None:
    candidates = random_corpus(seed)
    for threshold in (0.0, 0.5, 0.8, 0.95):
        expected = reference_find_duplicates(candidates, threshold)
        assert find_duplicates(iter(candidates), threshold) == expected
    assert any(d.kind == "near" for d in reference_find_duplicates(candidates, 0.5))


def test_bundled_books_match_the_in_memory_algorithm(books: dict[str, CleanedDocument]) -> None:
    candidates = [candidate(book) for book in books.values()]
    for threshold in (0.3, 0.8):
        assert find_duplicates(candidates, threshold) == reference_find_duplicates(
            candidates, threshold
        )


def test_a_long_text_gets_the_same_signature_hashed_in_blocks(
    books: dict[str, CleanedDocument], monkeypatch: pytest.MonkeyPatch
) -> None:
    text = books[ALICE].text  # ~25,000 word 5-grams: several blocks
    blocked = minhash_signature(text)
    monkeypatch.setattr(dedup, "_BLOCK", 1 << 20)
    assert (minhash_signature(text) == blocked).all()
