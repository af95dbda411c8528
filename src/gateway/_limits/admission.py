"""Admission: how a refusal or a limiter's answer reaches the client, and what a failing limiter does.

`x-ratelimit-*` headers in OpenAI's format, `retry-after` values, and `guarded`, which applies the
failure policy: a limiter that fails (an exception, a missing binding) refuses the request with a
503 unless `LIMITS_FAIL_OPEN=true`; either way the failure is on the request's log line.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

from .._asgi.context import RequestContext, context_of
from .._asgi.http import Scope
from .._config import settings_of
from .._errors import ServiceUnavailable
from .guards import Window

__all__ = ["UNKNOWN_WAIT_S", "format_duration", "guarded", "put_window_headers", "retry_after_s"]

_T = TypeVar("_T")
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


def put_window_headers(
    context: RequestContext, suffix: str, window: Window | None, show: Callable[[int], str] = str
) -> None:
    """`x-ratelimit-{limit,remaining,reset}-<suffix>`; `show` writes amounts (dollars for USD windows)."""
    if window is None:
        return
    context.response_headers[f"x-ratelimit-limit-{suffix}"] = show(window.limit)
    if window.remaining is not None:
        context.response_headers[f"x-ratelimit-remaining-{suffix}"] = show(window.remaining)
    if window.reset_s is not None:
        context.response_headers[f"x-ratelimit-reset-{suffix}"] = format_duration(window.reset_s)


def retry_after_s(seconds: float | None) -> float:
    return UNKNOWN_WAIT_S if seconds is None else max(seconds, 0.001)


async def guarded(scope: Scope, what: str, call: Awaitable[_T]) -> _T | None:
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
