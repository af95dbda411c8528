"""`POST /ai/run/{model}`: Workers AI's REST API, as a drop-in (same bodies, same envelope)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

from .._asgi.context import RequestContext, context_of
from .._asgi.http import Receive, Scope, Send, read_json_object, send_json
from .._asgi.sse import DONE, encode_event, stream_events
from .._config import settings_of
from .._envelopes import native_error_event
from .._errors import UpstreamError
from .._upstream.backend import UpstreamResult, record_usage
from .._upstream.call import allowed_model, call_model, relay_events
from .forms import Form, validate_native

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
    checked = validate_native(body)
    form = checked.form
    context.extra["form"] = form
    if checked.unknown:
        context.note_passed(checked.unknown)
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
    record_usage(context, result.get("usage"))
    if settings_of(scope).log_prompts:
        context.extra["result"] = result
    await send_json(send, 200, {"result": result, "success": True, "errors": [], "messages": []})


def _events(result: UpstreamResult, context: RequestContext, idle_timeout_s: float) -> AsyncIterator[bytes]:
    if not isinstance(result, dict):
        return relay_events(result, context, idle_timeout_s)
    record_usage(context, result.get("usage"))
    return _json_as_events(result)


async def _json_as_events(result: dict[str, Any]) -> AsyncIterator[bytes]:
    """A whole JSON answer, as the event stream the client asked for (same shapes as streaming)."""
    for event in _event_payloads(result):
        yield encode_event(event)
    yield DONE


def _event_payloads(result: dict[str, Any]) -> list[dict[str, Any]]:
    if result.get("object") == "chat.completion":
        return [_completion_as_chunk(result)]
    if isinstance(result.get("response"), str):
        head = {"response": result["response"]}
        if result.get("tool_calls"):
            head["tool_calls"] = result["tool_calls"]
        return [head, {"response": "", "usage": result.get("usage")}]
    return [result]


def _completion_as_chunk(result: dict[str, Any]) -> dict[str, Any]:
    choices = []
    for choice in result.get("choices") or []:
        message = dict(choice.get("message") or {})
        if message.get("tool_calls"):
            message["tool_calls"] = [{"index": i, **call} for i, call in enumerate(message["tool_calls"])]
        delta = {key: value for key, value in message.items() if value not in (None, [])}
        choices.append({"index": choice.get("index", 0), "delta": delta, "finish_reason": choice.get("finish_reason")})
    chunk: dict[str, Any] = {key: result[key] for key in ("id", "created", "model") if key in result}
    return {**chunk, "object": "chat.completion.chunk", "choices": choices, "usage": result.get("usage")}
