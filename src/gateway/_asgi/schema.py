"""A small declarative checker for JSON bodies, with errors that name the field and what is allowed.

The specs are data (`Number(0, 5)`, `Obj({...})`); `check(value, spec, path)` walks them and raises
`InvalidRequest` with `param` set to the path (`messages[2].content`, `temperature`). Each spec
also states itself as JSON Schema (`json_schema()`), which is how the OpenAPI document describes
exactly what the checks accept: one source of truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._errors import InvalidRequest
from .._valueclass import FrozenRecord

__all__ = ["AnyOf", "AnyValue", "Array", "Bool", "Integer", "Null", "Number", "Obj", "Spec", "Str", "check", "describe"]


class Spec:
    __slots__ = ()

    def describe(self) -> str:
        raise NotImplementedError

    def check(self, value: Any, path: str) -> None:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema (2020-12, as OpenAPI 3.1 uses it) that accepts what `check` accepts."""
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


class Number(FrozenRecord, Spec):
    __slots__ = ("high", "low")
    low: float
    high: float

    def __init__(self, low: float, high: float) -> None:
        self._init(low=low, high=high)

    def describe(self) -> str:
        return f"a number from {self.low:g} to {self.high:g}"

    def check(self, value: Any, path: str) -> None:
        if not _is_number(value) or not self.low <= value <= self.high:
            raise _fail(path, self, value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "number", "minimum": self.low, "maximum": self.high}


class Integer(FrozenRecord, Spec):
    __slots__ = ("high", "low")
    low: int
    high: int

    def __init__(self, low: int, high: int) -> None:
        self._init(low=low, high=high)

    def describe(self) -> str:
        return f"an integer from {self.low} to {self.high}"

    def check(self, value: Any, path: str) -> None:
        # 5.0 is an integer to JSON Schema; 5.5 is not.
        whole = _is_number(value) and float(value).is_integer()
        if not whole or not self.low <= value <= self.high:
            raise _fail(path, self, value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.low, "maximum": self.high}


class Str(FrozenRecord, Spec):
    __slots__ = ("enum", "min_length")
    min_length: int
    enum: tuple[str, ...]

    def __init__(self, min_length: int = 0, enum: tuple[str, ...] = ()) -> None:
        self._init(min_length=min_length, enum=enum)

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

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.enum:
            schema["enum"] = list(self.enum)
        return schema


class Bool(FrozenRecord, Spec):
    __slots__ = ()

    def describe(self) -> str:
        return "true or false"

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, bool):
            raise _fail(path, self, value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Null(FrozenRecord, Spec):
    __slots__ = ()

    def describe(self) -> str:
        return "null"

    def check(self, value: Any, path: str) -> None:
        if value is not None:
            raise _fail(path, self, value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "null"}


class AnyValue(FrozenRecord, Spec):
    __slots__ = ()

    def describe(self) -> str:
        return "any JSON value"

    def check(self, value: Any, path: str) -> None:
        return None

    def json_schema(self) -> dict[str, Any]:
        return {}


class Obj(FrozenRecord, Spec):
    __slots__ = ("closed", "fields", "required")
    fields: Mapping[str, Spec]
    required: tuple[str, ...]
    closed: bool

    def __init__(
        self, fields: Mapping[str, Spec] | None = None, required: tuple[str, ...] = (), closed: bool = True
    ) -> None:
        self._init(fields={} if fields is None else fields, required=required, closed=closed)

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

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "object"}
        if self.fields:
            schema["properties"] = {name: spec.json_schema() for name, spec in self.fields.items()}
        if self.required:
            schema["required"] = list(self.required)
        if self.closed:
            schema["additionalProperties"] = False
        return schema


def _unknown_field(path: str, name: str, known: Mapping[str, Spec]) -> InvalidRequest:
    where = _join(path, name)
    allowed = ", ".join(sorted(known))
    return InvalidRequest(f"`{where}` is not a recognised field. Allowed here: {allowed}.", param=where)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Array(FrozenRecord, Spec):
    __slots__ = ("items", "max_items", "min_items")
    items: Spec
    min_items: int
    max_items: int | None

    def __init__(self, items: Spec | None = None, min_items: int = 0, max_items: int | None = None) -> None:
        self._init(items=AnyValue() if items is None else items, min_items=min_items, max_items=max_items)

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

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "array", "items": self.items.json_schema()}
        if self.min_items:
            schema["minItems"] = self.min_items
        if self.max_items is not None:
            schema["maxItems"] = self.max_items
        return schema


class AnyOf(FrozenRecord, Spec):
    """One of several specs, chosen by the value's JSON type (string or array, say)."""

    __slots__ = ("options",)
    options: tuple[Spec, ...]

    def __init__(self, options: tuple[Spec, ...]) -> None:
        self._init(options=options)

    def describe(self) -> str:
        return " or ".join(option.describe() for option in self.options)

    def check(self, value: Any, path: str) -> None:
        for option in self.options:
            if _same_kind(option, value):
                option.check(value, path)
                return
        raise _fail(path, self, value)

    def json_schema(self) -> dict[str, Any]:
        # The options are of different JSON types, so "any of" and "the one of the value's type" agree.
        return {"anyOf": [option.json_schema() for option in self.options]}


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
