"""A small declarative checker for JSON bodies, with errors that name the field and what is allowed.

The specs are data (`Number(0, 5)`, `Obj({...})`); `check(value, spec, path)` walks them and raises
`InvalidRequest` with `param` set to the path (`messages[2].content`, `temperature`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import InvalidRequest

__all__ = ["AnyOf", "AnyValue", "Array", "Bool", "Integer", "Null", "Number", "Obj", "Spec", "Str", "check", "describe"]


class Spec:
    def describe(self) -> str:
        raise NotImplementedError

    def check(self, value: Any, path: str) -> None:
        raise NotImplementedError


def describe(value: Any) -> str:
    """How a wrong value is quoted back in a message: short, and typed."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, (int, float)):
        return f"{value!r}"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _fail(path: str, spec: Spec, value: Any) -> InvalidRequest:
    return InvalidRequest(f"`{path}` must be {spec.describe()}, got {describe(value)}.", param=path)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Number(Spec):
    low: float
    high: float

    def describe(self) -> str:
        return f"a number from {self.low:g} to {self.high:g}"

    def check(self, value: Any, path: str) -> None:
        if not _is_number(value) or not self.low <= value <= self.high:
            raise _fail(path, self, value)


@dataclass(frozen=True)
class Integer(Spec):
    low: int
    high: int

    def describe(self) -> str:
        return f"an integer from {self.low} to {self.high}"

    def check(self, value: Any, path: str) -> None:
        # 5.0 is an integer to JSON Schema; 5.5 is not.
        whole = _is_number(value) and float(value).is_integer()
        if not whole or not self.low <= value <= self.high:
            raise _fail(path, self, value)


@dataclass(frozen=True)
class Str(Spec):
    min_length: int = 0
    enum: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.enum:
            return "one of " + ", ".join(f'"{option}"' for option in self.enum)
        if self.min_length:
            return f"a string of at least {self.min_length} character{'s' if self.min_length > 1 else ''}"
        return "a string"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or len(value) < self.min_length:
            raise _fail(path, self, value)
        if self.enum and value not in self.enum:
            raise _fail(path, self, value)


@dataclass(frozen=True)
class Bool(Spec):
    def describe(self) -> str:
        return "true or false"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise _fail(path, self, value)


@dataclass(frozen=True)
class Null(Spec):
    def describe(self) -> str:
        return "null"

    def check(self, value: Any, path: str) -> None:
        if value is not None:
            raise _fail(path, self, value)


@dataclass(frozen=True)
class AnyValue(Spec):
    def describe(self) -> str:
        return "any JSON value"

    def check(self, value: Any, path: str) -> None:
        return None


@dataclass(frozen=True)
class Obj(Spec):
    fields: Mapping[str, Spec] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    closed: bool = True

    def describe(self) -> str:
        return "an object"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _fail(path, self, value)
        for name in self.required:
            if name not in value:
                raise InvalidRequest(f"`{_join(path, name)}` is required.", param=_join(path, name))
        for name, item in value.items():
            spec = self.fields.get(name)
            if spec is None:
                if self.closed:
                    raise _unknown_field(path, name, self.fields)
                continue
            spec.check(item, _join(path, name))


def _unknown_field(path: str, name: str, known: Mapping[str, Spec]) -> InvalidRequest:
    where = _join(path, name)
    allowed = ", ".join(sorted(known))
    return InvalidRequest(f"`{where}` is not a recognised field. Allowed here: {allowed}.", param=where)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


@dataclass(frozen=True)
class Array(Spec):
    items: Spec = AnyValue()
    min_items: int = 0
    max_items: int | None = None

    def describe(self) -> str:
        if self.min_items:
            return f"an array of at least {self.min_items} item{'s' if self.min_items > 1 else ''}"
        return "an array"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list) or len(value) < self.min_items:
            raise _fail(path, self, value)
        if self.max_items is not None and len(value) > self.max_items:
            raise InvalidRequest(f"`{path}` may hold at most {self.max_items} items, got {len(value)}.", param=path)
        for index, item in enumerate(value):
            self.items.check(item, f"{path}[{index}]")


@dataclass(frozen=True)
class AnyOf(Spec):
    """One of several specs, chosen by the value's JSON type (string or array, say)."""

    options: tuple[Spec, ...]

    def describe(self) -> str:
        return " or ".join(option.describe() for option in self.options)

    def check(self, value: Any, path: str) -> None:
        for option in self.options:
            if _same_kind(option, value):
                option.check(value, path)
                return
        raise _fail(path, self, value)


def _same_kind(spec: Spec, value: Any) -> bool:
    kinds: dict[type[Spec], type | tuple[type, ...]] = {
        Str: str,
        Array: list,
        Obj: dict,
        Bool: bool,
        Number: (int, float),
        Integer: (int, float),
        Null: type(None),
    }
    expected = kinds.get(type(spec))
    if expected is None:
        return True
    if isinstance(value, bool) and type(spec) is not Bool:
        return False
    return isinstance(value, expected)


def check(value: Any, spec: Spec, path: str = "") -> None:
    spec.check(value, path)
