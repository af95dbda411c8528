"""`POST /v1/chat/completions` (and `/ai/v1/chat/completions`): OpenAI's Chat Completions.

A request becomes Workers AI's messages form; the answer comes back as `chat.completion`, or as
`chat.completion.chunk` events in OpenAI's order: the role, then reasoning, content and tool-call
deltas (stable ids and indexes), the finish reason, a usage chunk when asked for, `[DONE]`.

Reasoning is exposed as `reasoning_content` on the message and on deltas: the field Workers AI and
vLLM use for gpt-oss, and the one OpenAI-compatible clients (LiteLLM, Open WebUI, LibreChat, the
Vercel AI SDK) read. OpenAI's own Chat Completions has no reasoning field, so the SDK keeps it as
an extra attribute (`message.reasoning_content`).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from .._asgi.context import context_of
from .._asgi.http import Receive, Scope, Send, send_json
from .._asgi.schema import Array, Bool, Integer, Obj, Spec, Str
from .._asgi.sse import DONE, encode_event, stream_events
from .._catalog import CONTEXT_WINDOW
from .._envelopes import openai_error_event
from .._params import FieldPolicy, check_fields
from .._upstream.affinity import Affinity
from .._upstream.answers import Completion, Delta, DeltaReader, ask_streamed, ask_whole
from .._upstream.backend import Usage
from .._upstream.fallback import answered_name
from .._upstream.finish import FinishState, reasoning_tokens
from .._upstream.leaked_calls import HeldCall, call_id, recover_calls, strip_markup
from .._upstream.tools import upstream_tool
from .messages import chat_messages
from .models import resolve_model
from .request import (
    FUNCTION_TOOL,
    SAMPLING,
    STOP,
    TOOL_CHOICE,
    check_tool_choice,
    fit_default_cap,
    max_tokens_of,
    read_request,
    sampling_inputs,
    stop_sequences,
    token_usage,
    tool_names,
    workers_ai_json_mode,
)

__all__ = ["FIELDS", "IGNORED", "POLICY", "REFUSED", "REQUIRED", "chat_completions"]

_RESPONSE_FORMAT = Obj(
    {
        "type": Str(enum=("text", "json_object", "json_schema")),
        "json_schema": Obj(
            {"name": Str(min_length=1), "schema": Obj(closed=False), "strict": Bool(), "description": Str()},
            required=("name",),
        ),
    },
    required=("type",),
)

FIELDS: dict[str, Spec] = {
    "model": Str(min_length=1),
    "messages": Array(Obj(closed=False), min_items=1),
    "tools": Array(Obj({"type": Str(min_length=1)}, required=("type",), closed=False)),
    "tool_choice": TOOL_CHOICE,
    "parallel_tool_calls": Bool(),
    "response_format": _RESPONSE_FORMAT,
    "max_tokens": Integer(1, CONTEXT_WINDOW),
    "max_completion_tokens": Integer(1, CONTEXT_WINDOW),
    "stop": STOP,
    "stream": Bool(),
    "stream_options": Obj({"include_usage": Bool(), "include_obfuscation": Bool()}),
    "reasoning_effort": Str(enum=("low", "medium", "high")),
    "prompt_cache_key": Str(),
    "user": Str(),
    **SAMPLING,
}

IGNORED = {
    "store": "completions are not kept for OpenAI's dashboard; the answer is the same",
    "metadata": "tags for stored completions, which are not kept",
    "service_tier": "Workers AI has one service tier",
    "verbosity": "a length hint gpt-oss on Workers AI does not take",
    "safety_identifier": "an abuse-monitoring tag for OpenAI; `user` goes on the log line",
    "prediction": "a latency hint; the answer is the same without it",
    "web_search_options": "built-in web search does not run for gpt-oss on Workers AI",
}

REFUSED = {
    "n": "it returns one choice; send n=1 or leave it out.",
    "logprobs": "Workers AI does not return log probabilities.",
    "top_logprobs": "Workers AI does not return log probabilities.",
    "logit_bias": "Workers AI's gpt-oss does not take logit_bias.",
    "functions": "use `tools` (the legacy `functions` field is not translated).",
    "function_call": "use `tool_choice` (the legacy `function_call` field is not translated).",
    "audio": "gpt-oss is text-only: it cannot answer in audio.",
    "modalities": 'gpt-oss is text-only; only ["text"] is possible.',
}

REQUIRED = {
    "model": 'the model\'s name, e.g. "gpt-oss-120b"',
    "messages": "a list of at least one message",
}

POLICY = FieldPolicy(FIELDS, IGNORED, REFUSED, REQUIRED)


class _ChatRequest:
    __slots__ = (
        "affinity",
        "created",
        "id",
        "include_usage",
        "inputs",
        "max_tokens",
        "model_name",
        "parallel_tool_calls",
        "recover_tools",
        "stops",
        "stream",
        "tools",
    )

    def __init__(
        self,
        *,
        model_name: str,
        inputs: dict[str, Any],
        max_tokens: int,
        stream: bool,
        include_usage: bool,
        stops: tuple[str, ...],
        tools: set[str],
        recover_tools: bool,
        parallel_tool_calls: bool,
        affinity: Affinity,
    ) -> None:
        self.affinity = affinity
        self.model_name, self.inputs, self.max_tokens, self.stream = model_name, inputs, max_tokens, stream
        self.include_usage, self.stops, self.tools = include_usage, stops, tools
        self.recover_tools, self.parallel_tool_calls = recover_tools, parallel_tool_calls
        self.id = "chatcmpl-" + os.urandom(16).hex()
        self.created = int(time.time())


def _function_tools(scope: Scope, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Function tools go to the model; others (`custom`) cannot run here: left out, and named."""
    functions = []
    for index, tool in enumerate(tools):
        if tool["type"] == "function":
            FUNCTION_TOOL.check(tool, f"tools[{index}]")
            functions.append(tool)
        else:
            context_of(scope).note_ignored([f"tools.{tool['type']}"])
    return functions


def _parse_chat_request(scope: Scope, body: dict[str, Any]) -> tuple[str, _ChatRequest]:
    check_fields(scope, body, POLICY)
    model = resolve_model(scope, body.get("model"))
    if body.get("stream_options") is not None and not body.get("stream"):
        # OpenAI refuses it; it asks nothing of an answer that is not streamed, so it is reported instead.
        context_of(scope).note_ignored(["stream_options"])
    tools = _function_tools(scope, body.get("tools") or [])
    names = tool_names(tools)
    check_tool_choice(body.get("tool_choice"), names)
    client_cap = max_tokens_of(body, "max_completion_tokens", "max_tokens")
    sampling = sampling_inputs(body, client_cap)
    inputs: dict[str, Any] = {"messages": chat_messages(body["messages"]), **sampling.inputs}
    if tools:
        inputs["tools"] = [upstream_tool(tool["function"]) for tool in tools]
    for name in ("tool_choice", "reasoning_effort"):
        if body.get(name) is not None:
            inputs[name] = body[name]
    response_format = body.get("response_format") or {}
    json_mode = workers_ai_json_mode(
        response_format.get("type", "text"), (response_format.get("json_schema") or {}).get("schema")
    )
    if json_mode is not None:
        inputs["response_format"] = json_mode
    request = _ChatRequest(
        model_name=body["model"],
        inputs=inputs,
        max_tokens=fit_default_cap(inputs, client_cap, _cap_name(body)),
        stream=bool(body.get("stream")),
        include_usage=bool((body.get("stream_options") or {}).get("include_usage")),
        stops=stop_sequences(body.get("stop")),
        tools=names,
        recover_tools=bool(names) and body.get("tool_choice") != "none",
        parallel_tool_calls=body.get("parallel_tool_calls", True) is not False,
        affinity=Affinity(body.get("prompt_cache_key")),
    )
    return model, request


def _cap_name(body: dict[str, Any]) -> str:
    return "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"


async def chat_completions(scope: Scope, receive: Receive, send: Send) -> None:
    model, request = _parse_chat_request(scope, await read_request(scope, receive))
    if request.stream:
        deltas = await ask_streamed(scope, model, request.inputs, request.affinity)
        request.model_name = answered_name(scope, request.model_name, model)
        await stream_events(scope, receive, send, _ChatChunks(request).translate(deltas), openai_error_event)
        return
    completion = await ask_whole(scope, model, request.inputs, request.affinity)
    request.model_name = answered_name(scope, request.model_name, model)
    await send_json(send, 200, _chat_completion(request, completion))


def _usage(usage: Usage, reasoning: str, visible: str) -> dict[str, Any]:
    return {
        **token_usage(usage),
        "completion_tokens_details": {"reasoning_tokens": reasoning_tokens(usage, reasoning, visible)},
    }


def _finished_calls(request: _ChatRequest, completion: Completion, content: str) -> tuple[list[dict[str, Any]], str]:
    calls = [
        {
            "id": call.id or call_id(request.id, i),
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for i, call in enumerate(completion.tool_calls)
    ]
    if not calls:
        # Recovered from the text when the model leaked them there; control tokens never shown.
        calls, content = recover_calls(content, request.tools if request.recover_tools else set(), request.id)
    else:
        content = strip_markup(content)
    return (calls if request.parallel_tool_calls else calls[:1]), content


def _chat_completion(request: _ChatRequest, completion: Completion) -> dict[str, Any]:
    finish = FinishState(request.stops, request.max_tokens)
    calls, content = _finished_calls(request, completion, completion.content)
    content = finish.cut(content) if not calls else content
    message: dict[str, Any] = {
        "role": "assistant",
        "content": content or None,
        "refusal": None,
        "reasoning_content": completion.reasoning or None,
    }
    if calls:
        message["tool_calls"] = calls
    arguments = "".join(call["function"]["arguments"] for call in calls)
    reason = finish.reason(completion.finish_reason, bool(calls), completion.usage)
    return {
        "id": request.id,
        "object": "chat.completion",
        "created": request.created,
        "model": request.model_name,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": reason}],
        "usage": _usage(completion.usage, completion.reasoning, content + arguments),
    }


class _ChatChunks(DeltaReader):
    """Upstream deltas to `chat.completion.chunk` events, holding back only what it must.

    Content is held while it could be the start of a stop sequence, and, when tools were offered,
    while it looks like a tool call leaked as JSON (then it becomes a tool call, or is released).
    """

    def __init__(self, request: _ChatRequest) -> None:
        self.request = request
        self.finish = FinishState(request.stops, request.max_tokens)
        self.upstream_finish: str | None = None
        self.usage = Usage()
        self.call_ids: dict[int, str] = {}
        self.held = HeldCall(request.tools, request.id, enabled=request.recover_tools)
        self.reasoning = ""
        self.visible = ""

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk: dict[str, Any] = {
            "id": self.request.id,
            "object": "chat.completion.chunk",
            "created": self.request.created,
            "model": self.request.model_name,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.request.include_usage:
            chunk["usage"] = None
        return encode_event(chunk)

    async def translate(self, deltas: AsyncGenerator[Delta, None]) -> AsyncIterator[bytes]:
        yield self._chunk({"role": "assistant", "content": ""})
        try:
            async for delta in deltas:
                out = self.feed(delta)
                if out:
                    yield out
        finally:
            await deltas.aclose()  # closes the upstream at once when the client leaves
        yield self._end()

    def _reasoning(self, text: str) -> bytes:
        self.reasoning += text
        return self._chunk({"reasoning_content": text})

    def _content(self, text: str) -> bytes:
        return self._visible(self.finish.feed(self.held.hold(text, at_start=not self.visible)))

    def _visible(self, text: str) -> bytes:
        if not text:
            return b""
        self.visible += text
        return self._chunk({"content": text})

    def _call(self, index: int, upstream_id: str | None, name: str | None, arguments: str) -> bytes:
        if index > 0 and not self.request.parallel_tool_calls:
            return b""
        self.visible += arguments
        if index not in self.call_ids:
            self.call_ids[index] = upstream_id or call_id(self.request.id, index)
            function = {"name": name or "", "arguments": arguments}
            return self._chunk(
                {"tool_calls": [{"index": index, "id": self.call_ids[index], "type": "function", "function": function}]}
            )
        return (
            self._chunk({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]}) if arguments else b""
        )

    def _release_held(self) -> bytes:
        calls, text = self.held.release(may_be_calls=not self.call_ids)
        out = self._visible(self.finish.feed(text))
        for index, call in enumerate(calls):
            out += self._call(index, call["id"], call["function"]["name"], call["function"]["arguments"])
        return out

    def _end(self) -> bytes:
        out = self._release_held() + self._visible(self.finish.flush())
        reason = self.finish.reason(self.upstream_finish, bool(self.call_ids), self.usage)
        out += self._chunk({}, reason)
        if self.request.include_usage:
            out += encode_event(
                {
                    "id": self.request.id,
                    "object": "chat.completion.chunk",
                    "created": self.request.created,
                    "model": self.request.model_name,
                    "choices": [],
                    "usage": _usage(self.usage, self.reasoning, self.visible),
                }
            )
        return out + DONE
