"""Reports survive the trip through JSON with their types, so checks can trust them."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field

import pytest

from llmft_assets.reports import Report


class Colour(enum.StrEnum):
    red = "red"
    blue = "blue"


@dataclass(frozen=True)
class Part(Report):
    name: str
    share: float


@dataclass(frozen=True)
class Whole(Report):
    colour: Colour
    parts: tuple[Part, ...]
    by_name: dict[str, Part]
    curve: tuple[tuple[int, float], ...]
    note: str | None = None
    nested: Part | None = None
    counts: list[int] = field(default_factory=list)


def _whole() -> Whole:
    part = Part("a", 0.5)
    return Whole(
        colour=Colour.blue,
        parts=(part, Part("b", 2)),
        by_name={"a": part},
        curve=((1, 2.5), (2, 1.0)),
        nested=part,
        counts=[1, 2],
    )


def test_round_trip_rebuilds_types() -> None:
    whole = _whole()
    again = Whole.from_json(whole.to_json())
    assert again == whole
    assert again.colour is Colour.blue
    assert isinstance(again.parts, tuple) and isinstance(again.parts[1], Part)
    assert isinstance(again.parts[1].share, float)
    assert isinstance(again.curve[0], tuple)
    assert again.note is None


def test_json_is_plain_and_stable() -> None:
    text = _whole().to_json()
    decoded = json.loads(text)
    assert decoded["colour"] == "blue"
    assert decoded["parts"][0] == {"name": "a", "share": 0.5}
    assert text == _whole().to_json()


def test_missing_field_without_default_is_an_error() -> None:
    with pytest.raises(TypeError):
        Part.from_json('{"name": "a"}')
