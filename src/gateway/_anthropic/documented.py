"""What the Messages routes answer, as JSON Schema, for the API reference.

Imported only when the OpenAPI document is built (the route table names these functions), so the
Worker's import pays nothing for them. The request side is the routes' own `POLICY` tables. Tests
check real answers, streamed events and errors against these schemas.
"""

from __future__ import annotations

from typing import Any

from .._asgi.openapi import Documented, array, const, integer, nullable, obj, string

__all__ = ["anthropic_error", "count_tokens", "messages"]

_COUNT = integer(minimum=0)
_HELLO = [{"role": "user", "content": "Say hello in five words."}]
_ERROR_TYPES = [
    "invalid_request_error",
    "authentication_error",
    "permission_error",
    "not_found_error",
    "request_too_large",
    "rate_limit_error",
    "api_error",
    "timeout_error",
    "overloaded_error",
]
_EVENTS = [
    "message_start",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "ping",
    "error",
]


def _error_detail() -> dict[str, Any]:
    return obj(
        {"type": string(enum=_ERROR_TYPES), "message": string(description="What was wrong and what is allowed.")}
    )


def anthropic_error() -> dict[str, Any]:
    """Anthropic's error envelope, which the anthropic SDKs turn into their error classes."""
    return obj({"type": const("error"), "error": _error_detail()}, {"request_id": string()})


def _usage() -> dict[str, Any]:
    cache = {"cache_creation_input_tokens": _COUNT, "cache_read_input_tokens": _COUNT}
    return obj({"input_tokens": _COUNT, "output_tokens": _COUNT}, cache)


def _block() -> dict[str, Any]:
    return {
        "anyOf": [
            obj({"type": const("text"), "text": string()}),
            obj(
                {
                    "type": const("thinking"),
                    "thinking": string(description="gpt-oss's reasoning; empty with `display: omitted`."),
                    "signature": string(),
                }
            ),
            obj({"type": const("tool_use"), "id": string(), "name": string(), "input": {"type": "object"}}),
        ]
    }


def _message() -> dict[str, Any]:
    reasons = string(enum=["end_turn", "max_tokens", "stop_sequence", "tool_use"])
    return obj(
        {
            "id": string(),
            "type": const("message"),
            "role": const("assistant"),
            "model": string(description="The name sent, or the served model's id when the name was mapped."),
            "content": array(_block()),
            "stop_reason": nullable(reasons),
            "stop_sequence": nullable(string()),
            "usage": _usage(),
        }
    )


def _delta() -> dict[str, Any]:
    return {
        "anyOf": [
            obj({"type": const("text_delta"), "text": string()}),
            obj({"type": const("thinking_delta"), "thinking": string()}),
            obj({"type": const("signature_delta"), "signature": string()}),
            obj({"type": const("input_json_delta"), "partial_json": string()}),
            obj({"stop_reason": nullable(string()), "stop_sequence": nullable(string())}),
        ]
    }


def messages() -> Documented:
    event = obj(
        {"type": string(enum=_EVENTS)},
        {
            "message": _message(),
            "index": _COUNT,
            "content_block": _block(),
            "delta": _delta(),
            "usage": _usage(),
            "error": _error_detail(),
        },
    )
    return {
        "response": _message(),
        "event": event,
        "example": {"model": "gpt-oss-120b", "max_tokens": 1024, "messages": _HELLO},
    }


def count_tokens() -> Documented:
    count = integer(minimum=0, description="An estimate: the UTF-8 size of the messages and tools as sent, / 4.")
    return {"response": obj({"input_tokens": count}), "example": {"model": "gpt-oss-120b", "messages": _HELLO}}
