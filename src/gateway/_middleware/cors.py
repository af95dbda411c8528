"""CORS: browsers on allow-listed origins may call the API; preflights are answered without a key.

`CORS_ORIGINS` is a comma-separated allow-list (`https://app.example.com,http://localhost:3000`),
or `*`. A listed origin is echoed with `access-control-allow-credentials: true`; `*` is answered
as `*` and never with credentials, which browsers would refuse anyway and which would let any site
ride a user's cookies. Unset: no CORS headers, and preflights are refused.

The headers go into the request context, so that every answer carries them, error answers too
(those are written by a layer outside this one).
"""

from __future__ import annotations

from .._asgi.context import RequestContext, context_of
from .._asgi.http import ASGIApp, Receive, Scope, Send, header
from .._config import settings_of
from .._errors import Forbidden
from .._policy import ANY

__all__ = ["CORSMiddleware", "header_allowed"]

_ALLOWED_METHODS = ("GET", "POST", "DELETE", "OPTIONS")  # DELETE: /v1/responses/{id}
# What the official SDKs and curl examples send, and the request headers the gateway acts on
# (`x-session-affinity`, `x-gateway-fallback`, AI Gateway's `cf-aig-cache-*`), in the order a
# refusal names them; `x-stainless-*`, `openai-*` and `anthropic-*` are prefixes (Anthropic's SDK
# in a browser sends `anthropic-version`, `anthropic-beta` and
# `anthropic-dangerous-direct-browser-access`).
_ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "x-api-key",
    "x-request-id",
    "accept",
    "x-session-affinity",
    "x-gateway-fallback",
    "cf-aig-cache-ttl",
    "cf-aig-skip-cache",
    "cf-aig-cache-key",
)
_ALLOWED_PREFIXES = ("x-stainless-", "openai-", "anthropic-")
_EXPOSED_HEADERS = (
    "x-request-id",
    "request-id",
    "retry-after",
    "server-timing",
    "x-gateway-backend",
    "x-gateway-ignored",
    "x-gateway-passed-through",
    "x-ratelimit-limit-requests",
    "x-ratelimit-remaining-requests",
    "x-ratelimit-reset-requests",
    "x-ratelimit-limit-tokens",
    "x-ratelimit-remaining-tokens",
    "x-ratelimit-reset-tokens",
    "x-ratelimit-limit-tokens-day",
    "x-ratelimit-remaining-tokens-day",
    "x-ratelimit-reset-tokens-day",
    "x-ratelimit-limit-usd-day",
    "x-ratelimit-remaining-usd-day",
    "x-ratelimit-reset-usd-day",
    "x-ratelimit-limit-usd-month",
    "x-ratelimit-remaining-usd-month",
    "x-ratelimit-reset-usd-month",
    "x-gateway-model",
    "x-gateway-fallback-from",
    "cf-aig-log-id",
    "cf-aig-cache-status",
)
_PREFLIGHT_MAX_AGE_S = 600


def header_allowed(name: str) -> bool:
    name = name.strip().lower()
    return name in _ALLOWED_HEADERS or name.startswith(_ALLOWED_PREFIXES)


def _allow(context: RequestContext, origin: str, origins: tuple[str, ...]) -> bool:
    """Put the answer's CORS headers in the context; False when the origin is not allowed."""
    if origins == (ANY,):
        context.response_headers["access-control-allow-origin"] = ANY
    elif origin in origins:
        context.response_headers["access-control-allow-origin"] = origin
        context.response_headers["access-control-allow-credentials"] = "true"
    else:
        return False
    context.response_headers["access-control-expose-headers"] = ", ".join(_EXPOSED_HEADERS)
    return True


class CORSMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = header(scope, b"origin")
        context = context_of(scope)
        if origin is not None:
            # The answer depends on Origin even when it is refused: caches must keep them apart.
            context.response_headers["vary"] = "Origin"
        allowed = origin is not None and _allow(context, origin, settings_of(scope).cors_origins)
        requested_method = header(scope, b"access-control-request-method")
        if scope["method"] == "OPTIONS" and origin is not None and requested_method is not None:
            await _preflight(scope, send, context, allowed, requested_method)
            return
        await self.app(scope, receive, send)


async def _preflight(scope: Scope, send: Send, context: RequestContext, allowed: bool, method: str) -> None:
    refusal = _preflight_refusal(scope, allowed, method)
    if refusal is not None:
        for name in [name for name in context.response_headers if name.startswith("access-control-")]:
            del context.response_headers[name]
        raise Forbidden(refusal, code="cors_refused")
    requested = header(scope, b"access-control-request-headers") or ""
    context.response_headers.update(
        {
            "access-control-allow-methods": ", ".join(_ALLOWED_METHODS),
            "access-control-allow-headers": ", ".join(h.strip().lower() for h in requested.split(",") if h.strip()),
            "access-control-max-age": str(_PREFLIGHT_MAX_AGE_S),
        }
    )
    if not context.response_headers["access-control-allow-headers"]:
        del context.response_headers["access-control-allow-headers"]
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b""})


def _preflight_refusal(scope: Scope, allowed: bool, method: str) -> str | None:
    if not allowed:
        configured = settings_of(scope).cors_origins
        where = "CORS_ORIGINS is not set" if not configured else "it is not in CORS_ORIGINS"
        return f"Cross-origin requests from this origin are not allowed: {where}."
    if method.strip().upper() not in _ALLOWED_METHODS:
        return f"Method {method!r} is not allowed cross-origin. Allowed: {', '.join(_ALLOWED_METHODS)}."
    requested = header(scope, b"access-control-request-headers") or ""
    refused = [name.strip() for name in requested.split(",") if name.strip() and not header_allowed(name)]
    if refused:
        return (
            f"Header(s) {', '.join(refused)} are not allowed cross-origin. Allowed: "
            f"{', '.join((*_ALLOWED_HEADERS, *(prefix + '*' for prefix in _ALLOWED_PREFIXES)))}."
        )
    return None
