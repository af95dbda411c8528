"""The gateway's API reference: the OpenAPI document of its routes, and what it says of itself.

Imported when `GET /openapi.json` is first asked for, and the document is then kept by the app
(settings cannot change during an isolate's life). The routes' request schemas are the tables
that check requests; the served models come from this app's settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ._asgi.openapi import Documented, array, const, integer, nullable, obj, openapi_document, string
from ._asgi.routing import Route
from ._asgi.schema import Obj
from ._catalog import CONTEXT_WINDOW, PRICES_PER_MILLION, aliases_of
from ._config import Settings
from ._native.forms import FORM_NAMES
from ._params import HARMLESS, FieldPolicy

__all__ = ["forms_schema", "healthz", "openapi", "policy_schema", "reference_document", "usage"]

_DESCRIPTION = """\
A Cloudflare Worker in front of Workers AI's gpt-oss: Workers AI's native `/ai/run` API, OpenAI's
Responses, Chat Completions, Completions and Models APIs, and Anthropic's Messages API, with API
keys, rate limits and exact token and dollar budgets. Cloudflare's REST prefix
`/client/v4/accounts/{account_id}` is also accepted in front of `/ai/...` paths.

Request fields are honoured, accepted and ignored (named in the `x-gateway-ignored` response
header), or refused with a 400 naming the field; see each field's description. `null` means "not
set". Unknown fields are ignored and named, unless the operator set `STRICT_PARAMS=true`, in which
case this document says `additionalProperties: false` and they are refused.

Every answer says which backend served it in `x-gateway-backend`: `emulator` means an offline
stand-in, not the model, and after a model call `x-gateway-model` names the model that answered.

Request headers the gateway acts on: `x-session-affinity` (the prefix-cache session, hashed with
the key before it is sent on), `x-gateway-fallback: off` (never answer with the fallback model),
and, for tiers allowed to, AI Gateway's `cf-aig-cache-ttl`, `cf-aig-skip-cache` and
`cf-aig-cache-key` (otherwise named in `x-gateway-ignored`). `GET /v1/usage` shows the calling
key's limits, what it has left and what it has spent."""

_SECURITY = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "`Authorization: Bearer <key>`."},
    "api_key": {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "`x-api-key: <key>`."},
}

_HEADERS: dict[str, tuple[str, bool]] = {
    "x-request-id": ("This request's id, also on its log line (yours, when you sent a plain one).", True),
    "x-gateway-backend": ("Which backend answered: `binding` (Workers AI), `rest`, `openai`, or `emulator`.", True),
    "server-timing": ("`gateway;dur=<ms>` and, after a model call, `upstream;dur=<ms>`.", True),
    "x-gateway-ignored": ("Request fields accepted and not acted on, comma-separated.", False),
    "retry-after": ("Seconds until a refused request would be admitted (429, 503).", False),
    "x-ratelimit-limit-requests": ("Requests allowed per period for this key's tier.", False),
    "x-ratelimit-remaining-requests": ("Requests left in this period (in-process limits only).", False),
    "x-ratelimit-reset-requests": ("When the request window resets, e.g. `42.8s`.", False),
    "x-ratelimit-limit-tokens": ("Tokens allowed per minute.", False),
    "x-ratelimit-remaining-tokens": ("Tokens left this minute, after this request's reservation.", False),
    "x-ratelimit-reset-tokens": ("When the minute budget resets.", False),
    "x-ratelimit-limit-tokens-day": ("Tokens allowed per UTC day.", False),
    "x-ratelimit-remaining-tokens-day": ("Tokens left today, after this request's reservation.", False),
    "x-ratelimit-reset-tokens-day": ("When the day budget resets.", False),
    "x-ratelimit-limit-usd-day": ("Dollars allowed per UTC day, at list price.", False),
    "x-ratelimit-remaining-usd-day": ("Dollars left today, after this request's reservation.", False),
    "x-ratelimit-reset-usd-day": ("When the day's dollar budget resets.", False),
    "x-ratelimit-limit-usd-month": ("Dollars allowed per UTC calendar month, at list price.", False),
    "x-ratelimit-remaining-usd-month": ("Dollars left this month, after this request's reservation.", False),
    "x-ratelimit-reset-usd-month": ("When the month's dollar budget resets.", False),
    "x-gateway-model": ("The model that answered (after a model call).", False),
    "x-gateway-fallback-from": ("The model asked for, when the fallback model answered instead.", False),
    "cf-aig-log-id": ("AI Gateway's log id for the call, when it went through AI Gateway.", False),
    "cf-aig-cache-status": ("AI Gateway's cache status for the call (`HIT`, `MISS`), when it says one.", False),
}


def healthz() -> Documented:
    """`GET /healthz` answers 200 when it can serve, 503 (same body) when it is not configured."""
    body = obj(
        {
            "status": string(enum=["ok", "unconfigured"]),
            "backend": string(description="`emulator` means answers are not the model's."),
            "models": array(string()),
        }
    )
    return {"response": body, "statuses": ("503",)}


def openapi() -> Documented:
    return {"response": {"type": "object", "description": "This document."}}


def usage() -> Documented:
    """`GET /v1/usage`: the calling key's record, its tier's limits (none without TIERS), what is
    left in each window (null where the tier sets no limit or the limiter does not say) and its
    totals from the budget object (null for a tier that keeps none)."""
    count, amount = nullable(integer(minimum=0)), nullable({"type": "number", "minimum": 0})
    number = {"type": "number"}
    window = nullable(obj({"limit": number, "remaining": nullable(number), "reset_s": nullable(number)}))
    streams = nullable(obj({"limit": count, "open": integer(minimum=0), "remaining": count}))
    spent = {"tokens": integer(minimum=0), "usd": number, "reserved_tokens": integer(minimum=0), "reserved_usd": number}
    total = obj({"since": string(format="date-time"), **spent})
    key = obj({"name": string(), "tier": string(), "models": array(string()), "expires_at": nullable(string())})
    limits = obj(
        {},
        {
            "requests": count,
            "period_s": integer(minimum=1),
            "tokens_per_minute": count,
            "tokens_per_day": count,
            "max_streams": count,
            "usd_per_day": amount,
            "usd_per_month": amount,
        },
    )
    windows = ("requests", "tokens_per_minute", "tokens_per_day", "usd_per_day", "usd_per_month")
    body = obj(
        {
            "object": const("key.usage"),
            "key": key,
            "limits": limits,
            "remaining": obj({**{name: window for name in windows}, "streams": streams}),
            "totals": nullable(obj({"today": total, "this_month": total})),
        }
    )
    return {"response": body}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def policy_schema(policy: FieldPolicy, *, strict: bool) -> dict[str, Any]:
    """A body checked by a `FieldPolicy`: null means "not set" for every optional field, ignored
    fields take anything, refused ones only what changes nothing, unknown ones per STRICT_PARAMS."""
    honoured = {name: spec.json_schema() for name, spec in policy.honoured.items()}
    fields = {name: schema if name in policy.required else _nullable(schema) for name, schema in honoured.items()}
    for name, reason in policy.ignored.items():
        parent, _, child = name.partition(".")
        where = honoured[parent].setdefault("properties", {}) if child else fields
        where[child or name] = {"description": f"Accepted and ignored (named in x-gateway-ignored): {reason}"}
    for name, reason in policy.refused.items():
        allowed = [{"type": "null"}, *({"const": ok} for ok in HARMLESS.get(name, ()))]
        fields[name] = {"description": f"Refused with 400 unsupported_parameter: {reason}", "anyOf": allowed}
    return {
        "type": "object",
        "properties": fields,
        "required": list(policy.required),
        "additionalProperties": not strict,
    }


def forms_schema(forms: dict[Any, Obj]) -> dict[str, Any]:
    """A native body: exactly one of the input forms, each told apart by the field that marks it."""
    return {"oneOf": [{"title": f"{FORM_NAMES[form]} form", **spec.json_schema()} for form, spec in forms.items()]}


def _request_schema(tables: Any, strict: bool) -> dict[str, Any]:
    if isinstance(tables, FieldPolicy):
        return policy_schema(tables, strict=strict)
    if isinstance(tables, dict):
        return forms_schema(tables)
    raise TypeError(f"the reference cannot render {type(tables).__name__} request tables")


def _headers() -> dict[str, Any]:
    return {
        name: {"description": description, "required": required, "schema": string()}
        for name, (description, required) in _HEADERS.items()
    }


def _name_models(document: dict[str, Any], names: list[str]) -> None:
    """A body's `model` must name a served model (any of its aliases); others get a 404."""
    schemas = document["components"]["schemas"]
    for name, schema in schemas.items():
        model = schema.get("properties", {}).get("model") if name.endswith("_request") else None
        if model is not None:
            model["enum"] = names


def _models(settings: Settings) -> list[dict[str, Any]]:
    """The served models' facts, for clients such as the playground (which prices its answers)."""
    return [
        {
            "id": model,
            "aliases": list(aliases_of(model)),
            "context_window": CONTEXT_WINDOW,
            "usd_per_million_tokens": _prices(model),
        }
        for model in settings.models
    ]


def _prices(model: str) -> dict[str, float | None]:
    """`cached_input` null: prefix-cached input tokens cost the input rate."""
    input_rate, output_rate, cached_rate = PRICES_PER_MILLION.get(model, (None, None, None))
    return {"input": input_rate, "output": output_rate, "cached_input": cached_rate}


def reference_document(routes: Iterable[Route], settings: Settings) -> dict[str, Any]:
    document = openapi_document(
        routes,
        info={"title": "gpt-oss gateway", "version": "1", "description": _DESCRIPTION},
        security_schemes=_SECURITY,
        headers=_headers(),
        request_schema=lambda tables: _request_schema(tables, settings.strict_params),
        path_params={"model": string(enum=list(settings.models), description="A served model's id.")},
    )
    _name_models(document, [alias for model in settings.models for alias in aliases_of(model)])
    document["x-gateway-models"] = _models(settings)
    return document
