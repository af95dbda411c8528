"""Turns errors into answers: a `GatewayError` in its dialect's envelope, anything else a 500."""

from __future__ import annotations

import traceback
from collections.abc import Callable

from .._asgi.context import context_of
from .._asgi.http import ASGIApp, Receive, Scope, Send, send_json
from .._envelopes import error_body, error_headers, error_status
from .._errors import ClientDisconnected, GatewayError

__all__ = ["ErrorMiddleware"]


class ErrorMiddleware:
    """Sits inside the request context, which records when the answer has started (`status`)."""

    def __init__(self, app: ASGIApp, *, log: Callable[[str], None]) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = context_of(scope)
        try:
            await self.app(scope, receive, send)
        except ClientDisconnected as exc:
            # The client's doing, not the gateway's: logged as a closed request, and there is no
            # one to send an answer to.
            context.error = exc.message
            context.aborted = True
            if context.status is None:
                context.status = exc.status
        except GatewayError as exc:
            context.error = exc.message
            if context.status is not None:  # the answer has started: too late for another
                raise
            path = scope["path"]
            await send_json(
                send, error_status(exc, path), error_body(exc, path, context.request_id), error_headers(exc)
            )
        except Exception as exc:
            context.error = f"internal: {type(exc).__name__}"
            self.log(f"unhandled error in request {context.request_id}:\n{traceback.format_exc()}")
            if context.status is not None:
                raise
            internal = GatewayError(
                f"The gateway failed on this request (request id {context.request_id}). "
                "It has been logged; retrying may succeed."
            )
            await send_json(send, 500, error_body(internal, scope["path"], context.request_id))
