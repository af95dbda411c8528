"""Value classes without `@dataclass`'s cost at import.

`@dataclass` writes each class's methods as source and exec()s it when the class is defined: about
1 ms a class in Pyodide, which made the Worker's cold start some 20 ms slower. A class with
`__slots__` and its own `__init__` gets from these bases what `@dataclass` gave it: equality by
field, a readable repr, and for `FrozenRecord` hashing by field and no assignment after `__init__`.
"""

from __future__ import annotations

from dataclasses import FrozenInstanceError  # the SDK has imported dataclasses already
from typing import Any

__all__ = ["FrozenRecord", "Record"]


class Record:
    """Fields are the names in the class's own `__slots__`. Defining `__eq__` makes it unhashable,
    like a dataclass that is not frozen."""

    __slots__ = ()

    def _names(self) -> tuple[str, ...]:
        return self.__slots__  # type: ignore[return-value]

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._names())

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined, no-any-return]

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._names())
        return f"{type(self).__qualname__}({fields})"


class FrozenRecord(Record):
    __slots__ = ()

    def _init(self, **fields: Any) -> None:
        """Set the fields from `__init__` (assignment is refused everywhere else)."""
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    def __hash__(self) -> int:
        return hash(self._values())

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")
