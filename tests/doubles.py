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
