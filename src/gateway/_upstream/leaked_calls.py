"""Recovering tool calls that gpt-oss leaked into `content`, as JSON or as its chat-format markup.

Two leaks are known:
- JSON (cloudflare/ai issues 560, 574): a forced or obvious call answered as raw JSON text with
  `tool_calls: []` and `finish_reason: "stop"`. When tools were offered and the whole text parses
  as a call (or a list of calls) to offered tools, it becomes `tool_calls`; anything else stays text.
- harmony markup, the most reported gpt-oss failure in Ollama, LM Studio and vLLM: the raw
  `<|channel|>commentary to=functions.NAME <|constrain|>json<|message|>{...}<|call|>`, and near
  variants (a `<|start|>assistant` head, the recipient before the channel, `json` without
  `<|constrain|>`, `<|end|>` or nothing for the end, several calls in one text). A call to an
  offered tool with JSON-object arguments becomes a tool call; the rest is text, and the
  format's control tokens (`<|...|>`) never reach the client's text either way.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .._digest import sha256

__all__ = ["HeldCall", "call_id", "looks_like_json", "recover_calls", "recover_tool_calls", "strip_markup"]

# One message of gpt-oss's chat format, however much of its head leaked: an optional
# `<|start|>ROLE`, an optional recipient, `<|channel|>NAME` with the recipient and a content type
# in any order, `<|message|>`, and the body up to its end token (or the next message, or the end).
_MESSAGE = re.compile(
    r"(?:<\|start\|>[^<]*?)?"
    r"(?:\bto=(?P<before>[^\s<]+)\s*)?"
    r"<\|channel\|>(?P<head>[^<]*)"
    r"(?:<\|constrain\|>\s*[^<]*)?"
    r"<\|message\|>(?P<body>.*?)"
    r"(?:<\|call\|>|<\|end\|>|<\|return\|>|(?=<\|start\|>|<\|channel\|>)|\Z)",
    re.DOTALL,
)
_RECIPIENT = re.compile(r"\bto=(\S+)")
_CONTROL_TOKEN = re.compile(r"<\|[a-z_]+\|>")
_MARKUP_START = "<|"


def strip_markup(text: str) -> str:
    """The text without the chat format's control tokens (`<|channel|>`, `<|message|>`, ...)."""
    return _CONTROL_TOKEN.sub("", text)


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


def _recipient(match: re.Match[str]) -> str | None:
    found = match.group("before") or next(iter(_RECIPIENT.findall(match.group("head"))), None)
    return found.removeprefix("functions.") if found else None


def _harmony(content: str, tool_names: set[str], seed: str) -> tuple[list[dict[str, Any]], str]:
    """The calls to offered tools in leaked markup, and the rest as text without control tokens."""
    found: list[tuple[str, str]] = []
    text: list[str] = []
    position = 0
    for match in _MESSAGE.finditer(content):
        text.append(content[position : match.start()])
        position = match.end()
        call = _as_call({"name": _recipient(match), "arguments": match.group("body").strip()}, tool_names)
        if call is None:
            text.append(match.group("body"))  # a message to no tool (a leaked final answer): its text
        else:
            found.append(call)
    text.append(content[position:])
    calls = [
        {"id": call_id(seed, i), "type": "function", "function": {"name": name, "arguments": arguments}}
        for i, (name, arguments) in enumerate(found)
    ]
    return calls, strip_markup("".join(text)).strip() if calls else strip_markup("".join(text))


def recover_calls(content: str, tool_names: set[str], seed: str) -> tuple[list[dict[str, Any]], str]:
    """(tool calls, the text that is left) for an answer's whole content, leaked either way."""
    if _MARKUP_START in content:
        return _harmony(content, tool_names, seed)
    calls = recover_tool_calls(content, tool_names, seed)
    return (calls, "") if calls else ([], content)


class HeldCall:
    """Streamed content held back while it may be a leaked tool call.

    Held: content that opens the answer and looks like JSON, when tools were offered; and
    everything from the first control token of the chat format (`<|`) on, whatever was offered,
    so no control token is ever sent. A `<` at the very end of a piece waits for the next one.
    At the end the held text becomes tool calls, or is released as text without control tokens.
    """

    def __init__(self, tool_names: set[str], seed: str, *, enabled: bool) -> None:
        self.tool_names = tool_names
        self.seed = seed
        self.enabled = enabled
        self.text: str | None = None
        self._partial = ""

    def hold(self, text: str, *, at_start: bool) -> str:
        """Take the next piece of content; return the part that can be shown now."""
        if self.text is not None:
            self.text += text
            return ""
        text, self._partial = self._partial + text, ""
        if self.enabled and at_start and looks_like_json(text):
            self.text = text
            return ""
        markup = text.find(_MARKUP_START)
        if markup >= 0:
            self.text = text[markup:]
            return text[:markup]
        if text.endswith("<"):
            self._partial = "<"
            return text[:-1]
        return text

    def release(self, *, may_be_calls: bool) -> tuple[list[dict[str, Any]], str]:
        """(tool calls, what is left as text) for what was held, at the end of the answer."""
        held, self.text, self._partial = (self.text or "") + self._partial, None, ""
        names = self.tool_names if self.enabled and may_be_calls else set()
        return recover_calls(held, names, self.seed) if held else ([], "")
