"""`POST /v1/responses` (and `/ai/v1/responses`): OpenAI's Responses API.

Workers AI does not stream its Responses form for gpt-oss, so every request is sent as the
messages form, which streams token by token, and the Responses objects and events are rebuilt
from it. Streaming therefore carries real deltas as the model produces them; the events are
synthesized from a whole answer only when the upstream answers JSON to a stream request.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from typing import Any

from .._asgi.http import Receive, Scope, Send, send_json
from .._asgi.schema import AnyOf, Array, Bool, Integer, Null, Obj, Spec, Str
from .._asgi.sse import stream_events
from .._catalog import CONTEXT_WINDOW
from .._errors import InvalidRequest
from .._params import FieldPolicy, check_fields
from .._upstream.answers import Delta, ask_streamed, ask_whole
from .models import resolve_model
from .request import (
    SAMPLING,
    check_tool_choice,
    max_tokens_of,
    read_request,
    sampling_inputs,
)
from .response_builder import ResponseBuilder, ResponseRequest
from .response_input import input_messages

__all__ = ["FIELDS", "IGNORED", "POLICY", "REFUSED", "responses"]

_FUNCTION = Obj(
    {
        "type": Str(enum=("function",)),
        "name": Str(min_length=1),
        "description": AnyOf((Str(), Null())),
        "parameters": AnyOf((Obj(closed=False), Null())),
        "strict": AnyOf((Bool(), Null())),
    },
    required=("type", "name"),
)
_FORMAT = Obj(
    {
        "type": Str(enum=("text", "json_object", "json_schema")),
        "name": Str(min_length=1),
        "schema": Obj(closed=False),
        "strict": AnyOf((Bool(), Null())),
        "description": Str(),
    },
    required=("type",),
)

FIELDS: dict[str, Spec] = {
    "model": Str(min_length=1),
    "input": AnyOf((Str(min_length=1), Array(Obj(closed=False), min_items=1))),
    "instructions": AnyOf((Str(), Null())),
    "reasoning": Obj(
        {
            "effort": AnyOf((Str(enum=("low", "medium", "high")), Null())),
            "summary": AnyOf((Str(enum=("auto", "concise", "detailed")), Null())),
        }
    ),
    "max_output_tokens": AnyOf((Integer(1, CONTEXT_WINDOW), Null())),
    "temperature": SAMPLING["temperature"],
    "top_p": SAMPLING["top_p"],
    "tools": Array(Obj({"type": Str(min_length=1)}, required=("type",), closed=False)),
    "tool_choice": AnyOf(
        (
            Str(enum=("none", "auto", "required")),
            Obj({"type": Str(enum=("function",)), "name": Str(min_length=1)}, required=("type", "name")),
        )
    ),
    "parallel_tool_calls": Bool(),
    "text": Obj({"format": _FORMAT}),
    "stream": Bool(),
    "metadata": AnyOf((Obj(closed=False), Null())),
    "user": Str(),
}

IGNORED = {
    "store": "responses are not stored yet; the answer is the same",
    "include": "extra output (encrypted reasoning, logprobs) the gateway cannot fill",
    "truncation": "the context is never truncated; an over-long input is refused instead",
    "max_tool_calls": "a cap on built-in tool calls, which do not run here",
    "service_tier": "Workers AI has one service tier",
    "prompt_cache_key": "a routing hint for prompt caching",
    "safety_identifier": "an abuse-monitoring tag for OpenAI; `user` goes on the log line",
    "client_metadata": "a client's own ids (Codex sends them)",
    "stream_options": "Responses streams here carry no obfuscation to turn off",
    "text.verbosity": "a length hint gpt-oss on Workers AI does not take",
}

REFUSED = {
    "previous_response_id": "responses are not stored; send the whole conversation in `input`.",
    "background": "background responses are not available; send background=false or leave it out.",
    "conversation": "conversations are not stored; send the whole conversation in `input`.",
    "prompt": "stored prompt templates are not available.",
    "top_logprobs": "Workers AI does not return log probabilities.",
}

POLICY = FieldPolicy(FIELDS, IGNORED, REFUSED)


def _tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Responses' flat function tools to the messages form's `{type, function}`; refuse built-ins."""
    out = []
    for index, tool in enumerate(tools):
        if tool.get("type") != "function":
            raise InvalidRequest(
                f"`tools[{index}].type` is {tool.get('type')!r}: built-in tools are not available "
                'for gpt-oss on Workers AI; only "function" tools are.',
                param=f"tools[{index}].type",
            )
        _FUNCTION.check(tool, f"tools[{index}]")
        spec = {key: tool[key] for key in ("name", "description", "parameters") if tool.get(key) is not None}
        out.append({"type": "function", "function": spec})
    return out


def _response_format(text: dict[str, Any] | None) -> dict[str, Any] | None:
    fmt = (text or {}).get("format") or {"type": "text"}
    if fmt["type"] == "json_object":
        return {"type": "json_object"}
    if fmt["type"] == "json_schema":
        if "name" not in fmt or "schema" not in fmt:
            raise InvalidRequest("`text.format` of type json_schema needs `name` and `schema`.", param="text.format")
        schema = {key: fmt[key] for key in ("name", "schema", "strict", "description") if fmt.get(key) is not None}
        return {"type": "json_schema", "json_schema": schema}
    return None


def _tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        return {"type": "function", "function": {"name": choice["name"]}}
    return choice


def _parse_responses_request(scope: Scope, body: dict[str, Any]) -> tuple[str, ResponseRequest]:
    check_fields(scope, body, POLICY)
    model = resolve_model(scope, body.get("model"))
    if body.get("input") is None:
        raise InvalidRequest("`input` is required: a string, or a list of input items.", param="input")
    tools = _tools(body.get("tools") or [])
    names = {tool["function"]["name"] for tool in tools}
    check_tool_choice(body.get("tool_choice"), names)
    sampling = sampling_inputs(body, max_tokens_of(body, "max_output_tokens"))
    inputs: dict[str, Any] = {"messages": input_messages(body["input"], body.get("instructions")), **sampling.inputs}
    reasoning = body.get("reasoning") or {}
    if reasoning.get("effort"):
        inputs["reasoning_effort"] = reasoning["effort"]
    if tools:
        inputs["tools"] = tools
    if body.get("tool_choice") is not None:
        inputs["tool_choice"] = _tool_choice(body["tool_choice"])
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        inputs["response_format"] = response_format
    request = ResponseRequest(
        body=body,
        inputs=inputs,
        model_name=body["model"],
        max_tokens=sampling.max_tokens,
        tools=names,
        recover_tools=bool(names) and body.get("tool_choice") != "none",
        parallel_tool_calls=body.get("parallel_tool_calls", True) is not False,
        id="resp_" + os.urandom(16).hex(),
        created_at=int(time.time()),
    )
    return model, request


async def responses(scope: Scope, receive: Receive, send: Send) -> None:
    body = await read_request(scope, receive)
    model, request = _parse_responses_request(scope, body)
    builder = ResponseBuilder(request)
    if body.get("stream"):
        deltas = await ask_streamed(scope, model, request.inputs)
        await stream_events(scope, receive, send, _events(builder, deltas), builder.failed)
        return
    builder.feed((await ask_whole(scope, model, request.inputs)).as_delta())
    builder.close()
    await send_json(send, 200, builder.snapshot())


async def _events(builder: ResponseBuilder, deltas: AsyncIterator[Delta]) -> AsyncIterator[bytes]:
    yield builder.start()
    async for delta in deltas:
        out = builder.feed(delta)
        if out:
            yield out
    yield builder.close()
