"""`POST /v1/completions`: OpenAI's legacy Completions, on Workers AI's prompt form."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from .._asgi.context import context_of
from .._asgi.http import Receive, Scope, Send, send_json
from .._asgi.schema import AnyOf, Array, Bool, Integer, Obj, Spec, Str
from .._asgi.sse import DONE, encode_event, stream_events
from .._catalog import CONTEXT_WINDOW
from .._envelopes import openai_error_event
from .._params import FieldPolicy, check_fields
from .._upstream.answers import Delta, ask_streamed, ask_whole
from .._upstream.backend import Usage
from .._upstream.fallback import answered_name
from .._upstream.finish import FinishState
from .._upstream.leaked_calls import HeldCall, recover_calls
from .models import resolve_model
from .request import (
    SAMPLING,
    STOP,
    fit_default_cap,
    max_tokens_of,
    read_request,
    sampling_inputs,
    stop_sequences,
    token_usage,
)

__all__ = ["FIELDS", "IGNORED", "POLICY", "REFUSED", "REQUIRED", "completions"]

FIELDS: dict[str, Spec] = {
    "model": Str(min_length=1),
    "prompt": AnyOf((Str(min_length=1), Array(Str(min_length=1), min_items=1, max_items=1))),
    "max_tokens": Integer(1, CONTEXT_WINDOW),
    "stop": STOP,
    "stream": Bool(),
    "stream_options": Obj({"include_usage": Bool(), "include_obfuscation": Bool()}),
    "echo": Bool(),
    "user": Str(),
    **SAMPLING,
}

IGNORED = {
    "metadata": "tags, not used by Workers AI",
    "service_tier": "Workers AI has one service tier",
}

REFUSED = {
    "n": "it returns one choice; send n=1 or leave it out.",
    "best_of": "it generates one completion; send best_of=1 or leave it out.",
    "logprobs": "Workers AI does not return log probabilities.",
    "logit_bias": "Workers AI's gpt-oss does not take logit_bias.",
    "suffix": "gpt-oss does not do insertion (suffix) completions.",
}

REQUIRED = {
    "model": 'the model\'s name, e.g. "gpt-oss-120b"',
    "prompt": "a string, or a list of one string",
}

POLICY = FieldPolicy(FIELDS, IGNORED, REFUSED, REQUIRED)


class _CompletionRequest:
    __slots__ = ("created", "echo", "id", "include_usage", "max_tokens", "model_name", "prompt", "stops")

    def __init__(
        self, model_name: str, prompt: str, echo: bool, max_tokens: int, include_usage: bool, stops: tuple[str, ...]
    ) -> None:
        self.model_name, self.prompt, self.echo, self.max_tokens = model_name, prompt, echo, max_tokens
        self.include_usage, self.stops = include_usage, stops
        self.id = "cmpl-" + os.urandom(16).hex()
        self.created = int(time.time())

    def choice(self, text: str, finish: str | None) -> dict[str, Any]:
        return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}

    def envelope(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": self.model_name,
            "choices": choices,
            **extra,
        }


async def completions(scope: Scope, receive: Receive, send: Send) -> None:
    body = await read_request(scope, receive)
    check_fields(scope, body, POLICY)
    model = resolve_model(scope, body.get("model"))
    stream = bool(body.get("stream"))
    if body.get("stream_options") is not None and not stream:
        # OpenAI refuses it; it asks nothing of an answer that is not streamed, so it is reported instead.
        context_of(scope).note_ignored(["stream_options"])
    prompt = body["prompt"] if isinstance(body["prompt"], str) else body["prompt"][0]
    client_cap = max_tokens_of(body, "max_tokens")
    inputs = {"prompt": prompt, **sampling_inputs(body, client_cap).inputs}
    request = _CompletionRequest(
        body["model"],
        prompt,
        bool(body.get("echo")),
        fit_default_cap(inputs, client_cap, "max_tokens"),
        bool((body.get("stream_options") or {}).get("include_usage")),
        stop_sequences(body.get("stop")),
    )
    if stream:
        deltas = await ask_streamed(scope, model, inputs)
        request.model_name = answered_name(scope, request.model_name, model)
        await stream_events(scope, receive, send, _stream(request, deltas), openai_error_event)
        return
    answer = await ask_whole(scope, model, inputs)
    request.model_name = answered_name(scope, request.model_name, model)
    finish = FinishState(request.stops, request.max_tokens)
    text = finish.cut(recover_calls(answer.content, set(), request.id)[1])  # no control token reaches the text
    reason = finish.reason(answer.finish_reason, False, answer.usage)
    choice = request.choice((prompt if request.echo else "") + text, reason)
    await send_json(send, 200, request.envelope([choice], usage=token_usage(answer.usage)))


async def _stream(request: _CompletionRequest, deltas: AsyncGenerator[Delta, None]) -> AsyncIterator[bytes]:
    finish = FinishState(request.stops, request.max_tokens)
    usage = Usage()
    upstream_finish = None
    extra = {"usage": None} if request.include_usage else {}
    if request.echo:
        yield encode_event(request.envelope([request.choice(request.prompt, None)], **extra))
    held = HeldCall(set(), request.id, enabled=False)  # holds only the chat format's control tokens
    try:
        async for delta in deltas:
            usage, upstream_finish = delta.usage or usage, delta.finish_reason or upstream_finish
            text = finish.feed(held.hold(delta.content, at_start=False))
            if text:
                yield encode_event(request.envelope([request.choice(text, None)], **extra))
    finally:
        await deltas.aclose()  # closes the upstream at once when the client leaves
    tail = finish.feed(held.release(may_be_calls=False)[1]) + finish.flush()
    reason = finish.reason(upstream_finish, False, usage)
    yield encode_event(request.envelope([request.choice(tail, reason)], **extra))
    if request.include_usage:
        yield encode_event(request.envelope([], usage=token_usage(usage)))
    yield DONE
