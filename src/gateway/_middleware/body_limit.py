"""Body limits: refuse an oversized body from its Content-Length, or as soon as it grows too big."""

from __future__ import annotations

from .._asgi.http import ASGIApp, Message, Receive, Scope, Send, header
from .._config import settings_of
from .._errors import InvalidRequest, PayloadTooLarge

__all__ = ["BodyLimitMiddleware"]


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes (MAX_BODY_BYTES).")


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = settings_of(scope).max_body_bytes
        declared = header(scope, b"content-length")
        if declared is not None:
            if not declared.strip().isdigit():
                raise InvalidRequest(f"Content-Length must be a whole number of bytes, got {declared!r}.")
            if int(declared) > limit:
                raise _too_large(limit)
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _too_large(limit)
            return message

        await self.app(scope, counting_receive, send)
