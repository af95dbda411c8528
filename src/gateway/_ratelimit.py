"""Request limits per key, the `x-ratelimit-*` headers, and what happens when a limiter fails.

A key's tier says how many requests it may make per period; the tier's Rate Limiting binding
(`RATE_LIMIT_<TIER>`) or the in-process limiter counts them. A limiter that fails (an exception, a
missing binding) refuses the request with a 503 unless `LIMITS_FAIL_OPEN=true`; either way the
failure is on the request's log line.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable
from typing import TypeVar

from ._errors import RateLimited, ServiceUnavailable
from ._guards import Window, guards_of, key_of
from ._http import ASGIApp, Receive, RequestContext, Scope, Send, context_of
from ._state import settings_of

__all__ = ["RateLimitMiddleware", "guarded", "put_window_headers", "retry_after_s"]

T = TypeVar("T")
# When the wait cannot be known (a stream slot frees when another stream ends), say this much.
UNKNOWN_WAIT_S = 1.0


def format_duration(seconds: float) -> str:
    """OpenAI's style for `x-ratelimit-reset-*`: `20ms`, `1.5s`, `6m0s`, `1h2m3s`."""
    if seconds < 1:
        return f"{max(0, math.ceil(seconds * 1000))}ms"
    if seconds < 60:
        return f"{math.ceil(seconds * 1000) / 1000:g}s"
    whole = math.ceil(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{secs}s"


def put_window_headers(context: RequestContext, suffix: str, window: Window | None) -> None:
    if window is None:
        return
    context.response_headers[f"x-ratelimit-limit-{suffix}"] = str(window.limit)
    if window.remaining is not None:
        context.response_headers[f"x-ratelimit-remaining-{suffix}"] = str(window.remaining)
    if window.reset_s is not None:
        context.response_headers[f"x-ratelimit-reset-{suffix}"] = format_duration(window.reset_s)


def retry_after_s(seconds: float | None) -> float:
    return UNKNOWN_WAIT_S if seconds is None else max(seconds, 0.001)


async def guarded(scope: Scope, what: str, call: Awaitable[T]) -> T | None:
    """Await a limiter; on failure log it, then refuse (503) or, with LIMITS_FAIL_OPEN, go on (None)."""
    try:
        return await call
    except Exception as exc:
        context = context_of(scope)
        detail = f"{what} failed: {type(exc).__name__}: {exc}"
        fail_open = settings_of(scope).limits_fail_open
        context.extra.setdefault("limiter_failures", []).append(detail + (" (failed open)" if fail_open else ""))
        if fail_open:
            return None
        raise ServiceUnavailable(
            f"The gateway cannot check this key's limits right now ({what} is unavailable), so it refuses the "
            "request rather than serve it unmetered. Retry shortly; the operator will find the cause in the logs.",
            code="limiter_unavailable",
            retry_after=UNKNOWN_WAIT_S,
        ) from exc


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = key_of(scope) if scope["type"] == "http" else None
        tier = settings_of(scope).tier_of(key) if key is not None else None
        if key is None or tier is None or tier.requests is None:
            await self.app(scope, receive, send)
            return
        admission = guards_of(scope).requests.admit(key.key_id, tier)
        verdict = await guarded(scope, f"the request limiter for tier {tier.name!r}", admission)
        if verdict is not None:
            put_window_headers(context_of(scope), "requests", verdict.window)
            if not verdict.admitted:
                raise RateLimited(
                    f"This key has made its {tier.requests} requests per {tier.period} s (tier {tier.name!r}). "
                    "Retry after the time in the Retry-After header.",
                    code="rate_limit_exceeded",
                    retry_after=retry_after_s(verdict.retry_after_s),
                )
        await self.app(scope, receive, send)
