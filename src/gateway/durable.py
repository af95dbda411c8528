"""The `TokenBudget` Durable Object: one per API key, holding its token budget and open streams.

Worker only (it subclasses the SDK's `DurableObject`); src/entry.py exports it, and wrangler.toml
declares it as binding `TOKEN_BUDGETS` with SQLite storage (`[[migrations]] new_sqlite_classes`).
The logic is `TokenLedger` (gateway/_limits/ledger.py), tested under CPython against a double of
`ctx.storage.sql`. The runtime converts RPC arguments and results (plain numbers, strings, dicts)
with the SDK's `python_from_rpc`/`python_to_rpc`.
"""

from __future__ import annotations

import time
from typing import Any

from workers import DurableObject

from ._limits.ledger import TokenLedger

__all__ = ["TokenBudget"]


class TokenBudget(DurableObject):  # type: ignore[no-untyped-call]
    def __init__(self, ctx: Any, env: Any) -> None:
        super().__init__(ctx, env)
        self.ledger = TokenLedger(ctx.storage.sql)

    # Neither method awaits, so each runs whole before the object takes its next call: two
    # requests racing for the last tokens are decided one after the other, never together.
    async def reserve(
        self, lease_id: str, tokens: int, stream: bool, per_minute: int, per_day: int, max_streams: int
    ) -> dict[str, Any]:
        now_ms = int(time.time() * 1000)
        return self.ledger.reserve(
            str(lease_id), int(tokens), bool(stream), int(per_minute), int(per_day), int(max_streams), now_ms
        )

    async def settle(self, lease_id: str, tokens: int) -> dict[str, Any]:
        return self.ledger.settle(str(lease_id), int(tokens))
