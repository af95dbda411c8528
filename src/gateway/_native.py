"""`POST /ai/run/{model}`: Workers AI's REST API, as a drop-in (same bodies, same envelope)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from ._errors import ModelNotServed, UpstreamError
from ._forms import Form, validate_native
from ._http import Receive, RequestContext, Scope, Send, context_of, read_json_object, send_json
from ._render import native_error_event
from ._sse import json_as_events, relay_events, stream_events
from ._state import backend_of, settings_of
from ._upstream import ByteStream, CallPolicy, UpstreamResult, call_upstream

__all__ = ["policy_for", "run_native", "timed_call"]


def policy_for(scope: Scope) -> CallPolicy:
    settings = settings_of(scope)
    return CallPolicy(settings.upstream_timeout_s, settings.capacity_retries, settings.retry_base_s)


def allowed_model(scope: Scope, model: str) -> str:
    models = settings_of(scope).models
    if model not in models:
        raise ModelNotServed(f"Model {model!r} is not served here. Allowed: {', '.join(models)}.", param="model")
    return model


async def timed_call(scope: Scope, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
    context = context_of(scope)
    started = time.perf_counter()
    try:
        return await call_upstream(backend_of(scope), model, inputs, options, policy_for(scope))
    finally:
        context.upstream_ms = (time.perf_counter() - started) * 1000


def _options(scope: Scope, form: Form) -> dict[str, Any]:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    queued = query.get("queueRequest", ["false"])[-1].lower() == "true"
    return {"queueRequest": True} if form == "batch" or queued else {}


def _upstream_inputs(body: dict[str, Any], form: Form) -> dict[str, Any]:
    # Workers AI documents the Responses form as non-streaming for gpt-oss, and with `stream` it
    # answers an empty stream. Ask for the whole answer instead and stream that to the client.
    if form == "responses" and body.get("stream"):
        return {key: value for key, value in body.items() if key != "stream"}
    return body


async def run_native(scope: Scope, receive: Receive, send: Send) -> None:
    model = allowed_model(scope, scope["path_params"]["model"])
    context = context_of(scope)
    context.model = model
    body = await read_json_object(scope, receive)
    form = validate_native(body)
    context.extra["form"] = form
    if settings_of(scope).log_prompts:
        context.extra["request_body"] = body
    result = await timed_call(scope, model, _upstream_inputs(body, form), _options(scope, form))
    if body.get("stream") is True:
        await stream_events(
            scope, receive, send, _events(result, context, settings_of(scope).stream_idle_timeout_s), native_error_event
        )
        return
    if isinstance(result, ByteStream):
        await result.aclose()
        raise UpstreamError("The model upstream answered a stream to a request that did not ask for one.")
    context.record_usage(result.get("usage"))
    if settings_of(scope).log_prompts:
        context.extra["result"] = result
    await send_json(send, 200, {"result": result, "success": True, "errors": [], "messages": []})


def _events(result: UpstreamResult, context: RequestContext, idle_timeout_s: float) -> AsyncIterator[bytes]:
    if isinstance(result, ByteStream):
        return relay_events(result, context, idle_timeout_s)
    context.record_usage(result.get("usage"))
    return json_as_events(result)
