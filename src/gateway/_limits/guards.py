"""What enforces limits and finds keys, as interfaces, and where a request finds them.

The Worker's implementations use bindings (gateway/_limits/bindings.py: Rate Limiting, the TokenBudget
Durable Object, KV, Analytics Engine). The local server and tests use in-process ones with the
same semantics (gateway/local/limits.py). The app owns them; nothing is a module-level global.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._asgi.context import RequestContext
from .._asgi.http import Scope
from .._catalog import NANO_USD
from .._policy import ApiKey, Tier
from .._valueclass import FrozenRecord, Record

__all__ = [
    "GUARDS_KEY",
    "KEY_KEY",
    "REQUEST_WINDOW_KEY",
    "BudgetVerdict",
    "Guards",
    "KeyStore",
    "RequestLimiter",
    "RequestVerdict",
    "TokenBudgets",
    "UsageSink",
    "Window",
    "guards_of",
    "key_of",
    "ledger_limits",
    "nano_usd",
    "request_window_of",
]

GUARDS_KEY = "gateway.guards"
KEY_KEY = "gateway.key"
# The key's request window as the rate-limit layer last saw it (GET /v1/usage shows it).
REQUEST_WINDOW_KEY = "gateway.request_window"


def nano_usd(dollars: float | None) -> int:
    """A dollar amount as whole nano-dollars; None (no limit) as 0, the ledger's "not limited"."""
    return 0 if dollars is None else round(dollars * NANO_USD)


def ledger_limits(tier: Tier) -> tuple[int, int, int, int, int]:
    """A tier's limits as the ledger takes them (0: not limited): tokens per minute and per day,
    open streams, nano-dollars per day and per month."""
    tokens = (tier.tokens_per_minute or 0, tier.tokens_per_day or 0, tier.max_streams or 0)
    return (*tokens, nano_usd(tier.usd_per_day), nano_usd(tier.usd_per_month))


class Window(FrozenRecord):
    """One limit as the client sees it in `x-ratelimit-*` headers."""

    __slots__ = ("limit", "remaining", "reset_s")
    limit: int
    remaining: int | None  # None: not known (the Rate Limiting binding does not say)
    reset_s: float | None

    def __init__(self, limit: int, remaining: int | None = None, reset_s: float | None = None) -> None:
        self._init(limit=limit, remaining=remaining, reset_s=reset_s)


class RequestVerdict(FrozenRecord):
    __slots__ = ("admitted", "retry_after_s", "window")
    admitted: bool
    window: Window
    retry_after_s: float | None

    def __init__(self, admitted: bool, window: Window, retry_after_s: float | None = None) -> None:
        self._init(admitted=admitted, window=window, retry_after_s=retry_after_s)


class BudgetVerdict(FrozenRecord):
    __slots__ = ("admitted", "day", "minute", "reason", "retry_after_s", "usd_day", "usd_month")
    admitted: bool
    # too_large | usd_too_large | streams | usd_per_month | usd_per_day | tokens_per_day | tokens_per_minute
    reason: str | None
    retry_after_s: float | None
    minute: Window | None
    day: Window | None
    usd_day: Window | None  # in nano-dollars
    usd_month: Window | None

    def __init__(
        self,
        admitted: bool,
        reason: str | None = None,
        retry_after_s: float | None = None,
        minute: Window | None = None,
        day: Window | None = None,
        usd_day: Window | None = None,
        usd_month: Window | None = None,
    ) -> None:
        self._init(
            admitted=admitted,
            reason=reason,
            retry_after_s=retry_after_s,
            minute=minute,
            day=day,
            usd_day=usd_day,
            usd_month=usd_month,
        )

    @classmethod
    def from_ledger(cls, answer: dict[str, Any]) -> BudgetVerdict:
        """From `TokenLedger.reserve`'s plain dict (what crosses RPC from the Durable Object)."""
        retry_ms = answer.get("retry_after_ms")
        return cls(
            admitted=bool(answer["admitted"]),
            reason=answer.get("reason"),
            retry_after_s=None if retry_ms is None else int(retry_ms) / 1000,
            minute=_window(answer.get("minute")),
            day=_window(answer.get("day")),
            usd_day=_window(answer.get("usd_day")),
            usd_month=_window(answer.get("usd_month")),
        )


def _window(raw: Any) -> Window | None:
    if not raw:
        return None
    return Window(limit=int(raw["limit"]), remaining=int(raw["remaining"]), reset_s=int(raw["reset_ms"]) / 1000)


class RequestLimiter(Protocol):
    async def admit(self, key_id: str, tier: Tier) -> RequestVerdict: ...


class TokenBudgets(Protocol):
    """A key's budget object. Dollars are whole nano-dollars; `report` answers `TokenLedger.report`."""

    async def reserve(
        self, key_id: str, lease_id: str, tokens: int, stream: bool, tier: Tier, usd: int
    ) -> BudgetVerdict: ...

    async def settle(self, key_id: str, lease_id: str, tokens: int, usd: int) -> None: ...

    async def report(self, key_id: str, tier: Tier) -> dict[str, Any]: ...


class KeyStore(Protocol):
    """Key records stored by hash (KV in the Worker, a JSON file locally)."""

    name: str

    async def find(self, sha256_hex: str) -> ApiKey | None: ...


class UsageSink(Protocol):
    def record(self, key: ApiKey, context: RequestContext) -> None: ...


class Guards(Record):
    __slots__ = ("ceiling", "keys", "requests", "tokens", "usage")
    requests: RequestLimiter
    tokens: TokenBudgets
    keys: KeyStore | None
    usage: UsageSink | None
    ceiling: RequestLimiter | None  # the account's requests across all keys (ACCOUNT_REQUESTS_PER_MINUTE)

    def __init__(
        self,
        requests: RequestLimiter,
        tokens: TokenBudgets,
        keys: KeyStore | None = None,
        usage: UsageSink | None = None,
        ceiling: RequestLimiter | None = None,
    ) -> None:
        self.requests, self.tokens, self.keys, self.usage, self.ceiling = requests, tokens, keys, usage, ceiling


def guards_of(scope: Scope) -> Guards:
    return scope[GUARDS_KEY]  # type: ignore[no-any-return]


def key_of(scope: Scope) -> ApiKey | None:
    """The authenticated key, or None on public paths and preflights."""
    return scope.get(KEY_KEY)


def request_window_of(scope: Scope) -> Window | None:
    """The key's request window as admitted for this request, when its tier limits requests."""
    return scope.get(REQUEST_WINDOW_KEY)
