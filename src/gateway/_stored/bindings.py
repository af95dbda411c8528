"""The Worker's response store: the `StoredResponses` Durable Object, one per key, over RPC.

Binding `STORED_RESPONSES` (wrangler.toml); each key's object is named by the key's hash, as the
token budgets are. The object's methods (gateway/durable.py) take and answer plain values.
"""

from __future__ import annotations

import json
from typing import Any

from .._js import plain

__all__ = ["STORE_BINDING", "DurableResponses"]

STORE_BINDING = "STORED_RESPONSES"


class DurableResponses:
    def __init__(self, namespace: Any) -> None:
        self._namespace = namespace

    def _stub(self, key_id: str) -> Any:
        return self._namespace.get(self._namespace.idFromName(key_id))

    async def save(self, key_id: str, record: str) -> None:
        await self._stub(key_id).save(record)

    async def response(self, key_id: str, response_id: str) -> str | None:
        found = plain(await self._stub(key_id).response(response_id))
        return None if found is None else str(found)

    async def delete(self, key_id: str, response_id: str) -> bool:
        return bool(plain(await self._stub(key_id).delete(response_id)))

    async def input_page(
        self, key_id: str, response_id: str, after: str | None, limit: int, order: str
    ) -> dict[str, Any]:
        page: dict[str, Any] = plain(await self._stub(key_id).input_page(response_id, after, limit, order))
        return page

    async def context(self, key_id: str, response_id: str) -> dict[str, Any]:
        found: dict[str, Any] = plain(await self._stub(key_id).context(response_id))
        return found

    async def items(self, key_id: str, ids: list[str]) -> dict[str, Any]:
        # A list crosses as JSON text: plain under every SDK, however it converts lists.
        found: dict[str, Any] = plain(await self._stub(key_id).items(json.dumps(ids)))
        return found
