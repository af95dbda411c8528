"""What a request cost: its model call's usage at the list price of the model that answered.

The one pricing of a request, read by the budget's settlement (and so by `GET /v1/usage`'s
totals), the log line and the usage data point, so they always agree: input tokens Workers AI
read from its prefix cache at the model's cached rate (`_catalog.PRICES_PER_MILLION`), the rest of
the input and the output at theirs.
"""

from __future__ import annotations

from .._asgi.context import RequestContext
from .._catalog import NANO_USD, price_nano_usd

__all__ = ["cost_nano_usd", "cost_usd"]


def cost_nano_usd(context: RequestContext) -> int | None:
    """What this request's model call cost, in whole nano-dollars; None without usage or prices."""
    return price_nano_usd(context.model, context.input_tokens, context.output_tokens, context.cached_tokens)


def cost_usd(context: RequestContext) -> float | None:
    """The same, in dollars."""
    nano = cost_nano_usd(context)
    return None if nano is None else nano / NANO_USD
