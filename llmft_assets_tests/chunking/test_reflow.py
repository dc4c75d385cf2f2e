"""unwrap_prose joins the hard wraps of prose and leaves everything else alone."""

from __future__ import annotations

import re

from llmft_assets.chunking.reflow import unwrap_prose

PROSE = (
    "It was a bright cold day in April, and the clocks were striking\n"
    "thirteen. Winston Smith, his chin nuzzled into his breast in an\n"
    "effort to escape the vile wind, slipped quickly through the glass\n"
    "doors of Victory Mansions, though not quickly enough."
)
PROSE_JOINED = " ".join(PROSE.split("\n"))
MORE_PROSE = (
    "The hallway smelt of boiled cabbage and old rag mats. At one end\n"
    "of it a coloured poster, too large for indoor display, had been\n"
    "tacked to the wall."
)
VERSE = (
    "Tyger Tyger, burning bright,\n"
    "In the forests of the night;\n"
    "What immortal hand or eye,\n"
    "Could frame thy fearful symmetry?"
)
INDENTED = (
    "    Of such great powers or beings there may be conceivably a\n"
    "    survival of a hugely remote period when consciousness was\n"
    "    manifested, perhaps, in shapes and forms long since withdrawn"
)
INDENTED_JOINED = " ".join(line.strip() for line in INDENTED.split("\n"))
HEADING = "CHAPTER I. Down the Rabbit-Hole"


def _paragraphs(text: str) -> list[str]:
    return re.split(r"\n[ \t]*\n+", text)


def test_hard_wrapped_prose_is_joined() -> None:
    text = "\n\n".join([HEADING, PROSE, MORE_PROSE])
    assert unwrap_prose(text) == "\n\n".join([HEADING, PROSE_JOINED, MORE_PROSE.replace("\n", " ")])


def test_verse_and_one_line_paragraphs_keep_their_lines() -> None:
    text = "\n\n".join([HEADING, PROSE, VERSE, INDENTED, "A line of its own.", MORE_PROSE])
    paragraphs = _paragraphs(unwrap_prose(text))
    assert paragraphs[0] == HEADING
    assert paragraphs[1] == PROSE_JOINED
    assert paragraphs[2] == VERSE
    assert paragraphs[3] == INDENTED_JOINED  # a quotation is prose too, at its own margin
    assert paragraphs[4] == "A line of its own."
    assert "\n" not in paragraphs[5]


def test_a_paragraph_with_a_short_middle_line_is_not_prose() -> None:
    table = (
        "Name of the station and its distance from the city centre\n"
        "Paddington          1.2\n"
        "Kings Cross and St Pancras International, both on the same road"
    )
    text = "\n\n".join([PROSE, table, MORE_PROSE])
    assert _paragraphs(unwrap_prose(text))[1] == table


def test_separators_and_words_are_kept() -> None:
    text = "\n" + PROSE + "\n\n\n" + VERSE + "\n \n" + INDENTED + "\n\t\n" + MORE_PROSE + "\n"
    result = unwrap_prose(text)
    assert result.split() == text.split()
    assert result.startswith("\n") and result.endswith("\n")
    assert "\n\n\n" + VERSE + "\n \n" + INDENTED_JOINED + "\n\t\n" in result
    assert PROSE_JOINED in result and MORE_PROSE.replace("\n", " ") in result
    assert len(_paragraphs(result)) == len(_paragraphs(text))


def test_first_line_indented_prose_is_joined() -> None:
    """Many older etexts (Alice, 1994) indent each paragraph's first line by two spaces."""
    alice = (
        "  Alice was beginning to get very tired of sitting by her sister\n"
        "on the bank, and of having nothing to do:  once or twice she had\n"
        "peeped into the book her sister was reading, but it had no\n"
        "pictures or conversations in it, `and what is the use of a book,'"
    )
    text = "\n\n".join([alice, PROSE, VERSE])
    paragraphs = _paragraphs(unwrap_prose(text))
    assert "\n" not in paragraphs[0]
    assert paragraphs[0].startswith("Alice was")  # the indent is layout, not text
    assert paragraphs[0] == " ".join(alice.split())  # "to do:  once" has one space now
    assert paragraphs[2] == VERSE


def test_reflowed_prose_has_one_space_between_sentences() -> None:
    """Typewriter spacing (two spaces after a full stop) goes with the wraps; verse keeps its
    spacing, and so does a line that was not wrapped."""
    spaced = (
        "Down, down, down.  Would the fall NEVER come to an end!  `I wonder\n"
        "how many miles I've fallen by this time?'  she said aloud.  `I must\n"
        "be getting somewhere near the centre of the earth."
    )
    one_line = "A line of its own.  With two spaces."
    text = "\n\n".join([spaced, VERSE.replace(", ", ",  "), one_line])
    paragraphs = _paragraphs(unwrap_prose(text))
    assert paragraphs[0] == " ".join(spaced.split())
    assert paragraphs[1] == VERSE.replace(", ", ",  ")
    assert paragraphs[2] == one_line


def test_a_centred_heading_line_is_not_joined_to_what_follows() -> None:
    centred = (
        "                    THE CALL OF CTHULHU, A TALE OF HORROR\n"
        "Found among the papers of the late Francis Wayland Thurston, of Boston."
    )
    text = "\n\n".join([PROSE, centred, MORE_PROSE])
    assert _paragraphs(unwrap_prose(text))[1] == centred.lstrip()  # its lines, not its centring


def test_empty_and_blank_text_pass_through() -> None:
    for text in ["", "\n\n", "   \n  "]:
        assert unwrap_prose(text) == text


def test_bundled_books_keep_their_words_and_lose_their_wraps(
    cleaned_samples: dict[str, str],
) -> None:
    books = {n: t for n, t in cleaned_samples.items() if n.startswith("book:")}
    assert books
    lines_before = lines_after = 0
    for name, text in books.items():
        result = unwrap_prose(text)
        assert result.split() == text.split(), name
        assert unwrap_prose(result) == result, name  # a second pass changes nothing
        lines_before += text.count("\n")
        lines_after += result.count("\n")
        for paragraph in _paragraphs(result):
            lines = paragraph.split("\n")
            prose_like = (
                len(lines) > 2
                and lines[0].startswith("  ")
                and not lines[0].startswith("   ")
                and not any(line[:1].isspace() for line in lines[1:])
                and all(len(line) >= 60 for line in lines[:-1])
            )
            assert not prose_like, f"{name}: still wrapped: {paragraph[:120]!r}"
            if len(lines) == 1:  # a centred heading, or a joined paragraph
                assert not paragraph[:1].isspace(), f"{name}: indented: {paragraph[:80]!r}"
    assert lines_after < lines_before / 2
