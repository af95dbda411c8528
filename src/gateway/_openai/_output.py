"""What the model said, read out of Workers AI's messages-form answers, whole or streamed.

Every OpenAI route asks Workers AI for the messages form (or the prompt form) and rebuilds its
own dialect from these two shapes: `Completion` for a whole answer, `Delta`s for a stream. A JSON
answer to a stream request becomes the `Delta`s that stream would have carried.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from .._errors import UpstreamError
from .._http import RequestContext
from .._sse import relay_events
from .._upstream import ByteStream, UpstreamResult

__all__ = ["Completion", "Delta", "ToolCallDelta", "deltas_of", "read_completion", "usage_numbers"]


# Plain slotted classes rather than dataclasses: a dataclass costs about 1 ms to define in Pyodide.


class ToolCallDelta:
    __slots__ = ("arguments", "id", "index", "name")

    def __init__(self, index: int, id: str | None = None, name: str | None = None, arguments: str = "") -> None:
        self.index, self.id, self.name, self.arguments = index, id, name, arguments


class Delta:
    __slots__ = ("content", "finish_reason", "reasoning", "tool_calls", "usage")

    def __init__(
        self,
        reasoning: str = "",
        content: str = "",
        tool_calls: list[ToolCallDelta] | None = None,
        finish_reason: str | None = None,
        usage: dict[str, Any] | None = None,
    ) -> None:
        self.reasoning, self.content, self.finish_reason, self.usage = reasoning, content, finish_reason, usage
        self.tool_calls = tool_calls or []


class Completion:
    __slots__ = ("content", "finish_reason", "reasoning", "tool_calls", "usage")

    def __init__(
        self,
        reasoning: str,
        content: str,
        tool_calls: list[dict[str, Any]],  # OpenAI shape: {id, type, function: {name, arguments}}
        finish_reason: str | None,
        usage: dict[str, Any] | None,
    ) -> None:
        self.reasoning, self.content, self.tool_calls = reasoning, content, tool_calls
        self.finish_reason, self.usage = finish_reason, usage


def _reasoning_of(holder: dict[str, Any]) -> str:
    # Workers AI has used both names for gpt-oss's reasoning.
    value = holder.get("reasoning_content") or holder.get("reasoning") or ""
    return value if isinstance(value, str) else ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _whole_tool_calls(raw: Any) -> list[dict[str, Any]]:
    """Tool calls in OpenAI's shape, arguments as a JSON string, whichever shape Workers AI used."""
    return [
        {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": call.arguments or "{}"}}
        for call in _tool_call_deltas(raw)
    ]


def read_completion(result: dict[str, Any]) -> Completion:
    """A whole answer: the messages form's `chat.completion`, or the prompt form's `{response}`."""
    if isinstance(result.get("choices"), list) and result["choices"]:
        choice = result["choices"][0]
        message = choice.get("message") or {}
        return Completion(
            _reasoning_of(message),
            _text(message.get("content")),
            _whole_tool_calls(message.get("tool_calls")),
            choice.get("finish_reason"),
            result.get("usage"),
        )
    if "response" in result:
        return Completion(
            "", _text(result.get("response")), _whole_tool_calls(result.get("tool_calls")), None, result.get("usage")
        )
    raise UpstreamError("The model upstream answered in a shape the gateway does not know (no choices, no response).")


def usage_numbers(usage: dict[str, Any] | None) -> tuple[int, int]:
    """(input, output) tokens from either of Workers AI's usage shapes."""
    usage = usage or {}
    prompt = usage.get("prompt_tokens", usage.get("input_tokens", 0))
    completion = usage.get("completion_tokens", usage.get("output_tokens", 0))
    return (prompt if isinstance(prompt, int) else 0, completion if isinstance(completion, int) else 0)


def _tool_call_deltas(raw: Any) -> list[ToolCallDelta]:
    calls = []
    for position, call in enumerate(raw if isinstance(raw, list) else []):
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


def _delta_of_chunk(data: dict[str, Any]) -> Delta:
    if isinstance(data.get("choices"), list):
        choice = data["choices"][0] if data["choices"] else {}
        delta = choice.get("delta") or {}
        return Delta(
            _reasoning_of(delta),
            _text(delta.get("content")),
            _tool_call_deltas(delta.get("tool_calls")),
            choice.get("finish_reason"),
            data.get("usage"),
        )
    # The prompt form's frames: {"response": "token"}, with usage on the last.
    return Delta("", _text(data.get("response")), _tool_call_deltas(data.get("tool_calls")), None, data.get("usage"))


def _completion_as_deltas(completion: Completion) -> list[Delta]:
    calls = _tool_call_deltas(completion.tool_calls)
    return [Delta(completion.reasoning, completion.content, calls, completion.finish_reason, completion.usage)]


def _data_lines(events: bytes) -> list[bytes]:
    return [line[5:].strip() for line in events.splitlines() if line.startswith(b"data:")]


async def _stream_deltas(stream: ByteStream, context: RequestContext, idle_timeout_s: float) -> AsyncIterator[Delta]:
    async for events in relay_events(stream, context, idle_timeout_s):
        for payload in _data_lines(events):
            if payload == b"[DONE]":
                continue
            try:
                data = json.loads(payload)
            except ValueError:
                raise UpstreamError("The model upstream sent an event that is not JSON.") from None
            if isinstance(data, dict):
                yield _delta_of_chunk(data)


async def _whole_as_deltas(result: dict[str, Any]) -> AsyncIterator[Delta]:
    for delta in _completion_as_deltas(read_completion(result)):
        yield delta


def deltas_of(result: UpstreamResult, context: RequestContext, idle_timeout_s: float) -> AsyncIterator[Delta]:
    """The answer as deltas: streamed when the upstream streamed, in one piece when it sent JSON."""
    if not isinstance(result, dict):
        return _stream_deltas(result, context, idle_timeout_s)
    context.record_usage(result.get("usage"))
    return _whole_as_deltas(result)


async def whole_answer(result: UpstreamResult, context: RequestContext) -> Completion:
    """The answer to a request that did not ask to stream, read whole."""
    if not isinstance(result, dict):
        await result.aclose()
        raise UpstreamError("The model upstream streamed an answer that was asked for whole.")
    context.record_usage(result.get("usage"))
    return read_completion(result)
