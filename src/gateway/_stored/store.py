"""Where stored responses are kept, as an interface, and where a request finds it.

The Worker keeps them in the `StoredResponses` Durable Object, one per key (`bindings.py`); the
local server and tests keep them in-process over sqlite3 (gateway/local/response_store.py). Both run the
same `ResponseArchive`, and every call names the key: a key's responses are never looked up
anywhere but in its own archive.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._asgi.http import Scope

__all__ = ["STORE_KEY", "ResponseStore", "store_of"]

# Where the app puts the store in the ASGI scope (absent: storing is not configured).
STORE_KEY = "gateway.responses"


class ResponseStore(Protocol):
    """`ResponseArchive`'s methods, per key and awaitable; values are JSON text and plain dicts."""

    async def save(self, key_id: str, record: str) -> None: ...

    async def response(self, key_id: str, response_id: str) -> str | None: ...

    async def delete(self, key_id: str, response_id: str) -> bool: ...

    async def input_page(
        self, key_id: str, response_id: str, after: str | None, limit: int, order: str
    ) -> dict[str, Any]: ...

    async def context(self, key_id: str, response_id: str) -> dict[str, Any]: ...

    async def items(self, key_id: str, ids: list[str]) -> dict[str, Any]: ...


def store_of(scope: Scope) -> ResponseStore | None:
    return scope.get(STORE_KEY)
