"""What a user asks for, and the record shapes of each format."""

from __future__ import annotations

import pytest

from llmft_assets.training_data.formats import DatasetFormat, request_for, to_record


def test_formats_directly() -> None:
    assert request_for("gutenberg", "Dracula", 1, 1) == (
        "Write a passage from the book titled “Dracula”."
    )
    assert to_record(DatasetFormat.completion, "ask", "answer") == {"text": "answer"}
    assert to_record(DatasetFormat.input_response, "ask", "answer") == {
        "input": "ask",
        "response": "answer",
    }


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        (DatasetFormat.completion, {"text": "answer"}),
        (
            DatasetFormat.conversations,
            {
                "conversations": [
                    {"from": "human", "value": "ask"},
                    {"from": "gpt", "value": "answer"},
                ]
            },
        ),
        (
            DatasetFormat.messages,
            {
                "messages": [
                    {"role": "user", "content": "ask"},
                    {"role": "assistant", "content": "answer"},
                ]
            },
        ),
        (DatasetFormat.input_response, {"input": "ask", "response": "answer"}),
    ],
)
def test_each_format_has_its_shape(fmt: DatasetFormat, expected: dict[str, object]) -> None:
    assert to_record(fmt, "ask", "answer") == expected


def test_formats_parse_from_their_config_names() -> None:
    names = ["completion", "conversations", "messages", "input_response"]
    assert [DatasetFormat(n) for n in names] == list(DatasetFormat)


@pytest.mark.parametrize(
    ("source", "part", "parts", "expected"),
    [
        ("blog", 1, 1, "Write a blog post titled “T”."),
        ("blog", 2, 5, "Write part 2 of 5 of the blog post titled “T”."),
        ("gutenberg", 1, 1, "Write a passage from the book titled “T”."),
        ("gutenberg", 3, 3, "Write part 3 of 3 of the passage from the book titled “T”."),
    ],
)
def test_requests_name_the_kind_title_and_part(
    source: str, part: int, parts: int, expected: str
) -> None:
    assert request_for(source, "T", part, parts) == expected
