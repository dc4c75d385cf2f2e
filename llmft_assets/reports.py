"""Typed stage reports: frozen dataclasses that round-trip through JSON.

Each stage's core function returns one; the asset stores it beside its artifact and turns it
into metadata, and checks read it back as the same type, never by string key. A report holds
plain values, enums, tuples, dicts and other reports; JSON carries enums by value and tuples
as lists, and `from_json` rebuilds them from the type hints.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from typing import Any, Self, TypeVar

R = TypeVar("R", bound="Report")


@dataclasses.dataclass(frozen=True)
class Report:
    """Base of every stage report; subclasses are frozen dataclasses too."""

    def to_json(self) -> str:
        return json.dumps(_plain(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        return _build(cls, json.loads(text))


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _build(hint: Any, value: Any) -> Any:
    """`value` (as JSON decoded it) as the type `hint` names."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return _build(options[0], value) if len(options) == 1 else value
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], v) for v in value)
        return tuple(_build(a, v) for a, v in zip(args, value, strict=True))
    if origin is list:
        (item,) = typing.get_args(hint)
        return [_build(item, v) for v in value]
    if origin is dict:
        key, item = typing.get_args(hint)
        return {_build(key, k): _build(item, v) for k, v in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        hints = typing.get_type_hints(hint)
        return hint(
            **{
                f.name: _build(hints[f.name], value[f.name])
                for f in dataclasses.fields(hint)
                if f.name in value
            }
        )
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return hint(value)
    if hint is float and isinstance(value, int):
        return float(value)
    return value
