"""A Messages request: its fields and their policy, and what it asks of Workers AI.

Reasoning effort (gpt-oss always reasons; Workers AI takes low, medium or high):
- `output_config.effort` when given: low, medium, high; `max` and `xhigh` are high;
- else `thinking`: `enabled` by its `budget_tokens` (up to 4,096 low, up to 16,384 medium, more
  high);
  `disabled` the lowest (low), since reasoning cannot be turned off; `adaptive`, or no `thinking`,
  Workers AI's default (medium).
Thinking blocks are returned when `thinking` is `enabled` or `adaptive`, as Anthropic's API does;
with `display: "omitted"` they carry no text, only a signature.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from .._asgi.context import context_of
from .._asgi.http import Scope, header
from .._asgi.schema import AnyOf, Array, Bool, Integer, Null, Number, Obj, Spec, Str
from .._catalog import CONTEXT_WINDOW
from .._errors import InvalidRequest
from .._limits.budget import output_room
from .._params import FieldPolicy, check_fields
from .._upstream.affinity import Affinity
from .._upstream.fallback import fallback_for
from .conversation import Conversation, referenced_tools, workers_messages, workers_tools
from .models import resolve_messages_model

__all__ = [
    "COUNT_POLICY",
    "FIELDS",
    "IGNORED",
    "POLICY",
    "REFUSED",
    "MessagesRequest",
    "estimate_tokens",
    "parse_count_request",
    "parse_messages_request",
    "reasoning_effort",
]

# Anthropic refuses a larger max_tokens for its own models; here the context window bounds it instead.
_MAX_TOKENS_LIMIT = 1_000_000

_TOOL_CHOICE = Obj(
    {
        "type": Str(enum=("auto", "any", "tool", "none")),
        "name": Str(min_length=1),
        "disable_parallel_tool_use": Bool(),
    },
    required=("type",),
)
_THINKING = Obj(
    {
        "type": Str(enum=("enabled", "disabled", "adaptive")),
        "budget_tokens": Integer(0, _MAX_TOKENS_LIMIT),
        "display": AnyOf((Str(), Null())),
    },
    required=("type",),
)

FIELDS: dict[str, Spec] = {
    "model": Str(min_length=1),
    "messages": Array(Obj(closed=False), min_items=1),
    "system": AnyOf((Str(), Array(Obj(closed=False)))),
    "max_tokens": Integer(1, _MAX_TOKENS_LIMIT),
    "temperature": Number(0, 1),
    # Workers AI's minimum is 0.001 and its top_k range 1-50; outside them it would refuse the call.
    "top_p": Number(0.001, 1),
    "top_k": Integer(1, 50),
    "stop_sequences": Array(Str(min_length=1)),
    "stream": Bool(),
    "tools": Array(Obj(closed=False)),
    "tool_choice": _TOOL_CHOICE,
    "thinking": _THINKING,
    "metadata": Obj({"user_id": AnyOf((Str(), Null()))}),
    "output_config": Obj({"effort": AnyOf((Str(), Null())), "format": AnyOf((Obj(closed=False), Null()))}),
}

IGNORED = {
    "context_management": "context editing (clearing old thinking or tool results) is not done: the whole "
    "conversation is sent, which gives the same answer while it fits the context window",
    "cache_control": "a prompt-caching hint: Workers AI caches prefixes without being asked",
    "service_tier": "Workers AI has one service tier",
    "container": "no code-execution container runs here",
    "mcp_servers": "the gateway connects to no MCP server, so their tools are not offered",
    # Claude Code's `--task-budget`: Anthropic tells the model the tokens left for the task; gpt-oss
    # is not told. A key's token budgets still apply.
    "output_config.task_budget": "a pacing hint gpt-oss is not given",
}

REFUSED: dict[str, str] = {}

POLICY = FieldPolicy(FIELDS, IGNORED, REFUSED)

_COUNTED = ("model", "messages", "system", "tools", "tool_choice", "thinking", "output_config")
COUNT_POLICY = FieldPolicy({name: FIELDS[name] for name in _COUNTED}, IGNORED, REFUSED)

_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "high", "xhigh": "high"}


def reasoning_effort(body: dict[str, Any], out: Conversation) -> str | None:
    """The effort to ask Workers AI for (see the module's docstring); None leaves its default."""
    effort = (body.get("output_config") or {}).get("effort")
    if effort is not None:
        if effort not in _EFFORTS:
            out.note("output_config.effort")
        return _EFFORTS.get(effort)
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "disabled":
        return "low"
    if thinking.get("type") != "enabled":
        return None
    budget = thinking.get("budget_tokens") or 0
    return "low" if budget <= 4096 else "medium" if budget <= 16384 else "high"


def _thinking_shown(body: dict[str, Any]) -> str | None:
    """How thinking blocks are returned: "shown", "omitted" (no text), or None (no blocks)."""
    thinking = body.get("thinking") or {}
    if thinking.get("type") not in ("enabled", "adaptive"):
        return None
    return "omitted" if thinking.get("display") == "omitted" else "shown"


def estimate_tokens(inputs: dict[str, Any]) -> int:
    """An estimate of the input's tokens: the UTF-8 size of its messages and tools as Workers AI
    receives them (compact JSON), divided by 4, rounded up. No tokenizer runs: gpt-oss's (o200k) is
    megabytes of tables. Measured against o200k on the same JSON: 8-10% high on Claude Code's
    requests, 1-13% low on English, Markdown and code, about half the count on digit-, hex- or
    base64-heavy data, and double on Cyrillic (two bytes a letter)."""
    sent = {"messages": inputs["messages"], "tools": inputs.get("tools", [])}
    size = len(json.dumps(sent, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass"))
    return math.ceil(size / 4)


class MessagesRequest:
    __slots__ = (
        "affinity",
        "id",
        "input_estimate",
        "inputs",
        "max_tokens",
        "model",
        "model_name",
        "parallel_tool_calls",
        "recover_tools",
        "stops",
        "stream",
        "thinking",
        "tools",
    )

    def __init__(
        self,
        *,
        model: str,
        model_name: str,
        inputs: dict[str, Any],
        affinity: Affinity,
        input_estimate: int,
        max_tokens: int,
        stream: bool,
        stops: tuple[str, ...],
        tools: set[str],
        recover_tools: bool,
        parallel_tool_calls: bool,
        thinking: str | None,
    ) -> None:
        self.model, self.model_name, self.inputs, self.input_estimate = model, model_name, inputs, input_estimate
        self.affinity = affinity
        self.max_tokens, self.stream, self.stops, self.tools = max_tokens, stream, stops, tools
        self.recover_tools, self.parallel_tool_calls, self.thinking = recover_tools, parallel_tool_calls, thinking
        self.id = "msg_" + os.urandom(12).hex()


def _tool_choice(choice: dict[str, Any] | None, offered: set[str], server: set[str]) -> Any:
    """Anthropic's `tool_choice` as the messages form's; a choice the gateway cannot honour is a 400."""
    if choice is None or choice["type"] == "auto":
        return None if choice is None else "auto"
    if choice["type"] == "none":
        return "none"
    if not offered:
        raise InvalidRequest(
            "tool_choice: it asks for a tool call, but no custom tools were offered.", param="tool_choice"
        )
    if choice["type"] == "any":
        return "required"
    name = choice.get("name")
    if name in server:
        raise InvalidRequest(
            f"tool_choice.name: {name!r} is a server tool, which this gateway does not run.", param="tool_choice.name"
        )
    if name not in offered:
        raise InvalidRequest(
            f"tool_choice.name: {name!r} is not among the offered tools ({', '.join(sorted(offered))}).",
            param="tool_choice.name",
        )
    return {"type": "function", "function": {"name": name}}


def _conversation_inputs(body: dict[str, Any], out: Conversation) -> dict[str, Any]:
    """The messages form's messages, tools and tool choice, from a checked body."""
    if body.get("messages") is None:
        raise InvalidRequest("messages: Field required (at least one message).", param="messages")
    inputs: dict[str, Any] = {"messages": workers_messages(body.get("system"), body["messages"], out)}
    tools, server = workers_tools(body.get("tools") or [], referenced_tools(body["messages"]), out)
    names = {tool["function"]["name"] for tool in tools}
    choice = _tool_choice(body.get("tool_choice"), names, server)
    if tools:
        inputs["tools"] = tools
    if choice is not None:
        inputs["tool_choice"] = choice
    return inputs


def _output_cap(scope: Scope, model: str, max_tokens: int, inputs: dict[str, Any], estimate: int) -> int:
    """`max_tokens`, lowered to what the context window leaves after the input and to what the key's
    token and dollar budgets can ever admit with it (priced at the dearer of the model and the
    fallback that may answer). Anthropic's API requires `max_tokens`, so clients send their
    Claude model's largest (Claude Code: 32,000, or 128,000 for its default model), not what they
    need; refusing it would refuse every request. Never lowered below 1,024 (gpt-oss reasons first):
    a budget too small for that still gets the 400 that says so."""
    floor = min(max_tokens, 1024)
    cap = min(max_tokens, max(CONTEXT_WINDOW - estimate, floor))
    # The reservation is made on what is sent upstream: these inputs, this cap, and `stream`.
    sent = {**inputs, "max_tokens": cap, "stream": False}
    fallback = fallback_for(scope, model, sent, {})
    room = output_room(scope, sent, (model, fallback) if fallback else (model,))
    return cap if room is None or room < floor else min(cap, room)


def _sampling(body: dict[str, Any], out: Conversation) -> dict[str, Any]:
    inputs = {name: body[name] for name in ("temperature", "top_p", "top_k") if body.get(name) is not None}
    effort = reasoning_effort(body, out)
    if effort is not None:
        inputs["reasoning_effort"] = effort
    fmt = (body.get("output_config") or {}).get("format")
    if fmt is not None:
        if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
            raise InvalidRequest(
                'output_config.format: only {"type": "json_schema", "schema": {...}} is accepted.',
                param="output_config.format",
            )
        inputs["response_format"] = {"type": "json_schema", "json_schema": fmt["schema"]}
    return inputs


def _user_of(scope: Scope, body: dict[str, Any]) -> str | None:
    """`metadata.user_id` tags a request for its owner: it goes on the log line, never upstream."""
    user = (body.get("metadata") or {}).get("user_id")
    if not isinstance(user, str) or not user:
        return None
    context_of(scope).extra["user"] = user
    return user


def _session(scope: Scope, user: str | None) -> str | None:
    """The conversation a request continues, for prefix-cache affinity: Claude Code's session id
    (its header; its `metadata.user_id` holds it too), else the user the request names."""
    return header(scope, b"x-claude-code-session-id") or user


def parse_messages_request(scope: Scope, body: dict[str, Any]) -> MessagesRequest:
    check_fields(scope, body, POLICY)
    model, model_name = resolve_messages_model(scope, body.get("model"))
    if body.get("max_tokens") is None:
        raise InvalidRequest("max_tokens: Field required (the most tokens the answer may use).", param="max_tokens")
    out = Conversation()
    inputs = _conversation_inputs(body, out)
    estimate = estimate_tokens(inputs)
    inputs.update(_sampling(body, out))
    max_tokens = _output_cap(scope, model, int(body["max_tokens"]), inputs, estimate)
    inputs["max_tokens"] = max_tokens
    affinity = Affinity(chain=_session(scope, _user_of(scope, body)))
    context_of(scope).note_ignored(out.ignored)
    choice = body.get("tool_choice") or {}
    return MessagesRequest(
        model=model,
        model_name=model_name,
        inputs=inputs,
        affinity=affinity,
        input_estimate=estimate,
        max_tokens=max_tokens,
        stream=bool(body.get("stream")),
        stops=tuple(body.get("stop_sequences") or ()),
        tools={tool["function"]["name"] for tool in inputs.get("tools", [])},
        recover_tools="tools" in inputs and choice.get("type") != "none",
        parallel_tool_calls=choice.get("disable_parallel_tool_use") is not True,
        thinking=_thinking_shown(body),
    )


def parse_count_request(scope: Scope, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(the served model, the messages form's inputs) of a `count_tokens` body."""
    check_fields(scope, body, COUNT_POLICY)
    model, _ = resolve_messages_model(scope, body.get("model"))
    out = Conversation()
    inputs = _conversation_inputs(body, out)
    context_of(scope).note_ignored(out.ignored)
    return model, inputs
