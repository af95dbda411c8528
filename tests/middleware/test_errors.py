"""The error layer: a client that left before sending its body is a closed request (499 in the log,
nothing sent), not a gateway failure."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway._asgi.http import Message
from tests.conftest import KEY, NATIVE, MakeGateway


def _leave_while_sending(app: Any, path: str) -> list[Message]:
    """Send half a body, then go away (uvicorn's `http.disconnect`); return what the app sent."""
    sent: list[Message] = []
    messages: list[Message] = [
        {"type": "http.request", "body": b'{"prompt": "hal', "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": path,
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"authorization", f"Bearer {KEY}".encode())],
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), 5))
    return sent


@pytest.mark.parametrize("path", [NATIVE, "/v1/chat/completions", "/v1/responses"])
def test_a_client_that_leaves_while_sending_is_logged_as_a_closed_request(make_gateway: MakeGateway, path: str) -> None:
    gw = make_gateway()
    sent = _leave_while_sending(gw.app, path)
    assert sent == []  # nobody to answer
    assert len(gw.logs) == 1, gw.logs  # one log line, and no traceback
    line = json.loads(gw.logs[0])
    assert line["status"] == 499
    assert "disconnected" in line["error"] and "internal" not in line["error"]
    assert gw.backend.calls == []
