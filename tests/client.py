"""A hand-written ASGI client for tests: it records every message with the time it was sent.

httpx's ASGITransport collects the whole body before returning, so it cannot show that a stream
is incremental; this client can, and it can disconnect mid-stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from gateway._asgi.http import ASGIApp, Message


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    chunks: list[tuple[float, bytes]] = field(default_factory=list)  # (seconds since request, bytes)
    started_at: float = 0.0
    complete: bool = False

    @property
    def body(self) -> bytes:
        return b"".join(chunk for _, chunk in self.chunks)

    def json(self) -> Any:
        return json.loads(self.body)

    def events(self) -> list[str]:
        """The `data:` payloads of an event stream, in order."""
        return [line[6:] for line in self.body.decode().splitlines() if line.startswith("data: ")]

    def event_names(self) -> list[str]:
        return [line[7:] for line in self.body.decode().splitlines() if line.startswith("event: ")]


class ClientGone(Exception):
    pass


async def request(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    body: Any = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
    query: str = "",
    disconnect_after: float | None = None,
    send_fails_after: float | None = None,
    timeout: float = 10.0,
) -> Reply:
    """Drive one request through `app`.

    disconnect_after: the client sends `http.disconnect` this many seconds after the first body
    chunk (how uvicorn reports a client that went away). send_fails_after: instead, `send` starts
    raising (how the Workers ASGI adapter reports a cancelled body).
    """
    payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    started = time.perf_counter()
    reply = Reply(status=0, headers={}, started_at=started)
    gone = asyncio.Event()
    first_chunk = asyncio.Event()
    pending = [{"type": "http.request", "body": payload, "more_body": False}]

    async def receive() -> Message:
        if pending:
            return pending.pop()
        await gone.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        now = time.perf_counter() - started
        if send_fails_after is not None and first_chunk.is_set() and now >= send_fails_after:
            raise ClientGone("the client cancelled the body")
        if message["type"] == "http.response.start":
            reply.status = message["status"]
            reply.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
        elif message["type"] == "http.response.body":
            if message.get("body"):
                reply.chunks.append((now, message["body"]))
                first_chunk.set()
            if not message.get("more_body", False):
                reply.complete = True
                gone.set()

    async def disconnect_later() -> None:
        assert disconnect_after is not None
        await first_chunk.wait()
        await asyncio.sleep(disconnect_after)
        gone.set()

    all_headers = {"content-type": "application/json", **(headers or {})}
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "scheme": "http",
        "headers": [(k.lower().encode(), v.encode()) for k, v in all_headers.items() if v is not None],
    }
    watcher = asyncio.ensure_future(disconnect_later()) if disconnect_after is not None else None
    try:
        await asyncio.wait_for(app(scope, receive, send), timeout)
    finally:
        if watcher is not None:
            watcher.cancel()
    return reply


def run(coro: Any) -> Any:
    return asyncio.run(coro)
