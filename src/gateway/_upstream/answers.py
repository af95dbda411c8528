"""What the model said, read out of Workers AI's messages-form and prompt-form answers, whole or streamed.

Every OpenAI route asks Workers AI for the messages form (or the prompt form) and rebuilds its
own dialect from these two shapes: `Completion` for a whole answer, `Delta`s for a stream. A JSON
answer to a stream request becomes the one `Delta` that stream would have carried.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from .._asgi.context import RequestContext, context_of
from .._asgi.http import ByteStream, Scope
from .._config import settings_of
from .._errors import UpstreamError
from .affinity import Affinity
from .backend import UpstreamResult, Usage, record_usage, usage_of
from .call import call_model, relay_events

__all__ = [
    "Completion",
    "Delta",
    "DeltaReader",
    "ToolCallDelta",
    "ask_streamed",
    "ask_whole",
    "deltas_of",
    "read_completion",
    "whole_answer",
]


# Plain slotted classes rather than dataclasses: a dataclass costs about 1 ms to define in Pyodide.


class ToolCallDelta:
    __slots__ = ("arguments", "id", "index", "name")

    def __init__(self, index: int, id: str | None = None, name: str | None = None, arguments: str = "") -> None:
        self.index, self.id, self.name, self.arguments = index, id, name, arguments


class Delta:
    """One step of an answer. `usage` is None on the steps that carry none."""

    __slots__ = ("content", "finish_reason", "reasoning", "tool_calls", "usage")

    def __init__(
        self,
        reasoning: str = "",
        content: str = "",
        tool_calls: list[ToolCallDelta] | None = None,
        finish_reason: str | None = None,
        usage: Usage | None = None,
    ) -> None:
        self.reasoning, self.content, self.finish_reason, self.usage = reasoning, content, finish_reason, usage
        self.tool_calls = tool_calls or []


class DeltaReader:
    """What every dialect's answer builder does with a `Delta`: keep its usage and finish reason, and
    hand its reasoning, text and tool calls, in that order, to the dialect's own methods."""

    usage: Usage
    upstream_finish: str | None

    def feed(self, delta: Delta) -> bytes:
        self.usage = delta.usage or self.usage
        self.upstream_finish = delta.finish_reason or self.upstream_finish
        out = self._reasoning(delta.reasoning) if delta.reasoning else b""
        if delta.content:
            out += self._content(delta.content)
        for call in delta.tool_calls:
            out += self._call(call.index, call.id, call.name, call.arguments)
        return out

    def _reasoning(self, text: str) -> bytes:
        raise NotImplementedError

    def _content(self, text: str) -> bytes:
        raise NotImplementedError

    def _call(self, index: int, upstream_id: str | None, name: str | None, arguments: str) -> bytes:
        raise NotImplementedError


class Completion:
    __slots__ = ("content", "finish_reason", "reasoning", "tool_calls", "usage")

    def __init__(
        self,
        reasoning: str,
        content: str,
        tool_calls: list[ToolCallDelta],
        finish_reason: str | None,
        usage: Usage,
    ) -> None:
        self.reasoning, self.content, self.tool_calls = reasoning, content, tool_calls
        self.finish_reason, self.usage = finish_reason, usage

    def as_delta(self) -> Delta:
        usage = self.usage if self.usage.reported else None
        return Delta(self.reasoning, self.content, self.tool_calls, self.finish_reason, usage)


def _reasoning_of(holder: dict[str, Any]) -> str:
    # Workers AI has used both names for gpt-oss's reasoning.
    value = holder.get("reasoning_content") or holder.get("reasoning") or ""
    return value if isinstance(value, str) else ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _tool_calls(raw: Any) -> list[ToolCallDelta]:
    """Tool calls, arguments as a JSON string, whichever shape Workers AI used."""
    calls = []
    for position, call in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        arguments = function.get("arguments", call.get("arguments", ""))
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments)  # the prompt form has given arguments as an object
        calls.append(
            ToolCallDelta(
                index=call.get("index", position),
                id=call.get("id"),
                name=function.get("name", call.get("name")),
                arguments=arguments,
            )
        )
    return calls


def _step(data: dict[str, Any], message_key: str) -> Completion:
    """One answer or stream chunk: `choices[0][message_key]` of the messages form, or the prompt
    form's `{response, tool_calls}`."""
    choices = data.get("choices")
    if isinstance(choices, list):
        choice = choices[0] if choices and isinstance(choices[0], dict) else {}
        holder = choice.get(message_key) or {}
        reasoning, content, calls = _reasoning_of(holder), _text(holder.get("content")), holder.get("tool_calls")
        finish = choice.get("finish_reason")
    else:
        reasoning, content, calls, finish = "", _text(data.get("response")), data.get("tool_calls"), None
    return Completion(reasoning, content, _tool_calls(calls), finish, usage_of(data.get("usage")))


def read_completion(result: dict[str, Any]) -> Completion:
    """A whole answer: the messages form's `chat.completion`, or the prompt form's `{response}`."""
    if not (isinstance(result.get("choices"), list) and result["choices"]) and "response" not in result:
        raise UpstreamError(
            "The model upstream answered in a shape the gateway does not know (no choices, no response)."
        )
    completion = _step(result, "message")
    for call in completion.tool_calls:
        call.arguments = call.arguments or "{}"  # a whole call's arguments are a JSON object, even when empty
    return completion


def _delta_of_chunk(data: dict[str, Any]) -> Delta:
    return _step(data, "delta").as_delta()


def _data_lines(events: bytes) -> list[bytes]:
    return [line[5:].strip() for line in events.splitlines() if line.startswith(b"data:")]


async def _stream_deltas(
    stream: ByteStream, context: RequestContext, idle_timeout_s: float
) -> AsyncGenerator[Delta, None]:
    relay = relay_events(stream, context, idle_timeout_s)
    try:
        async for events in relay:
            for payload in _data_lines(events):
                if payload == b"[DONE]":
                    continue
                try:
                    data = json.loads(payload)
                except ValueError:
                    raise UpstreamError("The model upstream sent an event that is not JSON.") from None
                if isinstance(data, dict):
                    yield _delta_of_chunk(data)
    finally:
        # Closed with us, not when the garbage collector gets to it: closing the relay closes the
        # upstream (a client that left must not leave its upstream stream open).
        await relay.aclose()


async def _whole_as_deltas(result: dict[str, Any]) -> AsyncGenerator[Delta, None]:
    yield read_completion(result).as_delta()


def deltas_of(result: UpstreamResult, context: RequestContext, idle_timeout_s: float) -> AsyncGenerator[Delta, None]:
    """The answer as deltas: streamed when the upstream streamed, in one piece when it sent JSON."""
    if not isinstance(result, dict):
        return _stream_deltas(result, context, idle_timeout_s)
    record_usage(context, result.get("usage"))
    return _whole_as_deltas(result)


async def whole_answer(result: UpstreamResult, context: RequestContext) -> Completion:
    """The answer to a request that did not ask to stream, read whole."""
    if not isinstance(result, dict):
        await result.aclose()
        raise UpstreamError("The model upstream streamed an answer that was asked for whole.")
    record_usage(context, result.get("usage"))
    return read_completion(result)


async def ask_streamed(
    scope: Scope, model: str, inputs: dict[str, Any], affinity: Affinity | None = None
) -> AsyncGenerator[Delta, None]:
    """Ask the model for a streamed answer: its deltas as they come (or at once, if it answered JSON)."""
    result = await call_model(scope, model, {**inputs, "stream": True}, {}, affinity)
    return deltas_of(result, context_of(scope), settings_of(scope).stream_idle_timeout_s)


async def ask_whole(scope: Scope, model: str, inputs: dict[str, Any], affinity: Affinity | None = None) -> Completion:
    """Ask the model for a whole answer."""
    result = await call_model(scope, model, {**inputs, "stream": False}, {}, affinity)
    return await whole_answer(result, context_of(scope))
