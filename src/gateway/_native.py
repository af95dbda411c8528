"""`POST /ai/run/{model}`: Workers AI's REST API, as a drop-in (same bodies, same envelope)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from ._calls import allowed_model, call_model
from ._errors import UpstreamError
from ._forms import Form, validate_native
from ._http import Receive, RequestContext, Scope, Send, context_of, read_json_object, send_json
from ._render import native_error_event
from ._sse import json_as_events, relay_events, stream_events
from ._state import settings_of
from ._upstream import UpstreamResult

__all__ = ["run_native"]


def _options(scope: Scope, form: Form) -> dict[str, Any]:
    raw = scope.get("query_string", b"")
    query = parse_qs(raw.decode("latin-1")) if raw else {}
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
    body = await read_json_object(scope, receive)
    form = validate_native(body)
    context.extra["form"] = form
    if settings_of(scope).log_prompts:
        context.extra["request_body"] = body
    result = await call_model(scope, model, _upstream_inputs(body, form), _options(scope, form))
    if body.get("stream") is True:
        await stream_events(
            scope, receive, send, _events(result, context, settings_of(scope).stream_idle_timeout_s), native_error_event
        )
        return
    if not isinstance(result, dict):
        await result.aclose()
        raise UpstreamError("The model upstream answered a stream to a request that did not ask for one.")
    context.record_usage(result.get("usage"))
    if settings_of(scope).log_prompts:
        context.extra["result"] = result
    await send_json(send, 200, {"result": result, "success": True, "errors": [], "messages": []})


def _events(result: UpstreamResult, context: RequestContext, idle_timeout_s: float) -> AsyncIterator[bytes]:
    if not isinstance(result, dict):
        return relay_events(result, context, idle_timeout_s)
    context.record_usage(result.get("usage"))
    return json_as_events(result)
