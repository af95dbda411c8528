"""Server-sent events: relaying an upstream stream honestly, and streaming to the client.

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
import json
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

from ._errors import GatewayError, UpstreamError, UpstreamTimeout
from ._http import Receive, RequestContext, Scope, Send, context_of
from ._upstream import ByteStream

__all__ = ["DONE", "EventFramer", "encode_event", "json_as_events", "relay_events", "stream_events"]

DONE = b"data: [DONE]\n\n"
_DONE_LINE = re.compile(rb"(?:^|[\r\n])data: ?\[DONE\][\r\n]")
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")

SSE_HEADERS = {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
    # Tells nginx-style proxies in front of a local server not to buffer the stream.
    "x-accel-buffering": "no",
}


# Built once: json.dumps with options builds a new encoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_event(data: Any, event: str | None = None) -> bytes:
    payload = _encode(data)
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {payload}\n\n".encode()


class EventFramer:
    """Splits a byte stream at event boundaries, and notices the `[DONE]` sentinel."""

    def __init__(self) -> None:
        self._pending = b""
        self.done = False

    def feed(self, chunk: bytes) -> bytes:
        """Return the complete events now available (possibly several, possibly none)."""
        data = self._pending + chunk
        ends = list(_EVENT_END.finditer(data))
        if not ends:
            self._pending = data
            return b""
        cut = ends[-1].end()
        complete, self._pending = data[:cut], data[cut:]
        if not self.done and _DONE_LINE.search(complete):
            self.done = True
        return complete

    @property
    def pending(self) -> bytes:
        return self._pending


def _usage_in(events: bytes) -> Any:
    """The last `usage` object in these events, in any dialect's place for it."""
    found = None
    for line in events.splitlines():
        if not line.startswith(b"data:") or b'"usage"' not in line:
            continue
        try:
            data = json.loads(line[5:])
        except ValueError:
            continue
        if isinstance(data, dict):
            response = data.get("response")
            nested = response.get("usage") if isinstance(response, dict) else None
            found = data.get("usage") or nested or found
    return found


async def relay_events(upstream: ByteStream, context: RequestContext, idle_timeout_s: float) -> AsyncIterator[bytes]:
    """Yield the upstream's complete events as they arrive; raise if the stream is not whole."""
    framer = EventFramer()
    chunks = upstream.__aiter__()
    try:
        while True:
            try:
                chunk = await asyncio.wait_for(chunks.__anext__(), idle_timeout_s)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise UpstreamTimeout(f"The model upstream sent nothing for {idle_timeout_s:g} s mid-stream.") from None
            except GatewayError:
                raise
            except Exception as exc:
                raise UpstreamError(f"The model upstream stream failed: {exc}") from exc
            events = framer.feed(chunk)
            if events:
                if b'"usage"' in events:
                    context.record_usage(_usage_in(events))
                yield events
        if not framer.done:
            raise UpstreamError("The model upstream ended the stream before it was complete (no [DONE]).")
        if framer.pending.strip():
            yield framer.pending
    finally:
        await upstream.aclose()


async def json_as_events(result: dict[str, Any]) -> AsyncIterator[bytes]:
    """A whole JSON answer, as the event stream the client asked for (same shapes as streaming)."""
    for event in json_to_event_payloads(result):
        yield encode_event(event)
    yield DONE


def json_to_event_payloads(result: dict[str, Any]) -> list[dict[str, Any]]:
    if result.get("object") == "chat.completion":
        return [_completion_as_chunk(result)]
    if isinstance(result.get("response"), str):
        head = {"response": result["response"]}
        if result.get("tool_calls"):
            head["tool_calls"] = result["tool_calls"]
        return [head, {"response": "", "usage": result.get("usage")}]
    return [result]


def _completion_as_chunk(result: dict[str, Any]) -> dict[str, Any]:
    choices = []
    for choice in result.get("choices") or []:
        message = dict(choice.get("message") or {})
        if message.get("tool_calls"):
            message["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        delta = {key: value for key, value in message.items() if value not in (None, [])}
        choices.append({"index": choice.get("index", 0), "delta": delta, "finish_reason": choice.get("finish_reason")})
    chunk: dict[str, Any] = {key: result[key] for key in ("id", "created", "model") if key in result}
    return {**chunk, "object": "chat.completion.chunk", "choices": choices, "usage": result.get("usage")}


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
