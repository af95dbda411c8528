"""What enforces limits and finds keys, as interfaces, and where a request finds them.

The Worker's implementations use bindings (gateway/_bindings.py: Rate Limiting, the TokenBudget
Durable Object, KV, Analytics Engine). The local server and tests use in-process ones with the
same semantics (gateway/local/limits.py). The app owns them; nothing is a module-level global.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ._http import RequestContext, Scope
from ._policy import ApiKey, Tier

__all__ = [
    "GUARDS_KEY",
    "KEY_KEY",
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
]

GUARDS_KEY = "gateway.guards"
KEY_KEY = "gateway.key"


@dataclass(frozen=True)
class Window:
    """One limit as the client sees it in `x-ratelimit-*` headers."""

    limit: int
    remaining: int | None = None  # None: not known (the Rate Limiting binding does not say)
    reset_s: float | None = None


@dataclass(frozen=True)
class RequestVerdict:
    admitted: bool
    window: Window
    retry_after_s: float | None = None


@dataclass(frozen=True)
class BudgetVerdict:
    admitted: bool
    reason: str | None = None  # too_large | streams | tokens_per_minute | tokens_per_day
    retry_after_s: float | None = None
    minute: Window | None = None
    day: Window | None = None

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
        )


def _window(raw: Any) -> Window | None:
    if not raw:
        return None
    return Window(limit=int(raw["limit"]), remaining=int(raw["remaining"]), reset_s=int(raw["reset_ms"]) / 1000)


class RequestLimiter(Protocol):
    async def admit(self, key_id: str, tier: Tier) -> RequestVerdict: ...


class TokenBudgets(Protocol):
    async def reserve(self, key_id: str, lease_id: str, tokens: int, stream: bool, tier: Tier) -> BudgetVerdict: ...

    async def settle(self, key_id: str, lease_id: str, tokens: int) -> None: ...


class KeyStore(Protocol):
    """Key records stored by hash (KV in the Worker, a JSON file locally)."""

    name: str

    async def find(self, sha256_hex: str) -> ApiKey | None: ...


class UsageSink(Protocol):
    def record(self, key: ApiKey, context: RequestContext) -> None: ...


@dataclass
class Guards:
    requests: RequestLimiter
    tokens: TokenBudgets
    keys: KeyStore | None = None
    usage: UsageSink | None = None


def guards_of(scope: Scope) -> Guards:
    return scope[GUARDS_KEY]  # type: ignore[no-any-return]


def key_of(scope: Scope) -> ApiKey | None:
    """The authenticated key, or None on public paths and preflights."""
    return scope.get(KEY_KEY)
