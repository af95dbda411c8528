"""Which model may serve a request its own model is out of capacity for, and saying so.

With `FALLBACK_MODEL` set (it must be one of `MODELS`), a call that still meets Workers AI's
"out of capacity" (3040) after its retries, before the first byte, is made once more to the
fallback model (`call.call_with_fallback`). The answer then says truthfully who answered: the
`x-gateway-model` and `x-gateway-fallback-from` headers, the OpenAI `model` field, the log line,
the usage data point, and the price, all name the fallback. It is not used when:
- the client sends `x-gateway-fallback: off` (or `none`, `false`, `0`);
- the key's `models` scope does not include the fallback;
- the request is an async batch or polls one (a queued batch belongs to the model that queued it).
"""

from __future__ import annotations

from typing import Any

from .._asgi.context import RequestContext, context_of
from .._asgi.http import Scope, header
from .._catalog import aliases_of
from .._config import settings_of
from .._errors import InvalidRequest
from .._limits.guards import key_of

__all__ = ["FALLBACK_FROM_HEADER", "FALLBACK_HEADER", "MODEL_HEADER", "answered_name", "fallback_for", "note_served"]

FALLBACK_HEADER = "x-gateway-fallback"  # request: `off` forbids falling back for this request
FALLBACK_FROM_HEADER = "x-gateway-fallback-from"  # answer: the model that was asked for, when another answered
MODEL_HEADER = "x-gateway-model"  # answer: the model that answered
_OFF, _ON = ("off", "none", "false", "0"), ("on", "auto", "true", "1")


def fallback_for(scope: Scope, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> str | None:
    """The model that may answer if `model` is out of capacity, or None."""
    fallback = settings_of(scope).fallback_model
    wanted = _wanted(scope)
    if fallback is None or fallback == model or not wanted:
        return None
    key = key_of(scope)
    if key is not None and key.models is not None and fallback not in key.models:
        return None
    if options.get("queueRequest") or "requests" in inputs or "request_id" in inputs:
        return None
    return fallback


def _wanted(scope: Scope) -> bool:
    raw = header(scope, FALLBACK_HEADER.encode())
    value = (raw or "on").strip().lower()
    if value not in _OFF + _ON:
        raise InvalidRequest(
            f"The {FALLBACK_HEADER} header must be off (never answer with another model) or on (the default), "
            f"got {value[:40]!r}.",
            code="invalid_header",
        )
    return value in _ON


def note_served(context: RequestContext, asked: str, served: str) -> None:
    """Say which model answered: a header on every answer, and where another answered, on the log line."""
    context.model = served
    context.response_headers[MODEL_HEADER] = served
    if served != asked:
        context.response_headers[FALLBACK_FROM_HEADER] = asked
        context.extra["fallback_from"] = asked


def answered_name(scope: Scope, name: str, asked: str) -> str:
    """The `model` an answer shows, in every dialect: `name` (what it would show for `asked`), or,
    when the fallback answered, the fallback's name in the same form (`gpt-oss-120b` answered by
    the fallback is `gpt-oss-20b`; a model id, the fallback's id). Call it once the model has been
    called."""
    served = context_of(scope).model or asked
    if served == asked:
        return name
    aliases = aliases_of(asked)
    return aliases_of(served)[aliases.index(name) if name in aliases else 0]
