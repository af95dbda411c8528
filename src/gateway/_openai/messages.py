"""OpenAI chat messages to Workers AI's messages form, refusing what gpt-oss cannot take.

`developer` becomes `system`: gpt-oss's chat template turns the system message into its
developer instructions, so the meaning is kept and every template understands it.

Reasoning goes back to the model as the assistant message's `reasoning` field, where gpt-oss's
format keeps it: an assistant turn's chain of thought stays in the prompt until the assistant
gives a final answer, and is dropped from then on (OpenAI's harmony guide; a tool loop degrades
without it). `reasoning` is the field vLLM reads for an assistant turn's reasoning and the one
Cloudflare's own workers-ai-provider sends; the model page's schema requires only `role` and
`content` of a message and forbids no other field, so the body stays valid. Clients send it as
`reasoning_content` (what the gateway answers with) or `reasoning`; both are read.
"""

from __future__ import annotations

import json
from typing import Any

from .._errors import InvalidRequest

__all__ = ["chat_messages", "keep_current_reasoning", "text_of_parts"]

_ROLES = ("system", "developer", "user", "assistant", "tool")
_FIELDS = {
    "system": {"role", "content", "name"},
    "developer": {"role", "content", "name"},
    "user": {"role", "content", "name"},
    "assistant": {"role", "content", "name", "tool_calls", "refusal", "reasoning_content", "reasoning", "audio"},
    "tool": {"role", "content", "tool_call_id"},
}
_TEXT_PARTS = {"text", "input_text", "output_text", "refusal"}


def text_of_parts(parts: list[Any], where: str) -> str:
    texts = []
    for index, part in enumerate(parts):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in _TEXT_PARTS:
            raise InvalidRequest(
                f"`{where}[{index}]` is a {kind!r} part; gpt-oss is text-only, so only text parts are accepted.",
                param=f"{where}[{index}]",
            )
        text = part.get("text", part.get("refusal"))
        if not isinstance(text, str):
            raise InvalidRequest(f"`{where}[{index}].text` must be a string.", param=f"{where}[{index}].text")
        texts.append(text)
    return "\n".join(texts)


def _content(message: dict[str, Any], where: str) -> str | None:
    content = message.get("content")
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        return text_of_parts(content, f"{where}.content")
    raise InvalidRequest(f"`{where}.content` must be a string or an array of text parts.", param=f"{where}.content")


def _tool_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise InvalidRequest(f"`{where}.tool_calls` must be an array.", param=f"{where}.tool_calls")
    out = []
    for index, call in enumerate(calls):
        path = f"{where}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(f"`{path}.function.name` is required.", param=f"{path}.function.name")
        arguments = function.get("arguments", "{}")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)
        out.append(
            {
                "id": call.get("id") or f"call_{index}",
                "type": "function",
                "function": {"name": function["name"], "arguments": arguments},
            }
        )
    return out


def _message(index: int, message: Any) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, dict):
        raise InvalidRequest(f"`{where}` must be an object with `role` and `content`.", param=where)
    role = message.get("role")
    if role not in _ROLES:
        raise InvalidRequest(f"`{where}.role` must be one of {', '.join(_ROLES)}, got {role!r}.", param=f"{where}.role")
    for name in message:
        if name not in _FIELDS[role]:
            raise InvalidRequest(f"`{where}.{name}` is not a field of a {role} message.", param=f"{where}.{name}")
    content = _content(message, where)
    out: dict[str, Any] = {"role": "system" if role == "developer" else role, "content": content}
    if role == "assistant" and message.get("tool_calls"):
        out["tool_calls"] = _tool_calls(message["tool_calls"], where)
    if role == "assistant":
        # OpenAI's clients send null content on a turn that only calls tools (or only reasoned);
        # the model's input schema, and Workers AI, refuse null.
        out["content"] = content or ""
        reasoning = _reasoning(message, where)
        if reasoning:
            out["reasoning"] = reasoning
    elif content is None:
        raise InvalidRequest(f"`{where}.content` is required for a {role} message.", param=f"{where}.content")
    if role == "tool":
        if not isinstance(message.get("tool_call_id"), str):
            raise InvalidRequest(
                f"`{where}.tool_call_id` is required for a tool message.", param=f"{where}.tool_call_id"
            )
        out["tool_call_id"] = message["tool_call_id"]
    if isinstance(message.get("name"), str):
        out["name"] = message["name"]
    return out


def _reasoning(message: dict[str, Any], where: str) -> str:
    for name in ("reasoning_content", "reasoning"):
        value = message.get(name)
        if value is not None and not isinstance(value, str):
            raise InvalidRequest(f"`{where}.{name}` must be a string.", param=f"{where}.{name}")
        if value:
            return value
    return ""


def keep_current_reasoning(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drop the `reasoning` of every assistant turn up to the last final answer (an assistant
    message with text and no tool calls): gpt-oss keeps a turn's reasoning only until it answers."""
    final = max(
        (
            i
            for i, m in enumerate(messages)
            if m["role"] == "assistant" and m.get("content") and not m.get("tool_calls")
        ),
        default=-1,
    )
    for message in messages[: final + 1]:
        message.pop("reasoning", None)
    return messages


def chat_messages(messages: list[Any]) -> list[dict[str, Any]]:
    return keep_current_reasoning([_message(index, message) for index, message in enumerate(messages)])
