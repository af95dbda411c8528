"""The gateway's Durable Objects, one of each per API key: `TokenBudget` (its token and dollar
budgets, its open streams, and its totals for the day and the month) and `StoredResponses` (its
stored Responses API responses).

Worker only (they subclass the SDK's `DurableObject`); src/entry.py exports them, and wrangler.toml
declares them as bindings `TOKEN_BUDGETS` and `STORED_RESPONSES`, with SQLite storage (`[[migrations]]
new_sqlite_classes`). Their logic is `TokenLedger` (gateway/_limits/ledger.py) and `ResponseArchive`
(gateway/_stored/archive.py), tested under CPython against a double of `ctx.storage.sql`. The
runtime converts RPC arguments and results (plain numbers, strings, lists, dicts) with the SDK's
`python_from_rpc`/`python_to_rpc`.
"""

from __future__ import annotations

import json
import time
from typing import Any

from workers import DurableObject

from ._limits.ledger import TokenLedger
from ._stored.archive import ResponseArchive

__all__ = ["StoredResponses", "TokenBudget"]


def _now_ms() -> int:
    return int(time.time() * 1000)


class TokenBudget(DurableObject):  # type: ignore[no-untyped-call]
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.ledger = TokenLedger(ctx.storage.sql)

    # No method awaits, so each runs whole before the object takes its next call: two requests
    # racing for the last tokens (or cents) are decided one after the other, never together.
    # Dollars cross RPC as whole nano-dollars; the trailing arguments default for older callers.
    async def reserve(
        self,
        lease_id: str,
        tokens: int,
        stream: bool,
        per_minute: int,
        per_day: int,
        max_streams: int,
        usd: int = 0,
        usd_per_day: int = 0,
        usd_per_month: int = 0,
    ) -> dict[str, Any]:
        return self.ledger.reserve(
            str(lease_id),
            int(tokens),
            bool(stream),
            int(per_minute),
            int(per_day),
            int(max_streams),
            _now_ms(),
            usd=int(usd),
            usd_per_day=int(usd_per_day),
            usd_per_month=int(usd_per_month),
        )

    async def settle(self, lease_id: str, tokens: int, usd: int = 0) -> dict[str, Any]:
        return self.ledger.settle(str(lease_id), int(tokens), int(usd))

    async def report(
        self, per_minute: int, per_day: int, max_streams: int, usd_per_day: int, usd_per_month: int
    ) -> dict[str, Any]:
        limits = (int(per_minute), int(per_day), int(max_streams), int(usd_per_day), int(usd_per_month))
        return self.ledger.report(_now_ms(), *limits)


class StoredResponses(DurableObject):  # type: ignore[no-untyped-call]
    """One key's stored responses. Retention is enforced twice: reads treat an expired response as
    gone, and an alarm set for the next expiry deletes it (so a key that stops calling does not
    keep its responses forever)."""

    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.archive = ResponseArchive(ctx.storage.sql)

    async def save(self, record: str) -> dict[str, Any]:
        saved = self.archive.save(str(record), _now_ms())  # whole before the first await
        await self._schedule_purge()
        return saved

    async def response(self, response_id: str) -> str | None:
        return self.archive.response(str(response_id), _now_ms())

    async def delete(self, response_id: str) -> bool:
        return self.archive.delete(str(response_id), _now_ms())

    async def input_page(self, response_id: str, after: str | None, limit: int, order: str) -> dict[str, Any]:
        return self.archive.input_page(
            str(response_id), None if after is None else str(after), int(limit), str(order), _now_ms()
        )

    async def context(self, response_id: str) -> dict[str, Any]:
        return self.archive.context(str(response_id), _now_ms())

    async def items(self, ids: str) -> dict[str, Any]:
        return self.archive.items([str(item_id) for item_id in json.loads(str(ids))], _now_ms())

    async def alarm(self, *_info: Any) -> None:
        self.archive.purge(_now_ms())
        await self._schedule_purge()

    async def _schedule_purge(self) -> None:
        next_expiry = self.archive.next_expiry()
        if next_expiry is not None:
            await self.ctx.storage.setAlarm(next_expiry)
