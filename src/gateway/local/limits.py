"""In-process limits for the local server and tests, with the Worker's semantics.

- Requests: a fixed window per key and tier period, aligned to the epoch as the Rate Limiting
  binding's periods are; unlike the binding, it knows what is left, so it says so in headers.
- Tokens and dollars: the very `TokenLedger` the Durable Object runs, one per key, over in-memory
  SQLite, called with the same arguments, so `/v1/usage` and every limit answer alike here and there.
- The account ceiling: one more fixed-window counter, under one key for all keys.

They belong to the app that is given them (one per server or test), never to the module.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .._limits.guards import BudgetVerdict, Guards, KeyStore, RequestVerdict, UsageSink, Window, ledger_limits
from .._limits.ledger import TokenLedger
from .._policy import Tier
from .sql import SqliteStorageSql

__all__ = ["Clock", "InProcessBudgets", "InProcessRequestLimiter", "local_guards"]

Clock = Callable[[], float]


class InProcessRequestLimiter:
    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[int, int]] = {}  # key id -> (window number, requests in it)

    async def admit(self, key_id: str, tier: Tier) -> RequestVerdict:
        limit = tier.requests or 0
        now = self._clock()
        number = int(now // tier.period)
        seen, count = self._windows.get(key_id, (number, 0))
        count = count if seen == number else 0
        reset_s = (number + 1) * tier.period - now
        if count >= limit:
            return RequestVerdict(False, Window(limit, 0, reset_s), retry_after_s=reset_s)
        self._windows[key_id] = (number, count + 1)
        return RequestVerdict(True, Window(limit, limit - count - 1, reset_s))


class InProcessBudgets:
    def __init__(self, clock: Clock = time.time) -> None:
        self._clock = clock
        self._ledgers: dict[str, TokenLedger] = {}

    def ledger(self, key_id: str) -> TokenLedger:
        if key_id not in self._ledgers:
            self._ledgers[key_id] = TokenLedger(SqliteStorageSql())
        return self._ledgers[key_id]

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def reserve(
        self, key_id: str, lease_id: str, tokens: int, stream: bool, tier: Tier, usd: int
    ) -> BudgetVerdict:
        per_minute, per_day, max_streams, usd_per_day, usd_per_month = ledger_limits(tier)
        answer = self.ledger(key_id).reserve(
            lease_id,
            tokens,
            stream,
            per_minute,
            per_day,
            max_streams,
            self._now_ms(),
            usd=usd,
            usd_per_day=usd_per_day,
            usd_per_month=usd_per_month,
        )
        return BudgetVerdict.from_ledger(answer)

    async def settle(self, key_id: str, lease_id: str, tokens: int, usd: int) -> None:
        self.ledger(key_id).settle(lease_id, tokens, usd)

    async def report(self, key_id: str, tier: Tier) -> dict[str, Any]:
        return self.ledger(key_id).report(self._now_ms(), *ledger_limits(tier))


def local_guards(clock: Clock = time.time, keys: KeyStore | None = None, usage: UsageSink | None = None) -> Guards:
    return Guards(
        requests=InProcessRequestLimiter(clock),
        tokens=InProcessBudgets(clock),
        keys=keys,
        usage=usage,
        ceiling=InProcessRequestLimiter(clock),
    )
