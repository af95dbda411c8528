"""Errors in each dialect's envelope: OpenAI's, Cloudflare's REST envelope on `/ai/run/`, and
Anthropic's on `/v1/messages`, which also has statuses of its own (529 for an overloaded model)."""

from __future__ import annotations

import math
from typing import Any

from ._asgi.sse import encode_event
from ._errors import GatewayError, Overloaded

__all__ = [
    "anthropic_error_body",
    "anthropic_error_event",
    "error_body",
    "error_headers",
    "error_status",
    "is_anthropic_path",
    "is_native_path",
    "native_error_event",
    "openai_error_body",
    "openai_error_event",
]

_NATIVE_PREFIX = "/ai/run/"
_ANTHROPIC_PATH = "/v1/messages"

# Anthropic's error types by status (its "HTTP errors" page); any other 4xx is an
# `invalid_request_error`, any other 5xx an `api_error`.
_ANTHROPIC_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def is_native_path(path: str) -> bool:
    return path.startswith(_NATIVE_PREFIX)


def is_anthropic_path(path: str) -> bool:
    return path == _ANTHROPIC_PATH or path.startswith(_ANTHROPIC_PATH + "/")


def openai_error_body(error: GatewayError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


def _native_error_body(error: GatewayError) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": error.cf_code, "message": error.message}
    if error.param:
        entry["source"] = {"pointer": "/" + error.param.replace(".", "/").replace("[", "/").replace("]", "")}
    return {"result": None, "success": False, "errors": [entry], "messages": []}


def _anthropic_status(error: GatewayError) -> int:
    if isinstance(error, Overloaded):
        return 529
    if error.type == "timeout_error":
        return 504  # an upstream timeout, whether Workers AI's (3007, 408) or the gateway's own
    return error.status


def _anthropic_type(status: int) -> str:
    return _ANTHROPIC_TYPES.get(status, "invalid_request_error" if status < 500 else "api_error")


def anthropic_error_body(error: GatewayError, request_id: str | None = None) -> dict[str, Any]:
    kind = _anthropic_type(_anthropic_status(error))
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": error.message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def error_status(error: GatewayError, path: str) -> int:
    return _anthropic_status(error) if is_anthropic_path(path) else error.status


def error_body(error: GatewayError, path: str, request_id: str | None = None) -> dict[str, Any]:
    if is_native_path(path):
        return _native_error_body(error)
    if is_anthropic_path(path):
        return anthropic_error_body(error, request_id)
    return openai_error_body(error)


def error_headers(error: GatewayError) -> dict[str, str]:
    headers = dict(error.headers)
    if error.retry_after is not None:
        # Whole seconds, rounded up: a client that waits exactly this long is admitted.
        headers["retry-after"] = str(max(1, math.ceil(error.retry_after)))
    return headers


def openai_error_event(error: GatewayError) -> bytes:
    """The event that ends a broken Chat or Completions stream; the openai SDK raises APIError on it."""
    return encode_event(openai_error_body(error), event="error")


def anthropic_error_event(error: GatewayError) -> bytes:
    """The event that ends a broken Messages stream; the anthropic SDK raises APIStatusError on it."""
    return encode_event(anthropic_error_body(error), event="error")


def native_error_event(error: GatewayError) -> bytes:
    """The event that ends a broken native stream. No `[DONE]` follows: the answer is not whole."""
    body = _native_error_body(error)
    body["error"] = openai_error_body(error)["error"]
    return encode_event(body, event="error")
