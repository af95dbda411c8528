"""Errors in each dialect's envelope: OpenAI's, or Cloudflare's REST envelope on `/ai/run/`."""

from __future__ import annotations

import math
from typing import Any

from ._asgi.sse import encode_event
from ._errors import GatewayError

__all__ = [
    "error_body",
    "error_headers",
    "is_native_path",
    "native_error_event",
    "openai_error_body",
    "openai_error_event",
]

_NATIVE_PREFIX = "/ai/run/"


def is_native_path(path: str) -> bool:
    return path.startswith(_NATIVE_PREFIX)


def openai_error_body(error: GatewayError) -> dict[str, Any]:
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


def _native_error_body(error: GatewayError) -> dict[str, Any]:
    entry: dict[str, Any] = {"code": error.cf_code, "message": error.message}
    if error.param:
        entry["source"] = {"pointer": "/" + error.param.replace(".", "/").replace("[", "/").replace("]", "")}
    return {"result": None, "success": False, "errors": [entry], "messages": []}


def error_body(error: GatewayError, path: str) -> dict[str, Any]:
    return _native_error_body(error) if is_native_path(path) else openai_error_body(error)


def error_headers(error: GatewayError) -> dict[str, str]:
    headers = dict(error.headers)
    if error.retry_after is not None:
        # Whole seconds, rounded up: a client that waits exactly this long is admitted.
        headers["retry-after"] = str(max(1, math.ceil(error.retry_after)))
    return headers


def openai_error_event(error: GatewayError) -> bytes:
    """The event that ends a broken Chat or Completions stream; the openai SDK raises APIError on it."""
    return encode_event(openai_error_body(error), event="error")


def native_error_event(error: GatewayError) -> bytes:
    """The event that ends a broken native stream. No `[DONE]` follows: the answer is not whole."""
    body = _native_error_body(error)
    body["error"] = openai_error_body(error)["error"]
    return encode_event(body, event="error")
