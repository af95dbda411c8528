"""Recovering a tool call that gpt-oss leaked into `content` as JSON (cloudflare/ai issues 560, 574).

The model sometimes answers a forced or obvious tool call as raw JSON text with `tool_calls: []`
and `finish_reason: "stop"`. When tools were offered and the whole text parses as a call (or a list
of calls) to offered tools, it becomes `tool_calls`; anything else stays text.
"""

from __future__ import annotations

import json
from typing import Any

from .._digest import sha256

__all__ = ["HeldCall", "call_id", "looks_like_json", "recover_tool_calls"]


def call_id(seed: str, index: int) -> str:
    return "call_" + sha256(f"{seed}:{index}".encode()).hexdigest()[:24]


def looks_like_json(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def _strip_fence(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```"):
        body = stripped[3:-3]
        return body.split("\n", 1)[1] if "\n" in body else body
    return stripped


def _as_call(value: Any, names: set[str]) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return None
    nested = value.get("function")
    function: dict[str, Any] = nested if isinstance(nested, dict) else value
    name = function.get("name")
    arguments = function.get("arguments", function.get("parameters", {}))
    if name not in names:
        return None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if not isinstance(arguments, dict):
        return None
    return name, json.dumps(arguments)


def recover_tool_calls(content: str, tool_names: set[str], seed: str) -> list[dict[str, Any]] | None:
    """`tool_calls` in OpenAI's shape when `content` is only a call to offered tools, else None."""
    if not tool_names or not looks_like_json(_strip_fence(content)):
        return None
    try:
        parsed = json.loads(_strip_fence(content))
    except ValueError:
        return None
    candidates = parsed if isinstance(parsed, list) else [parsed]
    calls = [_as_call(item, tool_names) for item in candidates]
    if not calls or any(call is None for call in calls):
        return None
    return [
        {"id": call_id(seed, i), "type": "function", "function": {"name": name, "arguments": arguments}}
        for i, (name, arguments) in enumerate(call for call in calls if call is not None)
    ]


class HeldCall:
    """Streamed content held back while it may be a tool call leaked as JSON.

    Only content that opens the answer and looks like JSON is held, and only when tools were
    offered; at the end it becomes tool calls, or is released as the text it was.
    """

    def __init__(self, tool_names: set[str], seed: str, *, enabled: bool) -> None:
        self.tool_names = tool_names
        self.seed = seed
        self.enabled = enabled
        self.text: str | None = None

    def hold(self, text: str, *, at_start: bool) -> bool:
        if self.text is None and self.enabled and at_start and looks_like_json(text):
            self.text = ""
        if self.text is None:
            return False
        self.text += text
        return True

    def release(self, *, may_be_calls: bool) -> tuple[list[dict[str, Any]], str]:
        """(tool calls, "") when the held text was a call, else ([], the text)."""
        held, self.text = self.text or "", None
        calls = recover_tool_calls(held, self.tool_names, self.seed) if may_be_calls and held else None
        return (calls, "") if calls else ([], held)
