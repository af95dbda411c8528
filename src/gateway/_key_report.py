"""`GET /v1/usage`: what the calling key may do, what it has left now, and what it has spent.

The key's name, tier, models and expiry; its tier's limits; what remains in each window (requests
where the limiter says, tokens per minute and per day, dollars per day and per month, open
streams); and its tokens and dollars for today and this UTC month, from its budget object, the
very ledger that admits its requests. Only ever the calling key's own: the route takes no
parameters, and its key is the one that authenticated the request. (LiteLLM's `/key/info` is the
precedent.) The request counts against the key's request limit like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ._asgi.http import Receive, Scope, Send, send_json
from ._catalog import NANO_USD
from ._config import settings_of
from ._limits.admission import guarded
from ._limits.guards import Window, guards_of, key_of, request_window_of
from ._policy import ApiKey, Tier, format_time

__all__ = ["key_usage"]


async def key_usage(scope: Scope, receive: Receive, send: Send) -> None:
    key = key_of(scope)
    if key is None:  # unreachable behind the auth layer; never answer for no key
        raise LookupError("GET /v1/usage reached without an authenticated key")
    tier = settings_of(scope).tier_of(key)
    ledger = await _ledger_report(scope, key, tier)
    await send_json(
        send,
        200,
        {
            "object": "key.usage",
            "key": _key(scope, key),
            "limits": _limits(tier),
            "remaining": _remaining(scope, ledger),
            "totals": _totals(ledger),
        },
    )


async def _ledger_report(scope: Scope, key: ApiKey, tier: Tier | None) -> dict[str, Any] | None:
    """The budget object's report, or None when the tier keeps none (or it failed open)."""
    if tier is None or not tier.has_budget:
        return None
    return await guarded(scope, "the token budget", guards_of(scope).tokens.report(key.key_id, tier))


def _key(scope: Scope, key: ApiKey) -> dict[str, Any]:
    served = settings_of(scope).models
    return {
        "name": key.name,
        "tier": key.tier,
        "models": [model for model in served if key.models is None or model in key.models],
        "expires_at": None if key.expires_at is None else format_time(key.expires_at),
    }


def _limits(tier: Tier | None) -> dict[str, Any]:
    if tier is None:
        return {}  # no TIERS: nothing is limited
    names = ("requests", "tokens_per_minute", "tokens_per_day", "max_streams", "usd_per_day", "usd_per_month")
    limits = {name: getattr(tier, name) for name in names}
    if tier.requests is not None:
        limits["period_s"] = tier.period
    return limits


def _remaining(scope: Scope, ledger: dict[str, Any] | None) -> dict[str, Any]:
    ledger = ledger or {}
    return {
        "requests": _window(request_window_of(scope)),
        "tokens_per_minute": _ledger_window(ledger.get("minute")),
        "tokens_per_day": _ledger_window(ledger.get("day")),
        "usd_per_day": _ledger_window(ledger.get("usd_day"), _dollars),
        "usd_per_month": _ledger_window(ledger.get("usd_month"), _dollars),
        "streams": ledger.get("streams"),
    }


def _window(window: Window | None) -> dict[str, Any] | None:
    if window is None:
        return None
    reset_s = None if window.reset_s is None else round(window.reset_s, 3)
    # `remaining` is null where the limiter does not say (Cloudflare's Rate Limiting binding).
    return {"limit": window.limit, "remaining": window.remaining, "reset_s": reset_s}


def _ledger_window(raw: dict[str, int] | None, amount: Callable[[int], Any] = int) -> dict[str, Any] | None:
    if not raw:
        return None
    return {"limit": amount(raw["limit"]), "remaining": amount(raw["remaining"]), "reset_s": raw["reset_ms"] / 1000}


def _totals(ledger: dict[str, Any] | None) -> dict[str, Any] | None:
    if ledger is None:
        return None
    return {"today": _total(ledger["today"]), "this_month": _total(ledger["this_month"])}


def _total(raw: dict[str, int]) -> dict[str, Any]:
    """Spent since the start of the day or month; what is still reserved by open requests is shown apart."""
    return {
        "since": format_time(raw["start_ms"] / 1000),
        "tokens": raw["tokens"],
        "usd": _dollars(raw["usd"]),
        "reserved_tokens": raw["reserved_tokens"],
        "reserved_usd": _dollars(raw["reserved_usd"]),
    }


def _dollars(nano: int) -> float:
    return round(int(nano) / NANO_USD, 9)
