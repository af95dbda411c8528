"""The outermost layer: each request gets a context, an id, timing headers, and one JSON log line."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from typing import Any

from .._asgi.context import CONTEXT_KEY, RequestContext
from .._asgi.http import ASGIApp, Message, Receive, Scope, Send, header
from .._envelopes import is_anthropic_path
from .._limits.cost import cost_usd

__all__ = ["LogSink", "RequestContextMiddleware"]

LogSink = Callable[[str], None]

# Log lines escape non-ASCII (unlike bodies, which `encode_json` writes as UTF-8): a line must stay
# one line and readable whatever encoding the log sink uses. Built once, as json.dumps with options
# builds a new encoder on each call.
_encode_log = json.JSONEncoder(separators=(",", ":")).encode

# A caller's id is kept only when it is short and plain, so it cannot forge log structure.
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def _request_id(scope: Scope) -> str:
    offered = header(scope, b"x-request-id")
    if offered and _SAFE_ID.match(offered):
        return offered
    return os.urandom(16).hex()  # as unique as uuid4, without importing uuid (platform) in the Worker


def _server_timing(context: RequestContext) -> str:
    parts = [f"gateway;dur={context.elapsed_ms():.1f}"]
    if context.upstream_ms is not None:
        parts.append(f"upstream;dur={context.upstream_ms:.1f}")
    return ", ".join(parts)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, log: LogSink, backend_name: Callable[[Scope], str]) -> None:
        self.app = app
        self.log = log
        self.backend_name = backend_name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(request_id=_request_id(scope), backend=self.backend_name(scope))
        scope[CONTEXT_KEY] = context
        if is_anthropic_path(scope["path"]):
            # Where Anthropic's API and SDKs carry the id (`message._request_id`, error reports).
            context.response_headers["request-id"] = context.request_id

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                context.status = message["status"]
                extra = [
                    (b"x-request-id", context.request_id.encode()),
                    (b"server-timing", _server_timing(context).encode()),
                    (b"x-gateway-backend", (context.backend or "unknown").encode()),
                    *((name.encode(), value.encode()) for name, value in context.response_headers.items()),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            await self._finish(context)
            self.log(_encode_log(_log_record(scope, context)))

    async def _finish(self, context: RequestContext) -> None:
        for finisher in context.finishers:
            try:
                await finisher(context)
            except Exception as exc:  # one failed finisher must not lose the others or the log line
                context.error = f"{context.error or ''} finisher failed: {type(exc).__name__}: {exc}".strip()


def _log_record(scope: Scope, context: RequestContext) -> dict[str, Any]:
    return {
        "ts": round(time.time(), 3),
        "request_id": context.request_id,
        "method": scope.get("method"),
        "path": scope.get("path"),
        "route": context.route,
        "key": context.key_name,
        "model": context.model,
        "status": context.status,
        "streamed": context.streamed,
        "input_tokens": context.input_tokens,
        "output_tokens": context.output_tokens,
        "cached_tokens": context.cached_tokens,
        "cost_usd": cost_usd(context),
        "duration_ms": round(context.elapsed_ms(), 1),
        "ttfb_ms": None if context.first_byte_ms is None else round(context.first_byte_ms, 1),
        "upstream_ms": None if context.upstream_ms is None else round(context.upstream_ms, 1),
        "backend": context.backend,
        "error": context.error,
        **context.extra,
    }
