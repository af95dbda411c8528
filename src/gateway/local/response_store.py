"""Stored responses in-process for the local server and tests: the Durable Object's archive, per
key, over sqlite3 in memory (they last as long as the server does)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .._stored.archive import ResponseArchive
from .sql import SqliteStorageSql

__all__ = ["InProcessResponses"]


class InProcessResponses:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._archives: dict[str, ResponseArchive] = {}

    def archive(self, key_id: str) -> ResponseArchive:
        if key_id not in self._archives:
            self._archives[key_id] = ResponseArchive(SqliteStorageSql())
        return self._archives[key_id]

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def save(self, key_id: str, record: str) -> None:
        self.archive(key_id).save(record, self._now_ms())

    async def response(self, key_id: str, response_id: str) -> str | None:
        return self.archive(key_id).response(response_id, self._now_ms())

    async def delete(self, key_id: str, response_id: str) -> bool:
        return self.archive(key_id).delete(response_id, self._now_ms())

    async def input_page(
        self, key_id: str, response_id: str, after: str | None, limit: int, order: str
    ) -> dict[str, Any]:
        return self.archive(key_id).input_page(response_id, after, limit, order, self._now_ms())

    async def context(self, key_id: str, response_id: str) -> dict[str, Any]:
        return self.archive(key_id).context(response_id, self._now_ms())

    async def items(self, key_id: str, ids: list[str]) -> dict[str, Any]:
        return self.archive(key_id).items(ids, self._now_ms())
