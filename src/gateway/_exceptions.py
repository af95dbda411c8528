"""Turns errors into answers: a `GatewayError` in its dialect's envelope, anything else a 500."""

from __future__ import annotations

import traceback
from collections.abc import Callable

from ._errors import GatewayError
from ._http import ASGIApp, Message, Receive, Scope, Send, context_of, send_json
from ._render import error_body, error_headers

__all__ = ["ErrorMiddleware"]


class ErrorMiddleware:
    def __init__(self, app: ASGIApp, *, log: Callable[[str], None]) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except GatewayError as exc:
            context_of(scope).error = exc.message
            if started:
                raise
            await send_json(send, exc.status, error_body(exc, scope["path"]), error_headers(exc))
        except Exception as exc:
            context = context_of(scope)
            context.error = f"internal: {type(exc).__name__}"
            self.log(f"unhandled error in request {context.request_id}:\n{traceback.format_exc()}")
            if started:
                raise
            internal = GatewayError(
                f"The gateway failed on this request (request id {context.request_id}). "
                "It has been logged; retrying may succeed."
            )
            await send_json(send, 500, error_body(internal, scope["path"]))
