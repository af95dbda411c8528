"""Plain ASGI primitives: types, headers, JSON responses, and reading a request body."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import Any, Protocol, runtime_checkable

from .._errors import ClientDisconnected, InvalidRequest, UnsupportedMediaType

__all__ = [
    "CLIENT_GONE_KEY",
    "ASGIApp",
    "ByteStream",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "encode_json",
    "header",
    "read_body",
    "read_json_object",
    "send_json",
]

# Where a server that reports a client leaving early puts an `asyncio.Event` set when it leaves
# (the local server does; the Workers adapter reports it only once the answer is over).
CLIENT_GONE_KEY = "gateway.client_gone"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@runtime_checkable
class ByteStream(Protocol):
    """A body read chunk by chunk (an upstream's answer); `aclose()` stops reading it (cancels it)."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


# The one encoder for JSON bodies and SSE payloads. Built once: json.dumps with options builds a
# new encoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_json(body: Any) -> bytes:
    """Compact UTF-8 JSON, as every JSON body and event payload the gateway sends is written."""
    return _encode(body).encode()


async def send_json(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    payload = encode_json(body)
    raw_headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": payload})


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected("The client disconnected before sending the whole body.")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _check_content_type(scope: Scope) -> None:
    content_type = header(scope, b"content-type")
    if content_type is None:
        return  # curl without -H and some scripts send none; the body is still parsed strictly
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"Content-Type must be application/json, got {content_type!r}. "
            "Send the body as JSON with the header 'Content-Type: application/json'."
        )


async def read_json_object(scope: Scope, receive: Receive) -> dict[str, Any]:
    """The request body as a JSON object, or a 4xx that says exactly what is wrong with it."""
    _check_content_type(scope)
    body = await read_body(receive)
    if not body.strip():
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid UTF-8 (bad byte at offset {exc.start}).") from None
    try:
        parsed = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None
        raise InvalidRequest(
            f"The request body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    if not isinstance(parsed, dict):
        raise InvalidRequest(f"The request body must be a JSON object, got a JSON {_json_type(parsed)}.")
    return parsed


def _refuse_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON does not, and NaN slips through range checks.
    raise ValueError(f"{name} is not a JSON value")


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
