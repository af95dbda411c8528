"""The options of every model call (`env.AI.run`'s third argument), built in one place.

`run_options` starts from what the route asked for (`queueRequest` for a batch) and adds the
prefix-cache session (`extraHeaders`, from the route's `Affinity`: `affinity.py`) and what the
gateway's configuration asks for; a new option belongs here, so every route and backend gets it.

With `AI_GATEWAY_ID` set, every call carries `gateway: {id, metadata}`, so AI Gateway logs,
analyses, caches and guards all of the gateway's traffic. `metadata` names the key and its tier
(never the key itself) and the request id, which ties AI Gateway's log to the gateway's own line.
A client may steer AI Gateway's cache with the request headers `cf-aig-cache-ttl`,
`cf-aig-skip-cache` and `cf-aig-cache-key` when its key's tier sets `ai_gateway_cache_headers`;
otherwise they are dropped and named in `x-gateway-ignored`. AI Gateway's log id and cache status
for the call come back as the response headers `cf-aig-log-id` and `cf-aig-cache-status`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .._asgi.context import RequestContext, context_of
from .._asgi.http import Scope, header
from .._config import settings_of
from .._errors import InvalidRequest
from .._limits.guards import key_of
from .affinity import Affinity, session_headers

__all__ = [
    "CACHE_HEADERS",
    "CACHE_STATUS_HEADER",
    "GATEWAY_ANSWER_HEADERS",
    "LOG_ID_HEADER",
    "gateway_request_headers",
    "note_gateway_answer",
    "run_options",
]

_TTL_HEADER, _SKIP_HEADER, _KEY_HEADER = "cf-aig-cache-ttl", "cf-aig-skip-cache", "cf-aig-cache-key"
CACHE_HEADERS = (_TTL_HEADER, _SKIP_HEADER, _KEY_HEADER)
LOG_ID_HEADER = "cf-aig-log-id"
CACHE_STATUS_HEADER = "cf-aig-cache-status"
# What AI Gateway says about a call that the client hears, under AI Gateway's own names.
GATEWAY_ANSWER_HEADERS = (LOG_ID_HEADER, CACHE_STATUS_HEADER)

# AI Gateway's cache TTL is from 60 seconds to one month (its caching docs); 30 days is taken as the month.
_TTL_RANGE = (60, 30 * 86_400)
_CACHE_KEY = re.compile(r"^[\x21-\x7e]{1,256}$")  # printable ASCII without spaces: safe in a header


def run_options(scope: Scope, options: dict[str, Any], affinity: Affinity | None = None) -> dict[str, Any]:
    """The options for this request's model call: the route's, its session's, and the configuration's."""
    built = dict(options)
    session = session_headers(scope, affinity or Affinity())
    if session:
        built["extraHeaders"] = session
    gateway = _ai_gateway(scope)
    if gateway is not None:
        built["gateway"] = gateway
    return built


def _ai_gateway(scope: Scope) -> dict[str, Any] | None:
    settings, context, key = settings_of(scope), context_of(scope), key_of(scope)
    if settings.ai_gateway_id is None:
        _cache_controls(scope, context, allowed=False)  # nothing to steer: any sent are named as ignored
        return None
    tier = settings.tier_of(key) if key is not None else None
    controls = _cache_controls(scope, context, allowed=tier is not None and tier.ai_gateway_cache_headers)
    metadata: dict[str, Any] = {"request_id": context.request_id}
    if key is not None:
        metadata = {"key": key.name, "tier": key.tier, **metadata}
    return {"id": settings.ai_gateway_id, "metadata": metadata, **controls}


def _cache_controls(scope: Scope, context: RequestContext, allowed: bool) -> dict[str, Any]:
    """The cache headers as the binding's options; when not allowed, none, and each one sent is named."""
    sent = {name: value for name in CACHE_HEADERS if (value := header(scope, name.encode())) is not None}
    if not allowed:
        if sent:
            context.note_ignored(sent)
        return {}
    controls: dict[str, Any] = {}
    if _TTL_HEADER in sent:
        controls["cacheTtl"] = _ttl(sent[_TTL_HEADER])
    if _SKIP_HEADER in sent:
        controls["skipCache"] = _skip(sent[_SKIP_HEADER])
    if _KEY_HEADER in sent:
        controls["cacheKey"] = _cache_key(sent[_KEY_HEADER])
    return controls


def _ttl(raw: str) -> int:
    low, high = _TTL_RANGE
    value = raw.strip()
    if not value.isdigit() or not low <= int(value) <= high:
        raise InvalidRequest(
            f"The {_TTL_HEADER} header must be a whole number of seconds from {low} to {high} "
            f"(AI Gateway caches for 60 s to a month), got {value[:40]!r}.",
            code="invalid_header",
        )
    return int(value)


def _skip(raw: str) -> bool:
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise InvalidRequest(
            f"The {_SKIP_HEADER} header must be true or false, got {value[:40]!r}.", code="invalid_header"
        )
    return value == "true"


def _cache_key(raw: str) -> str:
    value = raw.strip()
    if not _CACHE_KEY.match(value):
        raise InvalidRequest(
            f"The {_KEY_HEADER} header must be 1 to 256 printable ASCII characters without spaces.",
            code="invalid_header",
        )
    return value


def gateway_request_headers(gateway: dict[str, Any]) -> dict[str, str]:
    """The binding's `gateway` options as AI Gateway's request headers (for its REST URL)."""
    headers = {"cf-aig-metadata": json.dumps(gateway.get("metadata") or {}, separators=(",", ":"))}
    if "cacheTtl" in gateway:
        headers[_TTL_HEADER] = str(gateway["cacheTtl"])
    if "skipCache" in gateway:
        headers[_SKIP_HEADER] = "true" if gateway["skipCache"] else "false"
    if "cacheKey" in gateway:
        headers[_KEY_HEADER] = str(gateway["cacheKey"])
    return headers


def note_gateway_answer(context: RequestContext, heard: dict[str, str], *, answered: bool = True) -> None:
    """Put what AI Gateway said about the call on the log line, and (for an answer) in its headers.

    An error answer carries them already, as the error's own headers.
    """
    for name in GATEWAY_ANSWER_HEADERS:
        value = heard.get(name)
        if value is None:
            continue
        context.extra["aig_" + name.removeprefix("cf-aig-").replace("-", "_")] = value
        if answered:
            context.response_headers[name] = value
