"""`POST /v1/messages` (Claude Code adds `?beta=true`) and `POST /v1/messages/count_tokens`.

A request becomes Workers AI's messages form, through the same model call as every route. A
streamed answer keeps the client informed while the model is quiet: when it has not started
within `STREAM_PING_S`, the stream opens with `message_start` and Anthropic's `ping` events until
it does (a failure after that is an `error` event; one before it keeps its HTTP status), and a
stream silent that long later on (thinking not shown, say) gets a `ping` too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from .._asgi.context import context_of
from .._asgi.http import Receive, Scope, Send, read_json_object, send_json
from .._asgi.sse import stream_events
from .._config import settings_of
from .._upstream.answers import Delta, ask_streamed, ask_whole
from .._upstream.call import check_key_scope
from .._upstream.fallback import answered_name
from .message_builder import PING, MessageBuilder
from .request import estimate_tokens, parse_count_request, parse_messages_request

__all__ = ["count_tokens", "messages"]

_ENDED = object()


async def messages(scope: Scope, receive: Receive, send: Send) -> None:
    body = await read_json_object(scope, receive)
    logged = settings_of(scope).log_prompts
    if logged:
        context_of(scope).extra["request_body"] = body
    request = parse_messages_request(scope, body)
    builder = MessageBuilder(request)
    if not request.stream:
        completion = await ask_whole(scope, request.model, request.inputs, request.affinity)
        request.model_name = answered_name(scope, request.model_name, request.model)
        builder.feed(completion.as_delta())
        builder.close()
        message = builder.snapshot()
        if logged:
            context_of(scope).extra["result"] = message
        await send_json(send, 200, message)
        return
    interval = settings_of(scope).stream_ping_s
    call = asyncio.ensure_future(ask_streamed(scope, request.model, request.inputs, request.affinity))
    try:
        await asyncio.wait({call}, timeout=interval)
        if call.done():
            call.result()  # a failure this early keeps its own status (a 429 is retried as a 429)
            # Known before `message_start`: the model that answered (the fallback's, when it did).
            # A stream opened by pings before then names the one asked for; its log line, usage
            # data point and price still name the one that answered.
            request.model_name = answered_name(scope, request.model_name, request.model)
        await stream_events(scope, receive, send, _events(builder, call, interval), builder.failed)
    finally:
        await _abandon(call)  # when the client left before the stream was read (else a no-op)


async def count_tokens(scope: Scope, receive: Receive, send: Send) -> None:
    """An estimate: see `estimate_tokens`. No model call, so nothing is charged."""
    model, inputs = parse_count_request(scope, await read_json_object(scope, receive))
    context_of(scope).model = model
    check_key_scope(scope, model)
    await send_json(send, 200, {"input_tokens": estimate_tokens(inputs)})


async def _events(
    builder: MessageBuilder, call: asyncio.Future[AsyncGenerator[Delta, None]], interval: float
) -> AsyncIterator[bytes]:
    yield builder.start()
    while not call.done():
        yield PING
        await asyncio.wait({call}, timeout=interval)
    beats = _with_pings(call.result(), interval)
    try:
        async for delta in beats:
            out = PING if delta is None else builder.feed(delta)
            if out:
                yield out
    finally:
        await beats.aclose()
    yield builder.close()


async def _with_pings(deltas: AsyncIterator[Delta], interval: float) -> AsyncGenerator[Delta | None, None]:
    """The deltas, with None each time `interval` passes without one. Waiting never cancels the
    upstream read; closing this closes `deltas`, which does."""
    iterator = deltas.__aiter__()
    step: asyncio.Future[Any] | None = None
    try:
        while True:
            if step is None:
                step = asyncio.ensure_future(_next(iterator))
            await asyncio.wait({step}, timeout=interval)
            if not step.done():
                yield None
                continue
            item, step = step.result(), None
            if item is _ENDED:
                return
            yield item
    finally:
        if step is not None:
            step.cancel()
            await asyncio.gather(step, return_exceptions=True)
        await _close(deltas)


async def _next(iterator: AsyncIterator[Delta]) -> Any:
    try:
        return await iterator.__anext__()
    except StopAsyncIteration:
        return _ENDED


async def _abandon(call: asyncio.Future[AsyncGenerator[Delta, None]]) -> None:
    """Stop a model call nobody will read: cancel it, or close the stream it already opened."""
    if not call.done():
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
    elif not call.cancelled() and call.exception() is None:
        await _close(call.result())


async def _close(deltas: AsyncIterator[Delta]) -> None:
    close = getattr(deltas, "aclose", None)
    if close is not None:
        await close()
