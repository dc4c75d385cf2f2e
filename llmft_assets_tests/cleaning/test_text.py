"""Notes: plain text and Markdown kept as written, with their title found."""

from __future__ import annotations

import pytest

from llmft_assets.cleaning.text import MIN_NOTE_CHARS, clean_note
from llmft_assets.errors import DocumentError

BODY = "Start at the bottom of the plan, where the data comes from, and read upwards."


def test_front_matter_goes_and_its_title_is_the_title() -> None:
    note = clean_note(f"---\ntitle: 'Query plans'\ntags: [sql]\n---\n\n# A heading\n\n{BODY}\n")
    assert note.title == "Query plans"
    assert note.text == f"# A heading\n\n{BODY}"  # a heading that is not the title stays


def test_a_first_line_heading_is_the_title_and_leaves_the_text() -> None:
    note = clean_note(f"\n# Reading query plans\n\n{BODY}")
    assert (note.title, note.text) == ("Reading query plans", BODY)


def test_markdown_and_line_breaks_are_kept_blank_runs_shrink_and_trailing_spaces_go() -> None:
    text = f"{BODY}   \n\n\n\n- one item\n- **two** items\n\n    code()\n"
    note = clean_note(text)
    assert note.title == ""  # the file name will tell
    assert note.text == f"{BODY}\n\n- one item\n- **two** items\n\n    code()"


def test_a_note_with_too_little_text_is_rejected() -> None:
    with pytest.raises(DocumentError, match="characters of text in the note"):
        clean_note("# Title only\n\n" + "x" * (MIN_NOTE_CHARS - 1))
