"""Backend doubles for tests that need an upstream answer the emulator does not give.

Each is injected into the app as its backend (as httpx's MockTransport is injected), never patched in.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from gateway._errors import WorkersAIError
from tests.model_schema import violations


class ScriptedStream:
    """An upstream byte stream: these chunks, `delay_s` apart; records being closed (cancelled)."""

    def __init__(self, chunks: list[bytes], delay_s: float = 0.0) -> None:
        self.chunks, self.delay_s, self.closed = chunks, delay_s, False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._run()

    async def _run(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            await asyncio.sleep(self.delay_s)
            yield chunk

    async def aclose(self) -> None:
        self.closed = True


class FixedBackend:
    """Answers every call with the same JSON, or with a stream of the same bytes."""

    name = "fixed"

    def __init__(self, answer: dict[str, Any] | bytes | ScriptedStream) -> None:
        self.answer = answer
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> Any:
        self.calls.append((model, inputs, options))
        if isinstance(self.answer, bytes):
            return ScriptedStream([self.answer])
        return self.answer


def sse(*events: dict[str, Any], done: bool = True) -> bytes:
    """Events as an upstream sends them, ending with `[DONE]` unless told otherwise."""
    body = b"".join(b"data: " + json.dumps(event).encode() + b"\n\n" for event in events)
    return body + (b"data: [DONE]\n\n" if done else b"")


class SchemaChecked:
    """Wraps any backend a test uses: every body it receives is checked against the model page's
    input schema. A violation is answered as Workers AI answers it (5006) and kept, and the
    `make_gateway` fixture fails the test on it, whatever the test itself expected."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.violations: list[str] = []

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> Any:
        found = violations(inputs)
        if found:
            self.violations.append(f"{found} in {inputs!r}")
            raise WorkersAIError(5006, f"Error: input validation failed: {found}")
        return await self.inner.run(model, inputs, options)


class RawResponse:
    """What `env.AI.run(..., {returnRawResponse: true})` resolves with, as Pyodide presents a JS
    Response: `status`, `ok`, `headers.get(name)` (None when absent), `text()`, `body`."""

    class _Headers:
        def __init__(self, values: dict[str, str]) -> None:
            self._values = {name.lower(): value for name, value in values.items()}

        def get(self, name: str) -> str | None:
            return self._values.get(name.lower())

    def __init__(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.status, self.ok, self._body = status, 200 <= status < 300, body
        self.headers = RawResponse._Headers(headers)
        self.body = object() if body else None  # a JS ReadableStream the JSON path never reads

    async def text(self) -> str:
        return self._body.decode()


class AiBinding:
    """The AI binding's JS object as `BindingBackend` calls it, under CPython: each call is recorded
    as it would cross into JS (model, inputs, options), and answered as workerd's `Ai.run` does:
    with `returnRawResponse`, the raw Response (error statuses included); without, the parsed JSON,
    or a rejection `"<code>: <description>"`. `aiGatewayLogId` is set after each call, as workerd does.
    """

    def __init__(self, *answers: tuple[int, dict[str, Any], dict[str, str]]) -> None:
        self.answers = list(answers)  # (status, JSON body, response headers), one per call
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        self.aiGatewayLogId: str | None = None

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any] | None = None) -> Any:
        self.calls.append((model, inputs, options))
        status, body, headers = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        self.aiGatewayLogId = headers.get("cf-aig-log-id")
        headers = {"content-type": "application/json", **headers}
        if options and options.get("returnRawResponse"):
            return RawResponse(status, json.dumps(body).encode(), headers)
        if status >= 400:
            raise RuntimeError(f"InferenceUpstreamError: {body['internalCode']}: {body['description']}")
        return body
