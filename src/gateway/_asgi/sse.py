"""Server-sent events: framing them, and streaming them to the client honestly.

Two rules hold for every stream the gateway sends:
- Bytes go out as soon as they form a complete event. A partial event is held until its blank
  line arrives: no SSE client can act on half an event, so this adds no visible latency, and it
  lets the gateway end a broken stream with a well-formed error event instead of a torn one.
- A stream ends either with the upstream's own `data: [DONE]` or with an explicit error event.
  An upstream that breaks, stalls or stops before `[DONE]` is reported, never passed off as a
  complete answer.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from .._errors import GatewayError, UpstreamError
from .context import RequestContext, context_of
from .http import Receive, Scope, Send, encode_json

__all__ = ["DONE", "MAX_EVENT_BYTES", "SSE_HEADERS", "EventFramer", "encode_event", "stream_events"]

DONE = b"data: [DONE]\n\n"
_DONE_LINE = re.compile(rb"(?:^|[\r\n])data: ?\[DONE\][\r\n]")
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    # Tells nginx-style proxies in front of a local server not to buffer the stream.
    "x-accel-buffering": "no",
}


def encode_event(data: Any, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n".encode() if event else b""
    return prefix + b"data: " + encode_json(data) + b"\n\n"


# The largest event the gateway relays. gpt-oss's events are a token or a tool call's arguments;
# a whole answer is at most 128,000 tokens (well under 1 MB of text, about 3 MB JSON-escaped), so
# 4 MiB is never a real event. A bigger one ends the stream with an error event: holding it would
# let a broken upstream grow the gateway's memory without bound.
MAX_EVENT_BYTES = 4 * 1024 * 1024


class EventFramer:
    """Splits a byte stream at event boundaries, and notices the `[DONE]` sentinel.

    Linear in the bytes fed: each byte is searched for a boundary once (a boundary split across
    two pieces is found by looking back three bytes), and the partial event grows in place.
    """

    def __init__(self, max_event_bytes: int = MAX_EVENT_BYTES) -> None:
        self._pending = bytearray()
        self._scanned = 0  # how much of `_pending` is known to hold no boundary
        self.max_event_bytes = max_event_bytes
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        """Return the complete events now available (possibly several, possibly none)."""
        self._pending += chunk
        cut = -1
        for end in _EVENT_END.finditer(self._pending, max(0, self._scanned - 3)):
            cut = end.end()
        if cut < 0:
            self._scanned = len(self._pending)
            self._check_size(len(self._pending))
            return b""
        complete = bytes(self._pending[:cut])
        del self._pending[:cut]
        self._scanned = len(self._pending)
        if len(complete) > self.max_event_bytes:
            self._check_size(max(len(event) for event in _EVENT_END.split(complete)))
        self._check_size(len(self._pending))
        if not self.done and _DONE_LINE.search(complete):
            self.done = True
        return complete

    def _check_size(self, size: int) -> None:
        if size > self.max_event_bytes:
            raise UpstreamError(
                f"The model upstream sent an event over {self.max_event_bytes} bytes, the most the gateway relays."
            )

    @property
    def pending(self) -> bytes:
        return bytes(self._pending)


class _ClientGone(Exception):
    """The client stopped reading: sending to it failed."""


async def stream_events(
    scope: Scope,
    receive: Receive,
    send: Send,
    events: AsyncIterator[bytes],
    error_event: Callable[[GatewayError], bytes],
    headers: dict[str, str] | None = None,
) -> None:
    """Send `events` as a `text/event-stream`, ending a failure with `error_event`.

    A client that goes away (a disconnect message, or a send that fails, which is how the
    Workers ASGI adapter shows a cancelled body) stops the pump and closes `events`, which
    cancels the upstream read.
    """
    context = context_of(scope)
    context.streamed = True
    all_headers = {**SSE_HEADERS, **(headers or {})}
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(k.encode(), v.encode()) for k, v in all_headers.items()],
        }
    )
    pump = asyncio.ensure_future(_pump(events, send, context, error_event))
    watcher = asyncio.ensure_future(_wait_for_disconnect(receive))
    try:
        await asyncio.wait({pump, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if not pump.done():
            context.error = "client disconnected"
            context.aborted = True
            pump.cancel()
        await asyncio.gather(pump, return_exceptions=True)
    finally:
        watcher.cancel()
        await _close(events)


async def _pump(
    events: AsyncIterator[bytes], send: Send, context: RequestContext, error_event: Callable[[GatewayError], bytes]
) -> None:
    try:
        async for chunk in events:
            await _send_chunk(send, context, chunk)
    except _ClientGone:
        context.error = "client disconnected"
        context.aborted = True
        return
    except GatewayError as exc:
        await _end_with_error(send, context, exc, error_event)
        return
    except Exception as exc:  # a bug must still end the stream visibly, not as a clean close
        await _end_with_error(send, context, UpstreamError(f"The gateway failed mid-stream: {exc!r}"), error_event)
        return
    await _finish(send)


async def _send_chunk(send: Send, context: RequestContext, chunk: bytes) -> None:
    if context.first_byte_ms is None:
        context.first_byte_ms = context.elapsed_ms()
    try:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    except Exception as exc:
        raise _ClientGone() from exc


async def _end_with_error(
    send: Send, context: RequestContext, exc: GatewayError, error_event: Callable[[GatewayError], bytes]
) -> None:
    context.error = exc.message
    try:
        await _send_chunk(send, context, error_event(exc))
        await _finish(send)
    except _ClientGone:
        return


async def _finish(send: Send) -> None:
    try:
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    except Exception:
        return  # the client is gone; there is no one left to tell


async def _wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def _close(events: AsyncIterator[bytes]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()
