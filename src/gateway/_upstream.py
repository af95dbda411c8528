"""The AI backend interface, and the one place that calls it: retries, timeouts, error mapping.

A backend's `run(model, inputs, options)` answers like `env.AI.run`: a dict when the upstream
answered JSON, or a `ByteStream` of SSE bytes. Failures raise `WorkersAIError` (or another
`UpstreamError`), whatever the backend.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator
from typing import Any, Protocol, runtime_checkable

from ._errors import ServiceUnavailable, UpstreamError, UpstreamTimeout, WorkersAIError
from ._record import FrozenRecord

__all__ = ["Backend", "ByteStream", "CallPolicy", "UpstreamResult", "call_upstream"]


@runtime_checkable
class ByteStream(Protocol):
    """An upstream body read chunk by chunk; `aclose()` cancels the upstream read."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def aclose(self) -> None: ...


UpstreamResult = dict[str, Any] | ByteStream


class Backend(Protocol):
    name: str

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult: ...


class CallPolicy(FrozenRecord):
    __slots__ = ("capacity_retries", "retry_base_s", "timeout_s")
    timeout_s: float
    capacity_retries: int
    retry_base_s: float

    def __init__(self, timeout_s: float, capacity_retries: int, retry_base_s: float) -> None:
        self._init(timeout_s=timeout_s, capacity_retries=capacity_retries, retry_base_s=retry_base_s)


async def call_upstream(
    backend: Backend, model: str, inputs: dict[str, Any], options: dict[str, Any], policy: CallPolicy
) -> UpstreamResult:
    """Call the backend; retry capacity errors with bounded backoff; cut a hang at the timeout.

    Retrying is safe only here, before the first byte reaches the client.
    """
    deadline = time.monotonic() + policy.timeout_s
    attempt = 0
    while True:
        try:
            return await _attempt(backend, model, inputs, options, deadline - time.monotonic())
        except WorkersAIError as exc:
            delay = policy.retry_base_s * (2**attempt) * (0.5 + os.urandom(1)[0] / 510)  # jitter: 0.5-1x
            if not exc.retryable:
                raise
            if attempt >= policy.capacity_retries or time.monotonic() + delay >= deadline:
                raise _capacity_exhausted(exc, attempt + 1) from exc
            attempt += 1
            await asyncio.sleep(delay)


async def _attempt(
    backend: Backend, model: str, inputs: dict[str, Any], options: dict[str, Any], budget_s: float
) -> UpstreamResult:
    if budget_s <= 0:
        raise UpstreamTimeout("The model upstream did not answer in time.")
    try:
        return await asyncio.wait_for(_answer(backend, model, inputs, options), budget_s)
    except TimeoutError:
        raise UpstreamTimeout(
            f"The model upstream did not answer within {budget_s:.3g} s. Try again, or lower max_tokens."
        ) from None
    except UpstreamError:
        raise
    except Exception as exc:  # a backend bug or transport failure: name it, never a bare 500
        raise UpstreamError(f"The model upstream failed: {type(exc).__name__}: {exc}") from exc


async def _answer(backend: Backend, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
    result = await backend.run(model, inputs, options)
    # The dict test first: a runtime-checkable Protocol's isinstance is slow, and most answers are dicts.
    if isinstance(result, dict) or not isinstance(result, ByteStream):
        return result
    try:
        return await _settle(result)
    except BaseException:
        await result.aclose()
        raise


async def _settle(stream: ByteStream) -> UpstreamResult:
    """Wait for the first bytes, and tell an event stream from a JSON body.

    The binding hands back the raw body of every streaming request, whatever its content type,
    so a JSON answer to a stream request (the REST path's quirk) arrives as a stream of JSON.
    """
    chunks = stream.__aiter__()
    head = b""
    while not head.strip():
        try:
            head += await chunks.__anext__()
        except StopAsyncIteration:
            break
    if not head.lstrip().startswith(b"{"):
        return _Replayed(head, chunks, stream)
    body = head + b"".join([chunk async for chunk in chunks])
    await stream.aclose()
    try:
        parsed = json.loads(body)
    except ValueError:
        raise UpstreamError(
            "The model upstream answered a stream request with a body that is neither SSE nor JSON."
        ) from None
    if not isinstance(parsed, dict):
        raise UpstreamError("The model upstream answered a stream request with JSON that is not an object.")
    return parsed


class _Replayed:
    """A stream whose first bytes were already read: they come first, then the rest."""

    def __init__(self, head: bytes, rest: AsyncIterator[bytes], source: ByteStream) -> None:
        self._head, self._rest, self._source = head, rest, source

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        if self._head:
            yield self._head
        async for chunk in self._rest:
            yield chunk

    async def aclose(self) -> None:
        await self._source.aclose()


def _capacity_exhausted(exc: WorkersAIError, attempts: int) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"Workers AI is out of capacity for this model (error 3040) after {attempts} attempt"
        f"{'s' if attempts > 1 else ''}. Retry after the time in the Retry-After header.",
        code="3040",
        retry_after=2.0,
    )
