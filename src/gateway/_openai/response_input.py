"""Responses `input` (a string, or items) and `instructions`, as Workers AI's messages form.

Consecutive `function_call` items become one assistant turn with `tool_calls`, and each
`function_call_output` a `tool` message. Earlier `reasoning` items are not sent back to the
model, as OpenAI advises for gpt-oss.
"""

from __future__ import annotations

import json
from typing import Any

from .._errors import InvalidRequest
from .messages import text_of_parts

__all__ = ["input_messages"]

_ROLES = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return text_of_parts(content, where)
    raise InvalidRequest(f"`{where}` must be a string or an array of text parts.", param=where)


def _require(item: dict[str, Any], name: str, where: str) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"`{where}.{name}` is required (a string).", param=f"{where}.{name}")
    return value


def _message(item: dict[str, Any], where: str) -> dict[str, Any]:
    role = item.get("role")
    if role not in _ROLES:
        raise InvalidRequest(
            f"`{where}.role` must be one of user, system, developer, assistant; got {role!r}.", param=f"{where}.role"
        )
    if "content" not in item:
        raise InvalidRequest(f"`{where}.content` is required.", param=f"{where}.content")
    return {"role": _ROLES[role], "content": _text(item["content"], f"{where}.content")}


def _function_call(item: dict[str, Any], where: str) -> dict[str, Any]:
    arguments = item.get("arguments", "{}")
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    return {
        "id": _require(item, "call_id", where),
        "type": "function",
        "function": {"name": _require(item, "name", where), "arguments": arguments},
    }


def _output(item: dict[str, Any], where: str) -> dict[str, Any]:
    output = item.get("output")
    text = output if isinstance(output, str) else _text(output, f"{where}.output")
    return {"role": "tool", "tool_call_id": _require(item, "call_id", where), "content": text}


def _append_call(messages: list[dict[str, Any]], call: dict[str, Any]) -> None:
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and last.get("tool_calls") and not last.get("content"):
        last["tool_calls"].append(call)
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def input_messages(value: str | list[Any], instructions: str | None) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": instructions}] if instructions else []
    if isinstance(value, str):
        return [*messages, {"role": "user", "content": value}]
    for index, item in enumerate(value):
        where = f"input[{index}]"
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            _append_call(messages, _function_call(item, where))
        elif kind == "function_call_output":
            messages.append(_output(item, where))
        elif kind != "reasoning":
            raise InvalidRequest(
                f"`{where}.type` is {kind!r}; accepted input items are message, function_call, "
                "function_call_output and reasoning.",
                param=f"{where}.type",
            )
    if not messages:
        raise InvalidRequest("`input` holds no message to answer.", param="input")
    return messages
