"""Request limits per key: a key's tier says how many requests it may make per period.

The tier's Rate Limiting binding (`RATE_LIMIT_<TIER>`) or the in-process limiter counts them; the
answer's `x-ratelimit-*-requests` headers and the failure policy come from `_limits.admission`.
"""

from __future__ import annotations

from .._asgi.context import context_of
from .._asgi.http import ASGIApp, Receive, Scope, Send
from .._config import settings_of
from .._errors import RateLimited
from .._limits.admission import guarded, put_window_headers, retry_after_s
from .._limits.guards import REQUEST_WINDOW_KEY, guards_of, key_of

__all__ = ["RateLimitMiddleware"]


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
            scope[REQUEST_WINDOW_KEY] = verdict.window
            put_window_headers(context_of(scope), "requests", verdict.window)
            if not verdict.admitted:
                raise RateLimited(
                    f"This key has made its {tier.requests} requests per {tier.period} s (tier {tier.name!r}). "
                    "Retry after the time in the Retry-After header.",
                    code="rate_limit_exceeded",
                    retry_after=retry_after_s(verdict.retry_after_s),
                )
        await self.app(scope, receive, send)
