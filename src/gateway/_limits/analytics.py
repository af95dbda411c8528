"""Per-key usage records in Workers Analytics Engine (optional binding `USAGE`).

One data point per model call, written after the request ends (streams included), so spend per
key can be queried with SQL:

    SELECT blob1 AS key, SUM(double1) AS input_tokens, SUM(double2) AS output_tokens,
           SUM(double3) AS cost_usd
    FROM gpt_oss_gateway_usage WHERE timestamp > NOW() - INTERVAL '1' DAY GROUP BY key

blobs: key name, model, route, status; doubles: input tokens, output tokens, cost in USD, the
input tokens read from Workers AI's prefix cache (a part of the input tokens);
index: the key's hash (never the key).
"""

from __future__ import annotations

from typing import Any

from .._asgi.context import RequestContext, context_of
from .._asgi.http import Scope
from .._policy import ApiKey
from .cost import cost_usd
from .guards import guards_of, key_of

__all__ = ["data_point", "record_usage_after"]


def data_point(key: ApiKey, context: RequestContext) -> dict[str, Any]:
    cost = cost_usd(context) or 0.0
    return {
        "indexes": [key.key_id[:32]],  # Analytics Engine allows at most 32 bytes here
        "blobs": [key.name, context.model or "", context.route or "", str(context.status or 0)],
        "doubles": [
            float(context.input_tokens or 0),
            float(context.output_tokens or 0),
            cost,
            float(context.cached_tokens or 0),
        ],
    }


def record_usage_after(scope: Scope) -> None:
    """Record this call's usage when the request ends, if a usage sink is configured."""
    sink, key = guards_of(scope).usage, key_of(scope)
    if sink is None or key is None:
        return

    async def record(context: RequestContext) -> None:
        sink.record(key, context)

    context_of(scope).finishers.append(record)
