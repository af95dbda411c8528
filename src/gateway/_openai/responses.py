"""`POST /v1/responses` (and `/ai/v1/responses`): OpenAI's Responses API, stateful.

Workers AI does not stream its Responses form for gpt-oss, so every request is sent as the
messages form, which streams token by token, and the Responses objects and events are rebuilt
from it. Streaming therefore carries real deltas as the model produces them; the events are
synthesized from a whole answer only when the upstream answers JSON to a stream request.

`store` defaults to true, as in OpenAI's API: a finished response is kept with its input and
output items in the key's store (stored_responses.py), so `previous_response_id` and
`item_reference` can name it later. A streamed response is stored before its last event is sent,
so a client that reacts to `response.completed` can reference it at once; a failed one is not.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from .._asgi.context import context_of
from .._asgi.http import Receive, Scope, Send, send_json
from .._asgi.schema import AnyOf, Array, Bool, Integer, Null, Obj, Spec, Str
from .._asgi.sse import stream_events
from .._catalog import CONTEXT_WINDOW
from .._errors import InvalidRequest
from .._params import FieldPolicy, check_fields
from .._stored.store import store_of
from .._upstream.affinity import Affinity
from .._upstream.answers import Delta, ask_streamed, ask_whole
from .._upstream.fallback import answered_name
from .encrypted_reasoning import ENCRYPTED_CONTENT, opener_for, sealer_for
from .models import resolve_model
from .request import (
    SAMPLING,
    fit_default_cap,
    max_tokens_of,
    read_request,
    sampling_inputs,
    workers_ai_json_mode,
)
from .response_builder import ResponseBuilder, ResponseRequest
from .response_input import input_messages
from .response_tools import ToolSet, tool_set
from .stored_responses import (
    Conversation,
    check_storable,
    input_record,
    new_response_id,
    referenced_items,
    save_response,
    stored_context,
)

__all__ = ["FIELDS", "IGNORED", "POLICY", "REFUSED", "REQUIRED", "responses"]

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
    "previous_response_id": Str(min_length=1),
    "store": Bool(),
    "include": Array(Str()),
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
    "tool_choice": AnyOf((Str(enum=("none", "auto", "required")), Obj(closed=False))),
    "parallel_tool_calls": Bool(),
    "text": Obj({"format": _FORMAT}),
    "stream": Bool(),
    "metadata": AnyOf((Obj(closed=False), Null())),
    "prompt_cache_key": Str(),
    "user": Str(),
}

IGNORED = {
    "truncation": "the context is never truncated; an over-long input is refused instead",
    "max_tool_calls": "a cap on built-in tool calls, which do not run here",
    "service_tier": "Workers AI has one service tier",
    "safety_identifier": "an abuse-monitoring tag for OpenAI; `user` goes on the log line",
    "client_metadata": "a client's own ids (Codex sends them)",
    "stream_options": "Responses streams here carry no obfuscation to turn off",
    "text.verbosity": "a length hint gpt-oss on Workers AI does not take",
}

REFUSED = {
    "background": "background responses are not available; send background=false or leave it out.",
    "conversation": "conversations are not stored; use `previous_response_id`, or send the whole conversation "
    "in `input`.",
    "prompt": "stored prompt templates are not available.",
    "top_logprobs": "Workers AI does not return log probabilities.",
}

REQUIRED = {
    "model": 'the model\'s name, e.g. "gpt-oss-120b"',
    "input": "a string, or a list of input items",
}

POLICY = FieldPolicy(FIELDS, IGNORED, REFUSED, REQUIRED)


def _response_format(text: dict[str, Any] | None) -> dict[str, Any] | None:
    fmt = (text or {}).get("format") or {"type": "text"}
    if fmt["type"] == "json_schema" and ("name" not in fmt or "schema" not in fmt):
        raise InvalidRequest("`text.format` of type json_schema needs `name` and `schema`.", param="text.format")
    return workers_ai_json_mode(fmt["type"], fmt.get("schema"))


def _wants_encrypted_reasoning(scope: Scope, include: list[str], ignored: list[str]) -> bool:
    """`include` entries: encrypted reasoning is filled when a secret is configured; the others
    (logprobs, built-in tools' results, image URLs) cannot be, and are reported."""
    can_seal = sealer_for(scope) is not None
    ignored += [f"include[{entry}]" for entry in include if entry != ENCRYPTED_CONTENT or not can_seal]
    return can_seal and ENCRYPTED_CONTENT in include


def _wants_store(scope: Scope, body: dict[str, Any], ignored: list[str]) -> bool:
    if body.get("store") is False:
        return False
    if store_of(scope) is None:  # no STORED_RESPONSES binding: nothing can be kept, and it is said
        ignored.append("store")
        return False
    return True


def _upstream_inputs(
    body: dict[str, Any], messages: list[dict[str, Any]], tools: ToolSet, sampling: dict[str, Any]
) -> dict[str, Any]:
    """The messages form Workers AI is asked for."""
    inputs: dict[str, Any] = {"messages": messages, **sampling}
    effort = (body.get("reasoning") or {}).get("effort")
    if effort:
        inputs["reasoning_effort"] = effort
    if tools.functions:
        inputs["tools"] = tools.tools()
    if tools.choice is not None:
        inputs["tool_choice"] = tools.choice
    response_format = _response_format(body.get("text"))
    if response_format is not None:
        inputs["response_format"] = response_format
    return inputs


class _Plan:
    """A parsed request: what goes upstream, and what the answer and its storing need."""

    __slots__ = ("affinity", "items", "request", "session")

    def __init__(
        self, request: ResponseRequest, items: list[dict[str, Any]], session: str | None, affinity: Affinity
    ) -> None:
        self.request, self.items, self.session, self.affinity = request, items, session, affinity


async def _parse(scope: Scope, body: dict[str, Any]) -> tuple[str, _Plan]:
    check_fields(scope, body, POLICY)
    model = resolve_model(scope, body.get("model"))
    ignored: list[str] = []
    store = _wants_store(scope, body, ignored)
    seal = _wants_encrypted_reasoning(scope, body.get("include") or [], ignored)
    tools = tool_set(body.get("tools"), body.get("tool_choice"), ignored)
    previous = body.get("previous_response_id")
    prior = await stored_context(scope, previous) if previous else Conversation([], None)
    value, referenced_session = (
        await referenced_items(scope, body["input"]) if isinstance(body["input"], list) else (body["input"], None)
    )
    messages = input_messages(
        value, body.get("instructions"), context=prior.items, open_reasoning=opener_for(scope), ignored=ignored
    )
    items = input_record(value) if store else []
    if store:
        check_storable(scope, items)
    client_cap = max_tokens_of(body, "max_output_tokens")
    sampling = sampling_inputs(body, client_cap)
    inputs = _upstream_inputs(body, messages, tools, sampling.inputs)
    response_id = new_response_id(store)
    # The session a conversation keeps (for prefix-cache affinity): its first stored response's id.
    session = prior.session or referenced_session or (response_id if store else None)
    if ignored:
        context_of(scope).note_ignored(ignored)
    request = ResponseRequest(
        body=body,
        inputs=inputs,
        model_name=body["model"],
        max_tokens=fit_default_cap(inputs, client_cap, "max_output_tokens"),
        tools=tools,
        recover_tools=bool(tools.functions) and tools.choice != "none",
        parallel_tool_calls=body.get("parallel_tool_calls", True) is not False,
        id=response_id,
        store=store,
        seal=sealer_for(scope) if seal else None,
    )
    return model, _Plan(request, items, session, Affinity(body.get("prompt_cache_key"), session))


async def _save(scope: Scope, builder: ResponseBuilder, plan: _Plan) -> None:
    if plan.request.store:
        previous = plan.request.body.get("previous_response_id")
        builder.stored = await save_response(scope, builder.snapshot(), plan.items, previous, plan.session)


async def responses(scope: Scope, receive: Receive, send: Send) -> None:
    body = await read_request(scope, receive)
    model, plan = await _parse(scope, body)
    builder = ResponseBuilder(plan.request)
    if body.get("stream"):
        deltas = await ask_streamed(scope, model, plan.request.inputs, plan.affinity)
        plan.request.model_name = answered_name(scope, plan.request.model_name, model)
        await stream_events(scope, receive, send, _events(scope, builder, deltas, plan), builder.failed)
        return
    completion = await ask_whole(scope, model, plan.request.inputs, plan.affinity)
    plan.request.model_name = answered_name(scope, plan.request.model_name, model)
    builder.feed(completion.as_delta())
    builder.finish()
    await _save(scope, builder, plan)
    await send_json(send, 200, builder.snapshot())


async def _events(
    scope: Scope, builder: ResponseBuilder, deltas: AsyncGenerator[Delta, None], plan: _Plan
) -> AsyncIterator[bytes]:
    yield builder.start()
    try:
        async for delta in deltas:
            out = builder.feed(delta)
            if out:
                yield out
    finally:
        await deltas.aclose()  # closes the upstream at once when the client leaves
    items_done = builder.finish()
    await _save(scope, builder, plan)  # before the last event: the response is referable once it is sent
    yield items_done + builder.final_event()
