"""The one place every route calls the model from (allow-list, key scope, budget, retries,
timeouts, fallback), and the one way its event streams are relayed.

Routes of every dialect go through `call_model`, so what must happen around each model call
(the model allow-list and the key's scope, the account's ceiling, token and dollar budgets, the
call's options, usage records, timing, retrying "out of capacity" and then falling back, cutting
a hang at the timeout, telling a JSON answer from a stream) has one home.
`relay_events` passes on a stream's whole events as they arrive, and raises when the stream is
not whole (broken, stalled, ended before `[DONE]`): it is never passed off as complete.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable
from typing import Any, TypeVar

from .._asgi.context import RequestContext, context_of
from .._asgi.http import CLIENT_GONE_KEY, ByteStream, Scope
from .._asgi.sse import EventFramer
from .._config import settings_of
from .._errors import (
    ClientDisconnected,
    Forbidden,
    GatewayError,
    ModelNotServed,
    Overloaded,
    UpstreamError,
    UpstreamTimeout,
    WorkersAIError,
)
from .._limits.analytics import record_usage_after
from .._limits.budget import reserve_tokens
from .._limits.ceiling import admit_to_account
from .._limits.guards import key_of
from .._valueclass import FrozenRecord
from .affinity import Affinity
from .backend import Backend, BackendAnswer, UpstreamResult, WithHeaders, backend_of, record_usage
from .context_window import check_context_window
from .fallback import fallback_for, note_served
from .run_options import note_gateway_answer, run_options

__all__ = [
    "CallPolicy",
    "allowed_model",
    "call_model",
    "call_upstream",
    "call_with_fallback",
    "check_key_scope",
    "policy_for",
    "relay_events",
]

_Answer = TypeVar("_Answer")


class CallPolicy(FrozenRecord):
    __slots__ = ("capacity_retries", "retry_base_s", "timeout_s")
    timeout_s: float
    capacity_retries: int
    retry_base_s: float

    def __init__(self, timeout_s: float, capacity_retries: int, retry_base_s: float) -> None:
        self._init(timeout_s=timeout_s, capacity_retries=capacity_retries, retry_base_s=retry_base_s)


async def call_upstream(
    backend: Backend, model: str, inputs: dict[str, Any], options: dict[str, Any], policy: CallPolicy
) -> BackendAnswer:
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
) -> BackendAnswer:
    if budget_s <= 0:
        raise UpstreamTimeout("The model upstream did not answer in time.")
    try:
        # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation (gh-86296).
        async with asyncio.timeout(budget_s):
            return await _answer(backend, model, inputs, options)
    except TimeoutError:
        raise UpstreamTimeout(
            f"The model upstream did not answer within {budget_s:.3g} s. Try again, or lower max_tokens."
        ) from None
    except GatewayError:  # already says what went wrong (an upstream error, an over-long request)
        raise
    except Exception as exc:  # a backend bug or transport failure: name it, never a bare 500
        raise UpstreamError(f"The model upstream failed: {type(exc).__name__}: {exc}") from exc


async def _answer(backend: Backend, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> BackendAnswer:
    answer = await backend.run(model, inputs, options)
    if isinstance(answer, WithHeaders):
        return WithHeaders(await _settled(answer.result), answer.headers)
    return await _settled(answer)


async def _settled(result: UpstreamResult) -> UpstreamResult:
    # The dict test first: a runtime-checkable Protocol's isinstance is slow, and most answers are dicts.
    if isinstance(result, dict):
        return result
    if not isinstance(result, ByteStream):
        raise UpstreamError(f"The model upstream answered JSON that is not an object (a {type(result).__name__}).")
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


async def call_with_fallback(
    backend: Backend,
    model: str,
    fallback: str | None,
    inputs: dict[str, Any],
    options: dict[str, Any],
    policy: CallPolicy,
) -> tuple[str, BackendAnswer]:
    """Call `model`; if it is still out of capacity after its retries, call `fallback` in the time left.

    Only here, before the first byte: a stream that fails later has been seen by the client.
    Returns the model that answered, and its answer.
    """
    started = time.monotonic()
    try:
        return model, await call_upstream(backend, model, inputs, options, policy)
    except GatewayError as exc:
        remaining_s = policy.timeout_s - (time.monotonic() - started)
        if fallback is None or exc.code != "3040" or remaining_s <= 0:
            raise
    rest = CallPolicy(remaining_s, policy.capacity_retries, policy.retry_base_s)
    try:
        return fallback, await call_upstream(backend, fallback, inputs, options, rest)
    except GatewayError as exc:
        if exc.code != "3040":
            raise
        raise Overloaded(
            f"Workers AI is out of capacity (error 3040) for {model} and for the fallback {fallback}. "
            "Retry after the time in the Retry-After header.",
            code="3040",
            retry_after=exc.retry_after,
            headers=exc.headers,
        ) from exc


def _capacity_exhausted(exc: WorkersAIError, attempts: int) -> Overloaded:
    return Overloaded(
        f"Workers AI is out of capacity for this model (error 3040) after {attempts} attempt"
        f"{'s' if attempts > 1 else ''}. Retry after the time in the Retry-After header.",
        code="3040",
        retry_after=2.0,
        headers=exc.headers,  # AI Gateway's log id of the last attempt, when there is one
    )


def policy_for(scope: Scope) -> CallPolicy:
    settings = settings_of(scope)
    return CallPolicy(settings.upstream_timeout_s, settings.capacity_retries, settings.retry_base_s)


def allowed_model(scope: Scope, model: str) -> str:
    models = settings_of(scope).models
    if model not in models:
        raise ModelNotServed(f"Model {model!r} is not served here. Allowed: {', '.join(models)}.", param="model")
    return model


def check_key_scope(scope: Scope, model: str) -> None:
    key = key_of(scope)
    if key is not None and key.models is not None and model not in key.models:
        raise Forbidden(
            f"This API key may use only {', '.join(key.models)}; it may not use {model!r}.",
            param="model",
            code="model_not_allowed_for_key",
        )


async def call_model(
    scope: Scope, model: str, inputs: dict[str, Any], options: dict[str, Any], affinity: Affinity | None = None
) -> UpstreamResult:
    """Call the model for this request. `options` are the route's own (`queueRequest`); `affinity`
    is what the route knows of the prefix-cache session; `run_options` adds the rest."""
    context = context_of(scope)
    context.model = model
    check_key_scope(scope, model)
    check_context_window(inputs)
    fallback = fallback_for(scope, model, inputs, options)
    options = run_options(scope, options, affinity)
    # Reserved before the call (at the dearer of the models that may answer), settled when the
    # request ends (a stream's end included).
    reservation = await reserve_tokens(scope, inputs, (model, fallback) if fallback else (model,))
    # The account's ceiling last: a request its key's own limits refuse never uses it up.
    try:
        await admit_to_account(scope)
    except BaseException:
        if reservation is not None:
            reservation.fail()
        raise
    record_usage_after(scope)
    started = time.perf_counter()
    try:
        call = call_with_fallback(backend_of(scope), model, fallback, inputs, options, policy_for(scope))
        gone = scope.get(CLIENT_GONE_KEY)
        served, answer = await (call if gone is None else _unless_client_leaves(call, gone))
    except BaseException as exc:
        if reservation is not None:
            reservation.fail()
        if isinstance(exc, GatewayError):
            note_gateway_answer(context, exc.headers, answered=False)  # its error answer carries them
        raise
    finally:
        context.upstream_ms = (time.perf_counter() - started) * 1000
    note_served(context, model, served)
    if isinstance(answer, WithHeaders):
        note_gateway_answer(context, answer.headers)
        return answer.result
    return answer


async def _unless_client_leaves(call: Awaitable[_Answer], gone: asyncio.Event) -> _Answer:
    """The call's answer, unless the client leaves first: then the call is cancelled at once
    (closing its upstream connection) rather than waited out until the upstream timeout."""
    task = asyncio.ensure_future(call)
    if gone.is_set():
        task.cancel()
    waiter = asyncio.ensure_future(gone.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        task.cancel()
        raise
    finally:
        waiter.cancel()
    if task.done() and not task.cancelled():
        return task.result()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    raise ClientDisconnected("The client went away before the model answered; the model call was cancelled.")


def _usage_in(events: bytes) -> Any:
    """The last `usage` object in these events, in any dialect's place for it."""
    found = None
    for line in events.splitlines():
        if not line.startswith(b"data:") or b'"usage"' not in line:
            continue
        try:
            data = json.loads(line[5:])
        except ValueError:
            continue
        if isinstance(data, dict):
            response = data.get("response")
            nested = response.get("usage") if isinstance(response, dict) else None
            found = data.get("usage") or nested or found
    return found


async def relay_events(
    upstream: ByteStream, context: RequestContext, idle_timeout_s: float
) -> AsyncGenerator[bytes, None]:
    """Yield the upstream's complete events as they arrive; raise if the stream is not whole."""
    framer = EventFramer()
    chunks = upstream.__aiter__()
    try:
        while True:
            try:
                # Not wait_for: on 3.11 it can swallow the cancellation of a client that left
                # (CPython gh-86296), and the relay would read its upstream to the end.
                async with asyncio.timeout(idle_timeout_s):
                    chunk = await chunks.__anext__()
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise UpstreamTimeout(f"The model upstream sent nothing for {idle_timeout_s:g} s mid-stream.") from None
            except GatewayError:
                raise
            except Exception as exc:
                raise UpstreamError(f"The model upstream stream failed: {exc}") from exc
            events = framer.feed(chunk)
            if events:
                if b'"usage"' in events:
                    record_usage(context, _usage_in(events))
                yield events
        if not framer.done:
            raise UpstreamError("The model upstream ended the stream before it was complete (no [DONE]).")
        if framer.pending.strip():
            yield framer.pending
    finally:
        await upstream.aclose()
