"""The account's ceiling: requests per minute to Workers AI across every key together.

Tiers limit each key; with enough keys their sum can still pass Workers AI's own limit for the
account (300 requests a minute for text generation by default). `ACCOUNT_REQUESTS_PER_MINUTE`
caps the sum: every model call counts once under one shared key, in the `ACCOUNT_RATE_LIMIT`
Rate Limiting binding (in-process locally). It is checked where the model is called, after the
key's own limits, so requests that never reach Workers AI (a 400, `GET /v1/models`, a key over
its own limit) do not use it up. A refusal is a 429 that says the service is busy, not the key.
"""

from __future__ import annotations

import math

from .._asgi.http import Scope
from .._config import settings_of
from .._errors import RateLimited
from .._policy import Tier
from .admission import guarded
from .guards import RequestLimiter, RequestVerdict, guards_of

__all__ = ["CEILING_KEY", "admit_to_account"]

# Every key counts under this one key; API keys are counted under their 64-hex hash, never this.
CEILING_KEY = "account"
_PERIOD_S = 60


async def admit_to_account(scope: Scope) -> None:
    """Count this model call against the account's ceiling; raise 429 `service_busy` past it."""
    limit = settings_of(scope).account_requests_per_minute
    if limit is None:
        return
    ceiling = Tier(name="account", requests=limit, period=_PERIOD_S)
    verdict = await guarded(scope, "the account's request ceiling", _admit(guards_of(scope).ceiling, ceiling))
    if verdict is not None and not verdict.admitted:
        wait = verdict.retry_after_s if verdict.retry_after_s is not None else _PERIOD_S
        raise RateLimited(
            f"The service is busy: all keys together have made the {limit} requests a minute this gateway "
            "sends to Workers AI. This is not this key's own limit. Retry after "
            "the time in the Retry-After header.",
            code="service_busy",
            retry_after=max(1.0, math.ceil(wait)),
        )


async def _admit(limiter: RequestLimiter | None, ceiling: Tier) -> RequestVerdict:
    if limiter is None:
        raise LookupError("no limiter counts the account's requests (ACCOUNT_RATE_LIMIT)")
    return await limiter.admit(CEILING_KEY, ceiling)
