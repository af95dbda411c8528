"""Anthropic's `system`, `messages` and `tools` as Workers AI's messages form.

- `system` (a string or text blocks) is the first system message. A `role: "system"` message in
  `messages` (Claude Code sends one mid-conversation) stays a system message, where it is.
- A user turn's `tool_result` blocks become `tool` messages, first, since they answer the turn
  before; its other blocks become one user message. `is_error` results are sent as `Error: ...`.
- An assistant turn's `text` is its content and its `tool_use` blocks its `tool_calls`. Earlier
  `thinking` and `redacted_thinking` blocks are not sent back, as the OpenAI routes do not send
  earlier reasoning back: what gpt-oss's own guidance advises for finished turns.
- Every message has `content` as a string, never null, as the model page's schema requires.
- gpt-oss reads text only. An image, or a document that is not text, becomes a note saying it
  was left out, and is named in `x-gateway-ignored`: refused instead, a screenshot Claude Code's
  Read tool returned would make every later turn of the session fail.
- Tools with `defer_loading` are offered only once a `tool_reference` (Claude Code's tool search)
  has loaded them; server tools (`web_search`, `bash`, `text_editor`, ...) are not run here, so
  they are not offered, and are named in `x-gateway-ignored`.
"""

from __future__ import annotations

import json
from typing import Any

from .._errors import InvalidRequest
from .._upstream.tools import upstream_tool

__all__ = ["Conversation", "referenced_tools", "workers_messages", "workers_tools"]

# What the model is told in place of content it cannot read.
_LEFT_OUT = "[{what} left out: gpt-oss reads text only]"
# Fields of a custom tool the gateway knows; `cache_control` is a hint, the others are honoured.
_TOOL_FIELDS = {"name", "description", "input_schema", "type", "defer_loading", "cache_control"}


class Conversation:
    """The translation's output besides the messages: what was left out, for `x-gateway-ignored`."""

    __slots__ = ("ignored",)

    def __init__(self) -> None:
        self.ignored: list[str] = []

    def note(self, name: str) -> None:
        if name not in self.ignored:
            self.ignored.append(name)


def _fail(where: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{where}: {message}", param=where)


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """Content as a list of blocks: a string is one text block."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise _fail(where, "must be a string or an array of content blocks.")
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise _fail(f"{where}[{index}]", "must be a content block, an object with a `type`.")
    return content


def _string(block: dict[str, Any], name: str, where: str) -> str:
    value = block.get(name)
    if not isinstance(value, str):
        raise _fail(f"{where}.{name}", "is required, a string.")
    return value


def _document(block: dict[str, Any], where: str, out: Conversation) -> str:
    source: dict[str, Any] = block["source"] if isinstance(block.get("source"), dict) else {}
    if source.get("type") == "text" and isinstance(source.get("data"), str):
        return str(source["data"])
    if source.get("type") == "content":
        return _text_of(source.get("content"), f"{where}.source.content", out)
    out.note(where)
    return _LEFT_OUT.format(what="A document")


def _search_result(block: dict[str, Any], where: str, out: Conversation) -> str:
    title, source = block.get("title"), block.get("source")
    head = "\n".join(str(part) for part in (title, source) if isinstance(part, str))
    body = _text_of(block.get("content", []), f"{where}.content", out)
    return f"{head}\n{body}" if head else body


def _part(block: dict[str, Any], where: str, out: Conversation) -> str:
    """The text of a block that can sit in a user turn or a tool result."""
    if block.get("cache_control") is not None:
        out.note("cache_control")
    kind = block["type"]
    if kind == "text":
        return _string(block, "text", where)
    if kind == "image":
        out.note(where)
        return _LEFT_OUT.format(what="An image")
    if kind == "document":
        return _document(block, where, out)
    if kind == "search_result":
        return _search_result(block, where, out)
    if kind == "tool_reference":
        return f"Tool {_string(block, 'tool_name', where)} is now available."
    raise _fail(
        f"{where}.type",
        f"{kind!r} is not a content block this gateway reads here. Accepted: text, image, document, "
        "search_result, tool_result (in user turns), tool_reference (in tool results).",
    )


def _text_of(content: Any, where: str, out: Conversation) -> str:
    return "\n".join(_part(block, f"{where}[{i}]", out) for i, block in enumerate(_blocks(content, where)))


def _tool_message(block: dict[str, Any], where: str, out: Conversation) -> dict[str, Any]:
    text = _text_of(block.get("content", ""), f"{where}.content", out)
    if block.get("is_error") is True:
        text = f"Error: {text}" if text else "Error"
    return {"role": "tool", "tool_call_id": _string(block, "tool_use_id", where), "content": text}


def _user(content: Any, where: str, out: Conversation) -> list[dict[str, Any]]:
    results, texts = [], []
    for index, block in enumerate(_blocks(content, where)):
        if block["type"] == "tool_result":
            results.append(_tool_message(block, f"{where}[{index}]", out))
        else:
            texts.append(_part(block, f"{where}[{index}]", out))
    if texts or not results:
        return [*results, {"role": "user", "content": "\n".join(texts)}]
    return results


def _tool_call(block: dict[str, Any], where: str) -> dict[str, Any]:
    arguments = block.get("input", {})
    if not isinstance(arguments, dict):
        raise _fail(f"{where}.input", "must be an object (the tool's arguments).")
    function = {"name": _string(block, "name", where), "arguments": json.dumps(arguments)}
    return {"id": _string(block, "id", where), "type": "function", "function": function}


def _assistant(content: Any, where: str, out: Conversation) -> dict[str, Any]:
    texts, calls = [], []
    for index, block in enumerate(_blocks(content, where)):
        at, kind = f"{where}[{index}]", block["type"]
        if kind == "text":
            texts.append(_string(block, "text", at))
        elif kind == "tool_use":
            calls.append(_tool_call(block, at))
        elif kind not in ("thinking", "redacted_thinking"):
            raise _fail(
                f"{at}.type",
                f"{kind!r} is not a block of an assistant turn here. Accepted: text, tool_use, thinking, "
                "redacted_thinking.",
            )
        if block.get("cache_control") is not None:
            out.note("cache_control")
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    if calls:
        message["tool_calls"] = calls
    return message


def _system(content: Any, where: str, out: Conversation) -> dict[str, Any]:
    return {"role": "system", "content": _text_of(content, where, out)}


def workers_messages(system: Any, messages: list[Any], out: Conversation) -> list[dict[str, Any]]:
    result = [_system(system, "system", out)] if system else []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant", "system"):
            raise _fail(f"{where}.role", f'must be "user" or "assistant" (or "system"), got {role!r}.')
        if "content" not in message:
            raise _fail(f"{where}.content", "is required.")
        content = message["content"]
        if role == "user":
            result += _user(content, f"{where}.content", out)
        elif role == "assistant":
            result.append(_assistant(content, f"{where}.content", out))
        else:
            result.append(_system(content, f"{where}.content", out))
    return result


def referenced_tools(messages: list[Any]) -> set[str]:
    """Names of the tools a `tool_reference` in a tool result has loaded (Claude Code's tool search)."""
    names = set()
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            inner = block.get("content") if isinstance(block, dict) and block.get("type") == "tool_result" else None
            for part in inner if isinstance(inner, list) else []:
                if isinstance(part, dict) and part.get("type") == "tool_reference":
                    names.add(str(part.get("tool_name")))
    return names


def _custom_tool(tool: dict[str, Any], where: str, out: Conversation) -> dict[str, Any]:
    name = _string(tool, "name", where)
    schema = tool.get("input_schema")
    if not isinstance(schema, dict):
        raise _fail(f"{where}.input_schema", "is required: the JSON schema of the tool's input.")
    for field in tool:
        if field not in _TOOL_FIELDS:
            out.note(f"tools.{field}")
    if tool.get("cache_control") is not None:
        out.note("cache_control")
    description = tool.get("description") if isinstance(tool.get("description"), str) else ""
    return upstream_tool({"name": name, "description": description, "parameters": schema})


def workers_tools(tools: list[Any], loaded: set[str], out: Conversation) -> tuple[list[dict[str, Any]], set[str]]:
    """(the function tools the model is offered, the names of the server tools that are not run)."""
    offered: list[dict[str, Any]] = []
    server: set[str] = set()
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise _fail(where, "must be a tool, an object with `name` and `input_schema`.")
        if tool.get("type") not in (None, "custom"):
            name = str(tool["name"] if isinstance(tool.get("name"), str) else tool["type"])
            server.add(name)
            out.note(f"tools[{name}]")
            continue
        spec = _custom_tool(tool, where, out)
        if tool.get("defer_loading") is not True or spec["function"]["name"] in loaded:
            offered.append(spec)
    return offered, server
