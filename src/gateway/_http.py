"""Plain ASGI primitives: types, the per-request context, JSON responses and body reading."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ._errors import GatewayError, InvalidRequest, UnsupportedMediaType

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CONTEXT_KEY = "gateway.context"


class RequestContext:
    """What one request's layers tell each other and the log line. Lives in the ASGI scope.

    A plain slotted class, not a dataclass: one is made per request, and in Pyodide a dataclass
    costs about a millisecond to define at import.
    """

    __slots__ = (
        "aborted",
        "backend",
        "error",
        "extra",
        "finishers",
        "first_byte_ms",
        "input_tokens",
        "key_name",
        "model",
        "output_tokens",
        "request_id",
        "response_headers",
        "route",
        "started",
        "status",
        "streamed",
        "upstream_ms",
    )

    def __init__(self, request_id: str, backend: str | None = None) -> None:
        self.request_id = request_id
        self.backend = backend
        self.started = time.perf_counter()
        self.key_name: str | None = None
        self.route: str | None = None
        self.model: str | None = None
        self.streamed = False
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.upstream_ms: float | None = None
        self.first_byte_ms: float | None = None
        self.status: int | None = None
        self.error: str | None = None
        self.extra: dict[str, Any] = {}
        # Headers every answer to this request carries, error answers included (CORS, rate limits).
        self.response_headers: dict[str, str] = {}
        # The client went away before the answer was whole (what was generated is unknown).
        self.aborted = False
        # Run when the request is over, streams included, before its log line: reconciliation
        # work (token budgets, usage records) that needs the final counts.
        self.finishers: list[Callable[[RequestContext], Awaitable[None]]] = []

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000

    def record_usage(self, usage: Any) -> None:
        """Take usage in either of the shapes Workers AI uses (input/output or prompt/completion)."""
        if not isinstance(usage, dict):
            return
        self.input_tokens = _first_int(usage, "input_tokens", "prompt_tokens", default=self.input_tokens)
        self.output_tokens = _first_int(usage, "output_tokens", "completion_tokens", default=self.output_tokens)


def _first_int(usage: dict[str, Any], *names: str, default: int | None) -> int | None:
    for name in names:
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return default


def context_of(scope: Scope) -> RequestContext:
    context = scope.get(CONTEXT_KEY)
    if context is None:
        # Only reachable when a layer runs without the context middleware (some unit tests).
        context = RequestContext(request_id="untracked")
        scope[CONTEXT_KEY] = context
    return context  # type: ignore[no-any-return]


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


# Built once: json.dumps with options builds a new encoder on every call.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def encode_json(body: Any) -> bytes:
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
            raise GatewayError("client disconnected before sending the whole body")
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
