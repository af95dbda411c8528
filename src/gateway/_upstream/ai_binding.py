"""The Worker's `env.AI` binding as a backend. Runs only under Pyodide; `js` is imported lazily.

Values cross the JS boundary as JSON, both ways. Since workers-runtime-sdk 1.5 the SDK wraps the
binding and converts arguments and results itself, generically (older SDKs hand JS a proxy of a
dict, and a list of dicts breaks when the binding serialises it). Inputs and answers of Workers AI
are JSON anyway, so the gateway calls the binding's JS object (which the SDK's public
`python_to_rpc` gives for a wrapped binding) with `JSON.parse` of its inputs and reads answers
with `JSON.stringify`: exact (None is null), right under every SDK, and measured faster in
Pyodide than the generic conversion.

With AI Gateway in the options, the call asks for the raw `Response` (`returnRawResponse`), the
one place its `cf-aig-log-id` and `cf-aig-cache-status` headers belong to this call: the
binding's own `aiGatewayLogId` property is whichever call of the isolate finished last. The
answer is then read as the binding would: an error status as `"<code>: <description>"`, JSON as
an object, anything else as the body's stream.
"""

from __future__ import annotations

import json
from typing import Any

from .._errors import GatewayError, UpstreamError, parse_workers_ai_error
from .._js import to_js_object
from .backend import BackendAnswer, UpstreamResult, WithHeaders
from .run_options import GATEWAY_ANSWER_HEADERS

__all__ = ["BindingBackend", "JsByteStream"]


class JsByteStream:
    """A JS ReadableStream of bytes, read with its own reader so that closing cancels it."""

    def __init__(self, stream: Any) -> None:
        self._reader = stream.getReader()
        self._finished = False

    def __aiter__(self) -> JsByteStream:
        return self

    async def __anext__(self) -> bytes:
        if self._finished:
            raise StopAsyncIteration
        chunk = await self._reader.read()
        if chunk.done:
            self._finished = True
            raise StopAsyncIteration
        value = chunk.value
        if isinstance(value, str):
            return value.encode()
        return bytes(value.to_bytes())

    async def aclose(self) -> None:
        if self._finished:
            return
        self._finished = True
        try:
            await self._reader.cancel()
        except Exception:
            return  # the stream already failed; cancelling it has nothing left to stop


def _from_js(result: Any) -> UpstreamResult:
    if isinstance(result, dict):
        return result
    if hasattr(result, "getReader"):
        return JsByteStream(result)
    from js import JSON

    converted = json.loads(JSON.stringify(result)) if hasattr(result, "to_py") else result
    if isinstance(converted, dict):
        return converted
    raise UpstreamError(f"The AI binding answered {type(converted).__name__}, not an object or a stream.")


def _js_binding(ai: Any) -> Any:
    """The binding's own JS object: the SDK's wrapper converts values generically, and slower."""
    try:
        from workers import python_to_rpc
    except ImportError:  # an SDK from before the wrappers: the binding is the JS object already
        return ai
    return python_to_rpc(ai) if ai is not None else ai


class BindingBackend:
    name = "binding"

    def __init__(self, ai: Any) -> None:
        self._ai = _js_binding(ai)

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> BackendAnswer:
        if options.get("gateway"):
            return await self._run_raw(model, inputs, {**options, "returnRawResponse": True})
        # Options are usually empty; leaving them out saves a conversion across the JS boundary.
        arguments = (model, to_js_object(inputs), to_js_object(options)) if options else (model, to_js_object(inputs))
        try:
            result = await self._ai.run(*arguments)
        except Exception as exc:
            raise _binding_error(str(exc)) from None
        return _from_js(result)

    async def _run_raw(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> WithHeaders:
        try:
            response = await self._ai.run(model, to_js_object(inputs), to_js_object(options))
        except Exception as exc:
            raise _binding_error(str(exc)) from None
        heard = {name: str(value) for name in GATEWAY_ANSWER_HEADERS if (value := response.headers.get(name))}
        if not response.ok or response.body is None:
            error = _binding_error(_error_text(await response.text()))
            error.headers.update(heard)
            raise error
        content_type = str(response.headers.get("content-type") or "")
        if content_type.split(";")[0].strip() == "application/json":
            return WithHeaders(_json_object(await response.text()), heard)
        return WithHeaders(JsByteStream(response.body), heard)


def _binding_error(message: str) -> GatewayError:
    parsed = parse_workers_ai_error(message)
    return parsed if parsed is not None else UpstreamError(f"The AI binding failed: {message}")


def _error_text(body: str) -> str:
    """An error body as the binding words it: `"<code>: <description>"` when it says one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    if isinstance(parsed, dict) and parsed.get("internalCode"):
        return f"{parsed['internalCode']}: {parsed.get('description', '')}"
    errors = parsed.get("errors") if isinstance(parsed, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return f"{errors[0].get('code')}: {errors[0].get('message', '')}"
    return body


def _json_object(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text)
    except ValueError:
        raise UpstreamError("The AI binding answered JSON that does not parse.") from None
    if not isinstance(parsed, dict):
        raise UpstreamError(f"The AI binding answered {type(parsed).__name__}, not an object or a stream.")
    return parsed
