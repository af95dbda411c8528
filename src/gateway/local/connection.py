"""The local server's side of a connection: slow clients are cut off, and a client that leaves is
noticed from the moment its request has been read.

uvicorn reads a request's headers and body with no time limit (a client sending a byte a second
holds a connection forever) and reports a client that left only to whoever calls `receive()`.
- `TimedH11Protocol`: uvicorn's h11 protocol with a deadline for a request's headers, from the
  connection's start or the previous answer's end; a connection that misses it is closed.
- `ClientWatch`: an ASGI wrapper with a deadline for the body (a 408 when it is missed) that,
  once the body is read, watches for the client leaving and says so through the scope
  (`CLIENT_GONE_KEY`), so the model call is cancelled at once rather than waited out.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

from .._asgi.http import CLIENT_GONE_KEY, ASGIApp, Message, Receive, Scope, Send
from .._errors import RequestTimeout

__all__ = ["DEFAULT_BODY_TIMEOUT_S", "DEFAULT_HEADERS_TIMEOUT_S", "ClientWatch", "TimedH11Protocol"]

# A request's headers are a few hundred bytes: 10 s is ample for any real client (Node's
# default is 60 s for headers over the internet; this server listens locally).
DEFAULT_HEADERS_TIMEOUT_S = 10.0
# The whole body, up to MAX_BODY_BYTES (10 MB by default), in 60 s: about 1.4 Mbit/s at least.
DEFAULT_BODY_TIMEOUT_S = 60.0


class TimedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing a connection whose request headers do not arrive in time."""

    headers_timeout_s = DEFAULT_HEADERS_TIMEOUT_S

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._headers_deadline: asyncio.TimerHandle | None = None
        self._arm_headers_deadline()

    def _arm_headers_deadline(self) -> None:
        self._disarm_headers_deadline()
        self._headers_deadline = self.loop.call_later(self.headers_timeout_s, self._headers_late)

    def _disarm_headers_deadline(self) -> None:
        if self._headers_deadline is not None:
            self._headers_deadline.cancel()
            self._headers_deadline = None

    def _headers_late(self) -> None:
        self._headers_deadline = None
        if self.cycle is None or self.cycle.response_complete:  # no request under way: still waiting
            self.transport.close()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request's headers arrived: its body has its own deadline
            self._disarm_headers_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm_headers_deadline()  # the next request on this connection has the same deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_headers_deadline()
        super().connection_lost(exc)


class ClientWatch:
    """Wraps the gateway for uvicorn: a deadline for the body, then a watch for the client leaving."""

    def __init__(self, app: ASGIApp, *, body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S) -> None:
        self.app = app
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        watch = _Watch(receive, asyncio.get_running_loop().time() + self.body_timeout_s, self.body_timeout_s)
        scope[CLIENT_GONE_KEY] = watch.gone
        try:
            await self.app(scope, watch.receive, send)
        finally:
            watch.stop()


class _Watch:
    """One request's view of its client: the body until its deadline, then whether it left."""

    def __init__(self, receive: Receive, deadline: float, timeout_s: float) -> None:
        self._receive, self._deadline, self._timeout_s = receive, deadline, timeout_s
        self.gone = asyncio.Event()
        self._body_read = False
        self._watcher: asyncio.Future[Any] | None = None

    async def receive(self) -> Message:
        if self._body_read:
            await self.gone.wait()  # the watcher owns the real receive now
            return {"type": "http.disconnect"}
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise RequestTimeout(
                f"The request body did not arrive within {self._timeout_s:g} s (the local server's BODY_TIMEOUT_S)."
            ) from None
        if message["type"] == "http.disconnect":
            self.gone.set()
        elif not message.get("more_body", False):
            self._body_read = True
            self._watcher = asyncio.ensure_future(self._watch())
        return message

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self.gone.set()

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
