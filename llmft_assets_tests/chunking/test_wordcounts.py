"""The C table behind ByteLevelCounter: stored counts, summed exactly, unknown words refused."""

from __future__ import annotations

import pytest

from llmft_assets.chunking._wordcounts import WordCounts


def test_sums_the_first_word_and_each_later_word() -> None:
    words = WordCounts()
    words.put_first("Hello", 1)
    words.put_later("world", 2)
    words.put_later("again", 3)
    assert words.count("Hello world again world") == 1 + 2 + 3 + 2
    assert words.count("Hello") == 1


def test_a_word_not_stored_in_its_place_gives_minus_one() -> None:
    words = WordCounts()
    words.put_first("Hello", 1)
    words.put_later("world", 2)
    assert words.count("world Hello") == -1  # each table knows its own place
    assert words.count("Hello  world") == -1  # the empty word between two spaces
    assert words.count("Hello world ") == -1  # and after a trailing space
    assert words.count("") == -1
    words.put_first("", 0)
    assert words.count("") == 0


def test_words_of_every_string_width_compare_by_code_point() -> None:
    words = WordCounts()
    words.put_first("café", 2)  # one byte a character
    words.put_later("Ⅻ", 3)  # two bytes
    words.put_later("😀", 4)  # four bytes
    assert words.count("café Ⅻ 😀") == 9
    assert words.count("café 😀 Ⅻ 😀") == 13
    assert words.count("cafe Ⅻ") == -1
    assert words.has_first("café") and not words.has_first("Ⅻ")
    assert words.has_later("😀") and not words.has_later("😁")


def test_many_words_survive_growth_and_a_put_again_replaces() -> None:
    words = WordCounts()
    words.put_first("start", 1)
    vocabulary = [f"w{i}·{'x' * (i % 7)}" for i in range(20_000)]
    for i, word in enumerate(vocabulary):
        words.put_later(word, i % 5)
    assert len(words) == 20_001
    assert words.count("start " + " ".join(vocabulary)) == 1 + sum(i % 5 for i in range(20_000))
    words.put_later(vocabulary[0], 7)
    assert words.count(f"start {vocabulary[0]}") == 8
    assert len(words) == 20_001


def test_clear_forgets_everything() -> None:
    words = WordCounts()
    words.put_first("a", 1)
    words.put_later("b", 1)
    words.clear()
    assert len(words) == 0
    assert words.count("a b") == -1
    words.put_first("a", 5)
    assert words.count("a") == 5


def test_bad_arguments_are_refused() -> None:
    words = WordCounts()
    with pytest.raises(TypeError):
        words.count(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        words.put_later(1, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="negative"):
        words.put_later("a", -1)
    with pytest.raises(TypeError):
        WordCounts(1)  # type: ignore[call-arg]
