"""Responses `input` (a string, or items) and `instructions`, as Workers AI's messages form.

Consecutive `function_call` items become one assistant turn with `tool_calls` (a namespaced call
under its flat name, as the tools were offered), and each `function_call_output` a `tool`
message. A `reasoning` item's text (its `encrypted_content` opened, else its `reasoning_text`
content, else its summary) goes back as the `reasoning` of the assistant turn that follows it,
and is kept only while gpt-oss's format keeps it (see `messages.keep_current_reasoning`).

Items of built-in tools that never run here (`web_search_call` and the like) are left out and
named in `x-gateway-ignored`; `item_reference`s are resolved before this, from the key's store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .._errors import InvalidRequest
from .encrypted_reasoning import no_secret
from .messages import keep_current_reasoning, text_of_parts
from .response_tools import flat_name

__all__ = ["BUILT_IN_ITEMS", "ReasoningOpener", "input_messages"]

_ROLES = {"user": "user", "system": "system", "developer": "system", "assistant": "assistant"}

# Items a built-in tool produces; none of them can have run here, so they are left out.
BUILT_IN_ITEMS = frozenset(
    {
        "web_search_call",
        "file_search_call",
        "computer_call",
        "computer_call_output",
        "code_interpreter_call",
        "image_generation_call",
        "local_shell_call",
        "local_shell_call_output",
        "shell_call",
        "shell_call_output",
        "apply_patch_call",
        "apply_patch_call_output",
        "mcp_list_tools",
        "mcp_call",
        "mcp_approval_request",
        "mcp_approval_response",
        "custom_tool_call",
        "custom_tool_call_output",
        "tool_search_call",
        "tool_search_output",
    }
)

# Opens a reasoning item's `encrypted_content` (the token, and where it is, for the error).
ReasoningOpener = Callable[[str, str], str]


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
    namespace = item.get("namespace")
    name = flat_name(namespace if isinstance(namespace, str) else None, _require(item, "name", where))
    return {
        "id": _require(item, "call_id", where),
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _output(item: dict[str, Any], where: str) -> dict[str, Any]:
    output = item.get("output")
    text = output if isinstance(output, str) else _text(output, f"{where}.output")
    return {"role": "tool", "tool_call_id": _require(item, "call_id", where), "content": text}


def _part_texts(parts: Any, kind: str) -> list[str]:
    if not isinstance(parts, list):
        return []
    return [
        p["text"] for p in parts if isinstance(p, dict) and p.get("type") == kind and isinstance(p.get("text"), str)
    ]


class _Conversation:
    """The messages so far, and reasoning waiting for the assistant turn it belongs to."""

    def __init__(self, opener: ReasoningOpener) -> None:
        self.messages: list[dict[str, Any]] = []
        self.pending: list[str] = []
        self.opener = opener

    def reasoning(self, item: dict[str, Any], where: str) -> None:
        token = item.get("encrypted_content")
        if isinstance(token, str) and token:
            text = self.opener(token, f"{where}.encrypted_content")
        else:
            text = "\n".join(
                _part_texts(item.get("content"), "reasoning_text") or _part_texts(item.get("summary"), "summary_text")
            )
        if text:
            self.pending.append(text)

    def say(self, message: dict[str, Any]) -> None:
        if message["role"] == "assistant":
            self._attach(message)
        elif message["role"] in ("user", "system"):
            self.pending.clear()  # reasoning with no assistant turn after it belongs to no turn
        self.messages.append(message)

    def call(self, call: dict[str, Any]) -> None:
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "assistant" and last.get("tool_calls") and not last.get("content"):
            last["tool_calls"].append(call)
            self._attach(last)
        else:
            # An empty string, not null: the model's input schema requires content on every turn.
            self.say({"role": "assistant", "content": "", "tool_calls": [call]})

    def _attach(self, message: dict[str, Any]) -> None:
        if self.pending:
            message["reasoning"] = "\n".join(filter(None, [message.get("reasoning"), *self.pending]))
            self.pending.clear()


def _read(conversation: _Conversation, item: Any, where: str, ignored: list[str] | None) -> None:
    if not isinstance(item, dict):
        raise InvalidRequest(f"`{where}` must be an input item (an object).", param=where)
    kind = item.get("type", "message")
    if kind == "message":
        conversation.say(_message(item, where))
    elif kind == "function_call":
        conversation.call(_function_call(item, where))
    elif kind == "function_call_output":
        conversation.say(_output(item, where))
    elif kind == "reasoning":
        conversation.reasoning(item, where)
    elif kind in BUILT_IN_ITEMS:
        if ignored is not None:
            ignored.append(f"input.{kind}")
    else:
        raise InvalidRequest(
            f"`{where}.type` is {kind!r}; accepted input items are message, function_call, "
            "function_call_output, reasoning and item_reference.",
            param=f"{where}.type",
        )


def input_messages(
    value: str | list[Any],
    instructions: str | None,
    *,
    context: list[dict[str, Any]] | None = None,
    open_reasoning: ReasoningOpener = no_secret,
    ignored: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The messages form of `context` (a stored conversation's items) then `input`; items left out
    are added to `ignored` by name."""
    conversation = _Conversation(open_reasoning)
    if instructions:
        conversation.say({"role": "system", "content": instructions})
    for item in context or []:
        _read(conversation, item, "previous_response_id", ignored)
    items = [{"role": "user", "content": value}] if isinstance(value, str) else value
    for index, item in enumerate(items):
        _read(conversation, item, f"input[{index}]", ignored)
    if not conversation.messages:
        raise InvalidRequest("`input` holds no message to answer.", param="input")
    return keep_current_reasoning(conversation.messages)
