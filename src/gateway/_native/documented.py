"""What `POST /ai/run/{model}` answers, as JSON Schema, for the API reference.

Imported only when the OpenAPI document is built. The request side is the input forms themselves
(`forms.FORM_SPECS`); answers are Cloudflare's REST envelope around what Workers AI returned.
"""

from __future__ import annotations

from typing import Any

from .._asgi.openapi import Documented, array, const, integer, obj, string

__all__ = ["native_error", "run"]


def native_error() -> dict[str, Any]:
    """Cloudflare's REST envelope for errors: numeric codes as Workers AI's, a JSON pointer to the field."""
    entry = obj(
        {"code": integer(examples=[5006, 10000, 3040]), "message": string()},
        {"source": obj({"pointer": string(examples=["/messages/0/content"])})},
    )
    return obj({"result": {"type": "null"}, "success": const(False), "errors": array(entry), "messages": array({})})


def run() -> Documented:
    result = {
        "type": "object",
        "description": "Workers AI's answer, unchanged: `{response, usage, tool_calls}` for the prompt form, a "
        "`chat.completion` for the messages form, a Responses object for the Responses form, "
        "`{status, request_id}` for a queued batch.",
    }
    return {
        "response": obj(
            {"result": result, "success": const(True), "errors": array({}, maxItems=0), "messages": array({})}
        ),
        "event": {"type": "object", "description": "An event exactly as Workers AI streams it."},
        "example": {"messages": [{"role": "user", "content": "Say hello in five words."}], "max_tokens": 1024},
    }
