"""Builds a Messages `message` from the model's deltas, and the stream events that describe it.

The grammar is Anthropic's: `message_start`; per content block `content_block_start`, its
`content_block_delta`s (`thinking_delta` then `signature_delta`, `text_delta`, or
`input_json_delta`) and `content_block_stop`; then `message_delta` with the `stop_reason`,
`stop_sequence` and the usage, and `message_stop`. Blocks are sequential: one stops as the next
starts. A broken stream ends with an `error` event instead.

Usage: `input_tokens` is Workers AI's count less the cached tokens, which are reported apart as
`cache_read_input_tokens` (Anthropic counts them so); `message_start`, sent before any count is
known, carries the request's estimate, and `message_delta` the counts.
"""

from __future__ import annotations

import json
from typing import Any

from .._asgi.sse import encode_event
from .._digest import sha256
from .._envelopes import anthropic_error_event
from .._errors import GatewayError
from .._upstream.answers import DeltaReader
from .._upstream.backend import Usage
from .._upstream.finish import FinishState
from .._upstream.leaked_calls import HeldCall, call_id
from .request import MessagesRequest

__all__ = ["PING", "MessageBuilder"]

PING = encode_event({"type": "ping"}, event="ping")

_STOP_REASONS = {"tool_calls": "tool_use", "length": "max_tokens"}


class _Block:
    __slots__ = ("done", "id", "index", "kind", "name", "text")

    def __init__(self, kind: str, index: int, *, id: str = "", name: str = "") -> None:
        self.kind = kind  # "thinking" | "text" | "tool_use"
        self.index, self.id, self.name = index, id, name
        self.text = ""  # the thinking, the text, or the tool's input as JSON text
        self.done = False


def _signature(thinking: str) -> str:
    # Opaque to clients, as Anthropic's is; the thinking is not sent back to the model, so it only
    # needs to be stable for the same text.
    return "gw." + sha256(thinking.encode()).hexdigest()[:40]


def _tool_input(arguments: str) -> Any:
    """The call's input as an object. Arguments the model wrote as broken JSON are kept, under a
    name no tool expects, so the client's own checks reject the call and say why."""
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {"_invalid_json": arguments}
    return value if isinstance(value, dict) else {"_invalid_json": arguments}


class MessageBuilder(DeltaReader):
    def __init__(self, request: MessagesRequest) -> None:
        self.request = request
        self.blocks: list[_Block] = []
        self.calls: dict[int, _Block] = {}
        self.usage = Usage()
        self.upstream_finish: str | None = None
        self.finish = FinishState(request.stops, request.max_tokens)
        self.held = HeldCall(request.tools, request.id, enabled=request.recover_tools)
        self.texted = False  # text has been sent: later text cannot be a leaked tool call
        self.stop_reason: str | None = None

    # -- events -----------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> bytes:
        return encode_event({"type": kind, **fields}, event=kind)

    def start(self) -> bytes:
        return self._event("message_start", message=self.snapshot())

    def close(self) -> bytes:
        out = self._release_held() + self._text(self.finish.flush())
        if self.blocks:
            out += self._stop(self.blocks[-1])
        reason = self.finish.reason(self.upstream_finish, bool(self.calls), self.usage)
        self.stop_reason = _STOP_REASONS.get(reason, "stop_sequence" if self.finish.cutter.stopped else "end_turn")
        delta = {"stop_reason": self.stop_reason, "stop_sequence": self._stop_sequence()}
        out += self._event("message_delta", delta=delta, usage=self._usage())
        return out + self._event("message_stop")

    def failed(self, exc: GatewayError) -> bytes:
        """Ends a broken stream: Anthropic's `error` event, on which the SDK raises."""
        return anthropic_error_event(exc)

    # -- blocks -----------------------------------------------------------------------------

    def _current(self, kind: str) -> _Block | None:
        last = self.blocks[-1] if self.blocks else None
        return last if last is not None and last.kind == kind and not last.done else None

    def _open(self, kind: str, **fields: str) -> tuple[_Block, bytes]:
        out = self._stop(self.blocks[-1]) if self.blocks else b""
        block = _Block(kind, len(self.blocks), **fields)
        self.blocks.append(block)
        started = self._event("content_block_start", index=block.index, content_block=self._block(block, opening=True))
        return block, out + started

    def _stop(self, block: _Block) -> bytes:
        if block.done:
            return b""
        block.done = True
        out = b""
        if block.kind == "thinking":
            signature = {"type": "signature_delta", "signature": _signature(block.text)}
            out = self._event("content_block_delta", index=block.index, delta=signature)
        return out + self._event("content_block_stop", index=block.index)

    def _append(self, kind: str, text: str, delta: dict[str, Any] | None) -> bytes:
        block, out = self._current(kind), b""
        if block is None:
            block, out = self._open(kind)
        block.text += text
        if delta is None:
            return out
        return out + self._event("content_block_delta", index=block.index, delta=delta)

    def _reasoning(self, text: str) -> bytes:
        if self.request.thinking is None:
            return b""  # not asked for: the reasoning still happens and counts as output tokens
        shown = self.request.thinking == "shown"
        return self._append("thinking", text, {"type": "thinking_delta", "thinking": text} if shown else None)

    def _content(self, text: str) -> bytes:
        shown = self.held.hold(text, at_start=not self.texted and not self.calls)
        return self._text(self.finish.feed(shown)) if shown else b""

    def _text(self, text: str) -> bytes:
        if not text:
            return b""
        self.texted = True
        return self._append("text", text, {"type": "text_delta", "text": text})

    def _call(self, index: int, upstream_id: str | None, name: str | None, arguments: str) -> bytes:
        if index > 0 and not self.request.parallel_tool_calls:
            return b""
        block, out = self.calls.get(index), b""
        if block is None:
            block, out = self._open("tool_use", id=upstream_id or call_id(self.request.id, index), name=name or "")
            self.calls[index] = block
        if not arguments:
            return out
        block.text += arguments
        return out + self._event(
            "content_block_delta", index=block.index, delta={"type": "input_json_delta", "partial_json": arguments}
        )

    def _release_held(self) -> bytes:
        calls, text = self.held.release(may_be_calls=not self.calls)
        out = self._text(self.finish.feed(text)) if text else b""
        for index, call in enumerate(calls):
            out += self._call(index, call["id"], call["function"]["name"], call["function"]["arguments"])
        return out

    # -- objects ----------------------------------------------------------------------------

    def _block(self, block: _Block, *, opening: bool = False) -> dict[str, Any]:
        if block.kind == "tool_use":
            return {
                "type": "tool_use",
                "id": block.id,
                "name": block.name,
                "input": {} if opening else _tool_input(block.text),
            }
        if block.kind == "text":
            return {"type": "text", "text": "" if opening else block.text}
        shown = "" if opening or self.request.thinking == "omitted" else block.text
        return {"type": "thinking", "thinking": shown, "signature": "" if opening else _signature(block.text)}

    def _usage(self) -> dict[str, Any]:
        reported, cached = self.usage.input_tokens, self.usage.cached_tokens or 0
        usage: dict[str, Any] = {
            "input_tokens": self.request.input_estimate if reported is None else max(reported - cached, 0),
            "output_tokens": self.usage.output_tokens or 0,
        }
        if self.usage.cached_tokens is not None:
            usage["cache_creation_input_tokens"] = 0
            usage["cache_read_input_tokens"] = cached
        return usage

    def _stop_sequence(self) -> str | None:
        return self.finish.cutter.matched if self.stop_reason == "stop_sequence" else None

    def snapshot(self) -> dict[str, Any]:
        done = self.stop_reason is not None
        return {
            "id": self.request.id,
            "type": "message",
            "role": "assistant",
            "model": self.request.model_name,
            "content": [self._block(block) for block in self.blocks] if done else [],
            "stop_reason": self.stop_reason,
            "stop_sequence": self._stop_sequence(),
            "usage": self._usage() if done else {"input_tokens": self.request.input_estimate, "output_tokens": 0},
        }
