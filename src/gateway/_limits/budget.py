"""Budgets around each model call: reserve the most it can cost, then settle the real count.

`call_model` calls `reserve_tokens` before the model and `fail` if the call raises. Settling runs
as a request finisher, so it sees a stream's final usage, a client that left, or a failure:

| how the request ended                          | charged                                     |
|------------------------------------------------|---------------------------------------------|
| answered, usage reported (streamed or not)     | the reported input + output tokens, and     |
|                                                | their price at the answering model's rates, |
|                                                | cached input at its rate (`cost.py`)        |
| the call failed before answering               | nothing (refunded)                          |
| a stream failed upstream before its usage      | nothing (refunded: the upstream failed)     |
| the client left before the usage arrived       | the whole reservation (the model may have   |
|                                                | kept generating; the gateway cannot know)   |
| answered without usage (a queued batch)        | the whole reservation                       |

The reservation is an upper bound of what the call can cost, so concurrent calls cannot overshoot:
- output: the request's `max_tokens` (prompt, messages) or `max_output_tokens` (Responses), else
  Workers AI's default of 256; reasoning counts against the same cap;
- input: the UTF-8 size in bytes of the inputs as JSON, plus 256 for the chat template and the
  system preamble the model adds. Every token of gpt-oss's tokenizer stands for at least one
  byte, and the JSON form of a message is longer than its text, so this never undercounts;
- a batch (`requests: [...]`) reserves the sum over its requests; polling a batch reserves 0
  (its tokens were reserved when it was queued);
- dollars: those bounds at the list price (`_catalog.PRICES_PER_MILLION`) of the dearest model
  that may answer (the one asked for, or the fallback), in whole nano-dollars, with no input
  counted as cached (a cached rate is never above the input rate).
"""

from __future__ import annotations

import json
import os
from typing import Any

from .._asgi.context import RequestContext, context_of
from .._asgi.http import Scope
from .._catalog import NANO_USD, WORKERS_AI_DEFAULT_MAX_TOKENS, price_nano_usd
from .._config import settings_of
from .._errors import InvalidRequest, RateLimited
from .._policy import Tier
from .._valueclass import Record
from .admission import guarded, put_window_headers, retry_after_s
from .cost import cost_nano_usd
from .guards import BudgetVerdict, guards_of, key_of, nano_usd

__all__ = [
    "TEMPLATE_OVERHEAD_TOKENS",
    "Reservation",
    "format_usd",
    "max_nano_usd_for",
    "max_tokens_for",
    "output_room",
    "reserve_tokens",
]

TEMPLATE_OVERHEAD_TOKENS = 256


def max_tokens_for(inputs: dict[str, Any]) -> int:
    """The most tokens (input + output) one call with these native inputs can use."""
    return sum(input_bound + output_cap for input_bound, output_cap in _bounds(inputs))


def max_nano_usd_for(inputs: dict[str, Any], models: tuple[str, ...]) -> int:
    """The most one call with these inputs can cost, answered by any of `models`, in nano-dollars."""
    # None of the input counted as cached: the cached rate is never above the input rate.
    costs = ((price_nano_usd(model, *bound) or 0 for bound in _bounds(inputs)) for model in models)
    return max((sum(cost) for cost in costs), default=0)


def format_usd(nano: int) -> str:
    """Nano-dollars as an exact decimal amount of dollars: `4.99999965`, `5`, `0.000035`."""
    whole, fraction = divmod(max(0, nano), NANO_USD)
    return f"{whole}.{fraction:09d}".rstrip("0").rstrip(".")


def _bounds(inputs: dict[str, Any]) -> list[tuple[int, int]]:
    """(input bound, output cap) of each call these inputs make: one, a batch's each, or none."""
    if isinstance(inputs.get("requests"), list):
        return [bound for item in inputs["requests"] if isinstance(item, dict) for bound in _bounds(item)]
    if "request_id" in inputs:
        return []
    return [(_input_bound(inputs), _output_cap(inputs))]


def output_room(scope: Scope, inputs: dict[str, Any], models: tuple[str, ...] = ()) -> int | None:
    """The largest output cap a call with these inputs could have and still fit the key's token
    budgets, and its dollar budgets answered by any of `models`, at all (it may still have to wait
    for them); None when the key has no such budget."""
    tier = _tier_of(scope)
    if tier is None:
        return None
    input_bound = _input_bound(inputs)
    rooms = [limit - input_bound for limit in (tier.tokens_per_minute, tier.tokens_per_day) if limit]
    for dollars in (limit for limit in (tier.usd_per_day, tier.usd_per_month) if limit):
        rooms += [room for model in models if (room := _dollar_room(model, input_bound, dollars)) is not None]
    return min(rooms) if rooms else None


def _dollar_room(model: str, input_bound: int, dollars: float) -> int | None:
    """The output tokens `dollars` pays for on `model` after an input of `input_bound` tokens, as
    the reservation prices them (None for a model without prices)."""
    input_price, per_output_token = price_nano_usd(model, input_bound, 0), price_nano_usd(model, 0, 1)
    if input_price is None or not per_output_token:
        return None
    return (nano_usd(dollars) - input_price) // per_output_token


def _tier_of(scope: Scope) -> Tier | None:
    key = key_of(scope)
    return settings_of(scope).tier_of(key) if key is not None else None


def _output_cap(inputs: dict[str, Any]) -> int:
    for name in ("max_tokens", "max_output_tokens"):
        value = inputs.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return WORKERS_AI_DEFAULT_MAX_TOKENS


def _input_bound(inputs: dict[str, Any]) -> int:
    text = json.dumps(inputs, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode("utf-8", "surrogatepass")) + TEMPLATE_OVERHEAD_TOKENS


class Reservation(Record):
    __slots__ = ("failed", "key_id", "lease_id", "tokens", "usd")
    key_id: str
    lease_id: str
    tokens: int
    usd: int  # nano-dollars
    failed: bool

    def __init__(self, key_id: str, lease_id: str, tokens: int, usd: int = 0, failed: bool = False) -> None:
        self.key_id, self.lease_id, self.tokens, self.usd, self.failed = key_id, lease_id, tokens, usd, failed

    def fail(self) -> None:
        self.failed = True

    def charge(self, context: RequestContext) -> tuple[int, int]:
        """What this call really cost, tokens and nano-dollars, by how the request ended (the table above)."""
        if context.input_tokens is not None or context.output_tokens is not None:
            tokens = (context.input_tokens or 0) + (context.output_tokens or 0)
            # At the answering model's rates (the fallback's when it served), cached input at its rate.
            return tokens, cost_nano_usd(context) or 0
        if context.aborted:
            return self.tokens, self.usd
        if self.failed or context.error is not None:
            return 0, 0
        return self.tokens, self.usd


async def reserve_tokens(
    scope: Scope, inputs: dict[str, Any], models: tuple[str, ...] | None = None
) -> Reservation | None:
    """Reserve the call's maximum against the key's budgets; raise 429 (or 400) when it cannot fit.

    `models` are those that may answer (the request's, and a fallback); by default the request's.
    """
    key, tier = key_of(scope), _tier_of(scope)
    if key is None or tier is None or not tier.has_budget:
        return None
    context = context_of(scope)
    tokens = max_tokens_for(inputs)
    usd = max_nano_usd_for(inputs, models or ((context.model,) if context.model else ()))
    lease_id = f"{context.request_id}-{os.urandom(4).hex()}"  # not uuid: importing it costs the Worker ~15 ms
    budgets = guards_of(scope).tokens
    stream = inputs.get("stream") is True
    reserving = budgets.reserve(key.key_id, lease_id, tokens, stream, tier, usd)
    verdict = await guarded(scope, "the token budget", reserving)
    if verdict is None:
        return None  # failed open: unmetered, and the log line says so
    _put_budget_headers(context, verdict)
    if not verdict.admitted:
        raise _refusal(verdict, tokens, usd, tier)
    reservation = Reservation(key.key_id, lease_id, tokens, usd)
    context.finishers.append(lambda ctx: _settle(scope, reservation, ctx))
    return reservation


def _put_budget_headers(context: RequestContext, verdict: BudgetVerdict) -> None:
    put_window_headers(context, "tokens", verdict.minute)
    put_window_headers(context, "tokens-day", verdict.day)
    put_window_headers(context, "usd-day", verdict.usd_day, format_usd)
    put_window_headers(context, "usd-month", verdict.usd_month, format_usd)


async def _settle(scope: Scope, reservation: Reservation, context: RequestContext) -> None:
    tokens, usd = reservation.charge(context)
    context.extra["tokens_reserved"] = reservation.tokens
    context.extra["tokens_charged"] = tokens
    context.extra["usd_reserved"] = reservation.usd / NANO_USD
    context.extra["usd_charged"] = usd / NANO_USD
    await guards_of(scope).tokens.settle(reservation.key_id, reservation.lease_id, tokens, usd)


def _refusal(verdict: BudgetVerdict, tokens: int, usd: int, tier: Tier) -> Exception:
    if verdict.reason in ("usd_too_large", "usd_per_day", "usd_per_month"):
        return _usd_refusal(verdict, usd, tier)
    return _token_refusal(verdict, tokens, tier.name, tier.max_streams)


def _usd_refusal(verdict: BudgetVerdict, usd: int, tier: Tier) -> Exception:
    price = f"${format_usd(usd)} (its input plus max_tokens at the model's list price)"
    if verdict.reason == "usd_too_large":
        limits = [(w.limit, name) for w, name in ((verdict.usd_day, "a day"), (verdict.usd_month, "a month")) if w]
        limit, per = min(limits)
        return InvalidRequest(
            f"This request may cost up to {price}, more than this key's budget of ${format_usd(limit)} {per} "
            f"(tier {tier.name!r}) allows at all. Lower max_tokens or shorten the input.",
            param="max_tokens",
            code="usd_over_budget",
        )
    window = verdict.usd_month if verdict.reason == "usd_per_month" else verdict.usd_day
    period = "month" if verdict.reason == "usd_per_month" else "day"
    left = f"${format_usd(window.remaining or 0)} of ${format_usd(window.limit)}" if window else "less"
    return RateLimited(
        f"This request may cost up to {price}, more than this key has left this {period} ({left}, tier "
        f"{tier.name!r}). Retry after the time in the Retry-After header, or lower max_tokens.",
        code="usd_budget_exceeded",
        retry_after=retry_after_s(verdict.retry_after_s),
    )


def _token_refusal(verdict: BudgetVerdict, tokens: int, tier: str, max_streams: int | None) -> Exception:
    if verdict.reason == "too_large":
        limits = [w.limit for w in (verdict.minute, verdict.day) if w is not None]
        return InvalidRequest(
            f"This request may use up to {tokens} tokens (its input plus max_tokens), more than this key's "
            f"budget of {min(limits)} tokens (tier {tier!r}) allows at all. Lower max_tokens or shorten the input.",
            param="max_tokens",
            code="tokens_over_budget",
        )
    if verdict.reason == "streams":
        return RateLimited(
            f"This key already has {max_streams} open streams, its limit (tier {tier!r}). "
            "Retry when one of them has ended.",
            code="too_many_streams",
            retry_after=retry_after_s(None),
        )
    window = "minute" if verdict.reason == "tokens_per_minute" else "day"
    return RateLimited(
        f"This request may use up to {tokens} tokens, more than this key has left this {window} (tier {tier!r}). "
        "Retry after the time in the Retry-After header, or lower max_tokens.",
        code="token_budget_exceeded",
        retry_after=retry_after_s(verdict.retry_after_s),
    )
