"""Builds a Responses object from the model's deltas, and the stream events that describe it.

The grammar is OpenAI's: `response.created`, `response.in_progress`; per output item
`response.output_item.added`, its content (`response.content_part.added`, then
`response.reasoning_text.delta` / `response.output_text.delta` / `response.function_call_arguments.delta`,
then their `.done` events and `response.content_part.done`), `response.output_item.done`; and one of
`response.completed`, `response.incomplete` (cut by max_output_tokens) or `response.failed`.
Every event carries `type` and a `sequence_number` counting from 0.

With `reasoning.summary`, a reasoning item also opens a summary part when it opens, and each
reasoning delta is sent twice, as `response.reasoning_text.delta` and as
`response.reasoning_summary_text.delta`: gpt-oss gives its reasoning, not a summary of it, so the
summary carries the reasoning, live, as clients that show only summaries (the Vercel AI SDK) read it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .._asgi.sse import encode_event
from .._errors import GatewayError
from .._upstream.answers import DeltaReader
from .._upstream.backend import Usage
from .._upstream.finish import FinishState, reasoning_tokens
from .._upstream.leaked_calls import HeldCall, call_id
from .response_tools import ToolSet

__all__ = ["ResponseBuilder", "ResponseRequest"]


def _echoed_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tools as a Response object lists them: OpenAI's spec requires `strict`, `description`
    and `parameters` on a function tool (each may be null), so they are always there."""
    defaults = {"description": None, "parameters": None, "strict": None}
    return [{**defaults, **tool} if tool.get("type") == "function" else tool for tool in tools]


class ResponseRequest:
    __slots__ = (
        "body",
        "created_at",
        "id",
        "inputs",
        "max_tokens",
        "model_name",
        "parallel_tool_calls",
        "recover_tools",
        "seal",
        "store",
        "tools",
    )

    def __init__(
        self,
        *,
        body: dict[str, Any],
        inputs: dict[str, Any],
        model_name: str,
        max_tokens: int,
        tools: ToolSet,
        recover_tools: bool,
        parallel_tool_calls: bool,
        id: str,
        store: bool = False,
        seal: Callable[[str], str] | None = None,
        created_at: int | None = None,
    ) -> None:
        self.body, self.inputs, self.model_name, self.max_tokens = body, inputs, model_name, max_tokens
        self.tools, self.recover_tools, self.parallel_tool_calls = tools, recover_tools, parallel_tool_calls
        self.id, self.store, self.seal = id, store, seal
        self.created_at = int(time.time()) if created_at is None else created_at


class _Item:
    __slots__ = ("call_id", "done", "id", "kind", "name", "output_index", "sealed", "text")

    def __init__(self, kind: str, id: str, output_index: int, *, name: str = "", call_id: str = "") -> None:
        self.kind = kind  # "reasoning" | "message" | "function_call"
        self.id, self.output_index, self.name, self.call_id = id, output_index, name, call_id
        self.text = ""
        self.done = False
        self.sealed: str | None = None  # the reasoning's encrypted_content, once the item is done


class ResponseBuilder(DeltaReader):
    def __init__(self, request: ResponseRequest) -> None:
        self.request = request
        self.items: list[_Item] = []
        self.calls: dict[int, _Item] = {}
        self.sequence = 0
        self.usage = Usage()
        self.upstream_finish: str | None = None
        self.finish_state = FinishState((), request.max_tokens)
        self.held = HeldCall(request.tools.names, request.id, enabled=request.recover_tools)
        self.status = "in_progress"
        self.error: dict[str, Any] | None = None
        self.stored = False  # set once the finished response has been stored

    # -- events -----------------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> bytes:
        event = encode_event({"type": kind, "sequence_number": self.sequence, **fields}, event=kind)
        self.sequence += 1
        return event

    def start(self) -> bytes:
        snapshot = self.snapshot()
        return self._event("response.created", response=snapshot) + self._event(
            "response.in_progress", response=snapshot
        )

    def finish(self) -> bytes:
        """End every item (their `.done` events) and settle the status; `final_event` follows."""
        out = self._release_held()
        for item in self.items:
            out += self._finish_item(item)
        reason = self.finish_state.reason(self.upstream_finish, bool(self.calls), self.usage)
        self.status = "incomplete" if reason == "length" else "completed"
        return out

    def final_event(self) -> bytes:
        kind = "response.incomplete" if self.status == "incomplete" else "response.completed"
        return self._event(kind, response=self.snapshot())

    def failed(self, exc: GatewayError) -> bytes:
        """Ends a broken stream: the response so far, marked failed, with the error."""
        self.status = "failed"
        self.error = {"code": exc.code or exc.type, "message": exc.message}
        return self._event("response.failed", response=self.snapshot())

    # -- items ------------------------------------------------------------------------------

    def _open(self, kind: str, prefix: str, *, call_id: str = "", name: str = "") -> tuple[_Item, bytes]:
        out = b""
        if self.items and kind != self.items[-1].kind:
            out += self._finish_item(self.items[-1])  # items are sequential: one ends as the next begins
        item = _Item(
            kind, f"{prefix}_{self.request.id[5:]}_{len(self.items)}", len(self.items), name=name, call_id=call_id
        )
        self.items.append(item)
        out += self._event("response.output_item.added", output_index=item.output_index, item=self._item(item))
        if kind in ("reasoning", "message"):
            out += self._event(
                "response.content_part.added",
                item_id=item.id,
                output_index=item.output_index,
                content_index=0,
                part=self._part(item, ""),
            )
        if kind == "reasoning" and self._summary_wanted():
            out += self._event(
                "response.reasoning_summary_part.added", **self._summary_at(item), part=self._summary_part("")
            )
        return item, out

    def _current(self, kind: str) -> _Item | None:
        return self.items[-1] if self.items and self.items[-1].kind == kind and not self.items[-1].done else None

    def _reasoning(self, text: str) -> bytes:
        out = self._append("reasoning", "rs", "response.reasoning_text.delta", text)
        if self._summary_wanted():
            out += self._event("response.reasoning_summary_text.delta", **self._summary_at(self.items[-1]), delta=text)
        return out

    def _content(self, text: str) -> bytes:
        shown = self.held.hold(text, at_start=self._current("message") is None)
        return self._text(shown) if shown else b""

    def _text(self, text: str) -> bytes:
        return self._append("message", "msg", "response.output_text.delta", text, logprobs=[])

    def _append(self, kind: str, prefix: str, event: str, text: str, **extra: Any) -> bytes:
        """Add text to the open item of this kind (opening one if needed), with its delta event."""
        item = self._current(kind)
        out = b""
        if item is None:
            item, out = self._open(kind, prefix)
        item.text += text
        return out + self._event(
            event, item_id=item.id, output_index=item.output_index, content_index=0, delta=text, **extra
        )

    def _call(self, index: int, upstream_id: str | None, name: str | None, arguments: str) -> bytes:
        if index > 0 and not self.request.parallel_tool_calls:
            return b""
        out = b""
        item = self.calls.get(index)
        if item is None:
            item, opened = self._open(
                "function_call", "fc", call_id=upstream_id or call_id(self.request.id, index), name=name or ""
            )
            self.calls[index] = item
            out += opened
        if arguments:
            item.text += arguments
            out += self._event(
                "response.function_call_arguments.delta",
                item_id=item.id,
                output_index=item.output_index,
                delta=arguments,
            )
        return out

    def _release_held(self) -> bytes:
        calls, text = self.held.release(may_be_calls=not self.calls)
        out = self._text(text) if text else b""
        for index, call in enumerate(calls):
            out += self._call(index, call["id"], call["function"]["name"], call["function"]["arguments"])
        return out

    def _finish_item(self, item: _Item) -> bytes:
        if item.done:
            return b""
        item.done = True
        where = {"item_id": item.id, "output_index": item.output_index}
        if item.kind == "function_call":
            name, _ = self.request.tools.call_of(item.name)
            out = self._event("response.function_call_arguments.done", **where, arguments=item.text, name=name)
        elif item.kind == "reasoning":
            out = self._event("response.reasoning_text.done", **where, content_index=0, text=item.text)
            out += self._event("response.content_part.done", **where, content_index=0, part=self._part(item))
            out += self._summary_events(item)
        else:
            out = self._event("response.output_text.done", **where, content_index=0, text=item.text, logprobs=[])
            out += self._event("response.content_part.done", **where, content_index=0, part=self._part(item))
        return out + self._event("response.output_item.done", output_index=item.output_index, item=self._item(item))

    def _summary_wanted(self) -> bool:
        return bool((self.request.body.get("reasoning") or {}).get("summary"))

    @staticmethod
    def _summary_at(item: _Item) -> dict[str, Any]:
        return {"item_id": item.id, "output_index": item.output_index, "summary_index": 0}

    @staticmethod
    def _summary_part(text: str) -> dict[str, Any]:
        return {"type": "summary_text", "text": text}

    def _summary_events(self, item: _Item) -> bytes:
        # gpt-oss gives its reasoning, not a summary of it: a requested summary carries the reasoning.
        if not self._summary_wanted():
            return b""
        where = self._summary_at(item)
        return self._event("response.reasoning_summary_text.done", **where, text=item.text) + self._event(
            "response.reasoning_summary_part.done", **where, part=self._summary_part(item.text)
        )

    # -- objects ----------------------------------------------------------------------------

    def _part(self, item: _Item, text: str | None = None) -> dict[str, Any]:
        text = item.text if text is None else text
        if item.kind == "reasoning":
            return {"type": "reasoning_text", "text": text}
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def _item(self, item: _Item) -> dict[str, Any]:
        status = "completed" if item.done else "in_progress"
        if item.kind == "function_call":
            name, namespace = self.request.tools.call_of(item.name)
            call = {
                "id": item.id,
                "type": "function_call",
                "status": status,
                "call_id": item.call_id,
                "name": name,
                "arguments": item.text if item.done else "",
            }
            return {**call, "namespace": namespace} if namespace else call
        if item.kind == "reasoning":
            summary = [self._summary_part(item.text)] if item.done and self._summary_wanted() else []
            reasoning = {
                "id": item.id,
                "type": "reasoning",
                "summary": summary,
                "content": [self._part(item)] if item.done else [],
                "status": status,
            }
            if item.done and self.request.seal is not None:
                item.sealed = item.sealed or self.request.seal(item.text)
                reasoning["encrypted_content"] = item.sealed
            return reasoning
        return {
            "id": item.id,
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": [self._part(item)] if item.done else [],
        }

    def _usage(self) -> dict[str, Any] | None:
        if self.status == "in_progress":
            return None
        prompt, completion = self.usage.input_tokens or 0, self.usage.output_tokens or 0
        reasoning = "".join(item.text for item in self.items if item.kind == "reasoning")
        visible = "".join(item.text for item in self.items if item.kind != "reasoning")
        return {
            "input_tokens": prompt,
            # OpenAI's spec requires both; Workers AI reports cache reads only, never writes.
            "input_tokens_details": {"cached_tokens": self.usage.cached_tokens or 0, "cache_write_tokens": 0},
            "output_tokens": completion,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens(self.usage, reasoning, visible)},
            "total_tokens": prompt + completion,
        }

    def snapshot(self) -> dict[str, Any]:
        body = self.request.body
        reasoning = body.get("reasoning") or {}
        done = self.status != "in_progress"
        return {
            "id": self.request.id,
            "object": "response",
            "created_at": self.request.created_at,
            "status": self.status,
            "error": self.error,
            "incomplete_details": {"reason": "max_output_tokens"} if self.status == "incomplete" else None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": self.request.model_name,
            "output": [self._item(item) for item in self.items] if done else [],
            "parallel_tool_calls": self.request.parallel_tool_calls,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "store": self.stored if done else self.request.store,
            "temperature": body.get("temperature"),
            "top_p": body.get("top_p"),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": _echoed_tools(body.get("tools") or []),
            "truncation": "disabled",
            "usage": self._usage(),
            "user": body.get("user"),
            "metadata": body.get("metadata") or {},
        }
