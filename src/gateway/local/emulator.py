"""An offline, deterministic stand-in for gpt-oss on Workers AI. It never pretends to be the model.

It answers every input form in Workers AI's shapes, including the known quirks (DESIGN.md):
the Responses form with `stream` yields an empty stream, and (when switched on) a stream request
can be answered with JSON. The same input always gives the same text, tool calls and usage; ids
are derived from the input, and only `created` follows the clock. The one exception is prefix
caching, as Workers AI does it: calls to one model with the same `x-session-affinity` header
(option `extraHeaders`) report the prompt tokens they share with the session's previous call, in
whole blocks of 16, as `usage.prompt_tokens_details.cached_tokens`.

Faults for tests come from `Faults` (or `EMULATOR_FAULTS`, e.g. `capacity=2,midstream=5`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, fields
from typing import Any

from .._catalog import WORKERS_AI_DEFAULT_MAX_TOKENS
from .._errors import InvalidRequest, WorkersAIError
from .._native.forms import validate_native
from .._upstream.affinity import AFFINITY_HEADER
from .._upstream.backend import UpstreamResult

__all__ = ["DEFAULT_TOKEN_DELAY_MS", "EmulatedStream", "Emulator", "Faults"]

# About 65 tokens a second: the pace gpt-oss-120b streams at on Workers AI, give or take.
DEFAULT_TOKEN_DELAY_MS = 15.0
_TOKEN = re.compile(r"\s*[\w']+|\s*[^\w\s]")
_MAX_JOBS = 1000
_MAX_SESSIONS = 1000
_CACHE_BLOCK = 16  # prefix caches hold whole blocks of tokens


@dataclass
class Faults:
    """Failures to inject. Counts are consumed call by call."""

    capacity: int = 0  # the next N calls fail with 3040 (out of capacity)
    error: int | None = None  # every call fails with this Workers AI code
    midstream: int | None = None  # streams break after this many events
    truncate: int | None = None  # streams end cleanly after this many events, without [DONE]
    slow_first_token_ms: float = 0.0  # delay before the first token (or before a JSON answer)
    hang: bool = False  # never answer at all
    json_to_stream: bool = False  # answer JSON to a stream request (the REST API's quirk)

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """Read `capacity=2,midstream=5,hang` (the EMULATOR_FAULTS variable)."""
        faults = cls()
        known = {f.name: f for f in fields(cls)}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, raw = item.partition("=")
            if name not in known:
                raise ValueError(f"EMULATOR_FAULTS: unknown fault {name!r}; known: {', '.join(known)}")
            current = getattr(faults, name)
            if isinstance(current, bool):
                setattr(faults, name, raw.lower() in ("", "1", "true", "yes", "on"))
            elif name == "slow_first_token_ms":
                setattr(faults, name, float(raw))
            else:
                setattr(faults, name, int(raw))
        return faults


@dataclass
class _Plan:
    """What the emulated model says: reasoning, then an answer or tool calls."""

    reasoning: list[str]
    answer: list[str]
    tool_calls: list[dict[str, Any]]
    input_tokens: int
    finish_reason: str
    cached_tokens: int = 0

    @property
    def output_tokens(self) -> int:
        return (
            len(self.reasoning)
            + len(self.answer)
            + sum(len(_tokens(c["function"]["arguments"])) for c in self.tool_calls)
        )

    def usage(self) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": self.input_tokens,
            "completion_tokens": self.output_tokens,
            "total_tokens": self.input_tokens + self.output_tokens,
        }
        if self.cached_tokens:
            usage["prompt_tokens_details"] = {"cached_tokens": self.cached_tokens}
        return usage


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _turns(inputs: dict[str, Any]) -> list[tuple[str, str]]:
    """(role, text) for every turn, across the three forms."""
    if "prompt" in inputs:
        return [("user", inputs["prompt"])]
    if "messages" in inputs:
        return [(m.get("role", "user"), _text_of(m.get("content"))) for m in inputs["messages"]]
    items = inputs.get("input")
    turns = [("system", inputs["instructions"])] if inputs.get("instructions") else []
    if isinstance(items, str):
        return [*turns, ("user", items)]
    for item in items or []:
        if not isinstance(item, dict):
            turns.append(("user", str(item)))
        elif item.get("type") == "function_call_output":
            turns.append(("tool", str(item.get("output", ""))))
        elif item.get("type") == "function_call":
            turns.append(("assistant", ""))
        else:
            turns.append((item.get("role", "user"), _text_of(item.get("content"))))
    return turns


def _tool_specs(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    specs = []
    tools = inputs.get("tools") if "messages" in inputs or "input" in inputs else None
    for tool in tools if isinstance(tools, list) else []:
        spec = tool.get("function", tool) if isinstance(tool, dict) else None
        if isinstance(spec, dict) and isinstance(spec.get("name"), str) and spec["name"]:
            specs.append(spec)
    return specs


def _forced_tool(inputs: dict[str, Any], tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    choice = inputs.get("tool_choice")
    if isinstance(choice, dict):
        name = choice.get("name") or (choice.get("function") or {}).get("name")
        return next((tool for tool in tools if tool["name"] == name), None)
    return tools[0] if choice == "required" and tools else None


def _named_at(name: str, text: str) -> int:
    """Where `name` (or `get weather` for `get_weather`) last appears in `text` as a word; -1 if not."""
    spelled = {name.lower(), name.lower().replace("_", " ")}
    found = [match.start() for form in spelled for match in re.finditer(rf"\b{re.escape(form)}\b", text.lower())]
    return max(found, default=-1)


def _wanted_tool(inputs: dict[str, Any], last_user: str) -> dict[str, Any] | None:
    """A forced tool, else the offered tool the user's text names last (a request comes after the
    context that clients such as Claude Code put before it)."""
    tools = _tool_specs(inputs)
    if not tools or inputs.get("tool_choice") == "none":
        return None
    forced = _forced_tool(inputs, tools)
    if forced is not None:
        return forced
    position, tool = max(((_named_at(tool["name"], last_user), tool) for tool in tools), key=lambda item: item[0])
    return tool if position >= 0 else None


def _example(schema: Any, hint: str) -> Any:
    """A small value that satisfies a JSON schema: enough for clients to parse and validate."""
    if not isinstance(schema, dict):
        return hint
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        required = schema.get("required") or list(properties)
        return {name: _example(properties.get(name, {}), hint) for name in required}
    if kind == "array":
        return [_example(schema.get("items", {}), hint)]
    return {"integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, hint)  # type: ignore[arg-type]


def _schema_of(inputs: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema asked for, or {} for plain JSON, or None when free text is fine.

    Both shapes are honoured: Workers AI's own JSON Mode (`json_schema` is the schema itself) and
    OpenAI's wrapper (`{name, schema, strict}`), which some clients send to Workers AI anyway."""
    text = inputs.get("text")
    formats = [inputs.get("response_format"), text.get("format") if isinstance(text, dict) else None]
    for fmt in formats:
        if not isinstance(fmt, dict):
            continue
        if fmt.get("type") == "json_object":
            return {}
        if fmt.get("type") == "json_schema":
            return _unwrapped(fmt.get("json_schema", fmt))
    return None


def _unwrapped(schema: Any) -> dict[str, Any]:
    if not isinstance(schema, dict):
        return {}
    if isinstance(schema.get("schema"), dict) and "name" in schema:
        return schema["schema"]  # type: ignore[no-any-return]
    return schema


_CODE_SPAN = re.compile(r"`([^`]+)`")


def _hint(text: str) -> str:
    """What string arguments are filled with: the last `code span` of the user's message (so a test
    can say "run `echo hi` with exec_command"), else its last capitalised word."""
    spans = _CODE_SPAN.findall(text)
    if spans:
        return str(spans[-1])
    words = re.findall(r"[A-Z][a-z]+", text)
    return words[-1] if words else "example"


def _tool_results(turns: list[tuple[str, str]]) -> list[str]:
    """The tool results that came after the model's last turn: what the next answer is about, even
    when the client added text after them (Claude Code's reminders)."""
    results: list[str] = []
    for role, text in reversed(turns):
        if role == "assistant":
            break
        if role == "tool":
            results.insert(0, text)
    return results


def _answer(inputs: dict[str, Any], turns: list[tuple[str, str]]) -> str:
    last_text = turns[-1][1] if turns else ""
    schema = _schema_of(inputs)
    if schema is not None:
        value = _example(schema, _hint(last_text)) if schema else {"answer": last_text[:80]}
        return json.dumps(value)
    results = _tool_results(turns)
    if results:
        return f"The tool returned: {' '.join(results)[:200]}"
    shown = last_text if len(last_text) <= 200 else last_text[:197] + "..."
    return f"This is the gateway's offline emulator, not gpt-oss. You said: {shown}"


def _prompt_tokens(turns: list[tuple[str, str]]) -> list[str]:
    """The prompt as tokens: each turn's text and four tokens of chat template around it."""
    return [token for role, text in turns for token in (f"<{role}>", *_tokens(text), "<end>", "<start>", "<msg>")]


def _plan(inputs: dict[str, Any], cached_tokens: int = 0) -> _Plan:
    turns = _turns(inputs)
    user_texts = [text for role, text in turns if role == "user"]
    last_user = user_texts[-1] if user_texts else ""
    input_tokens = len(_prompt_tokens(turns))
    reasoning_field = inputs.get("reasoning")
    effort = (
        (reasoning_field.get("effort") if isinstance(reasoning_field, dict) else None)
        or inputs.get("reasoning_effort")
        or "medium"
    )
    words = len(last_user.split())
    reasoning = _tokens(
        f"The user wrote {words} word{'' if words == 1 else 's'}. Reasoning effort is {effort}. I will answer directly."
    )
    tool = _wanted_tool(inputs, last_user) if turns and not _tool_results(turns) else None
    calls, answer = [], []
    if tool is not None:
        arguments = json.dumps(_example(tool.get("parameters", {}), _hint(last_user)))
        calls = [
            {
                "id": "call_" + _digest([inputs, "call"])[:16],
                "type": "function",
                "function": {"name": tool["name"], "arguments": arguments},
            }
        ]
    else:
        answer = _tokens(_answer(inputs, turns))
    result = _Plan(reasoning, answer, calls, input_tokens, "tool_calls" if calls else "stop", cached_tokens)
    return _limit(result, _max_tokens(inputs))


def _max_tokens(inputs: dict[str, Any]) -> int:
    for name in ("max_tokens", "max_output_tokens"):
        value = inputs.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return WORKERS_AI_DEFAULT_MAX_TOKENS


def _limit(result: _Plan, max_tokens: int) -> _Plan:
    """Cut the output at max_tokens the way the model does: reasoning first, then the answer."""
    if result.output_tokens <= max_tokens:
        return result
    reasoning = result.reasoning[:max_tokens]
    answer = result.answer[: max(0, max_tokens - len(reasoning))]
    return _Plan(reasoning, answer, [], result.input_tokens, "length", result.cached_tokens)


def _chat_completion(model: str, inputs: dict[str, Any], result: _Plan) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(result.answer) if not result.tool_calls else None,
        "reasoning_content": "".join(result.reasoning),
        "tool_calls": result.tool_calls,
    }
    return {
        "id": "chatcmpl-" + _digest(inputs),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": result.finish_reason}],
        "usage": result.usage(),
    }


def _responses_output(inputs: dict[str, Any], result: _Plan) -> list[dict[str, Any]]:
    key = _digest(inputs)
    output: list[dict[str, Any]] = [
        {
            "id": "rs_" + key,
            "type": "reasoning",
            "summary": [],
            "content": [{"type": "reasoning_text", "text": "".join(result.reasoning)}],
        }
    ]
    for call in result.tool_calls:
        output.append(
            {
                "id": "fc_" + key,
                "type": "function_call",
                "status": "completed",
                "call_id": call["id"],
                "name": call["function"]["name"],
                "arguments": call["function"]["arguments"],
            }
        )
    if not result.tool_calls:
        output.append(
            {
                "id": "msg_" + key,
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "".join(result.answer), "annotations": []}],
            }
        )
    return output


def _response(model: str, inputs: dict[str, Any], result: _Plan) -> dict[str, Any]:
    usage = result.usage()
    return {
        "id": "resp_" + _digest(inputs),
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "completed" if result.finish_reason != "length" else "incomplete",
        "output": _responses_output(inputs, result),
        "usage": {
            "input_tokens": usage["prompt_tokens"],
            "output_tokens": usage["completion_tokens"],
            "total_tokens": usage["total_tokens"],
        },
    }


def _prompt_answer(result: _Plan) -> dict[str, Any]:
    return {"response": "".join(result.answer), "tool_calls": result.tool_calls, "usage": result.usage()}


def _answer_json(model: str, inputs: dict[str, Any], cached_tokens: int = 0) -> dict[str, Any]:
    result = _plan(inputs, cached_tokens)
    if "messages" in inputs:
        return _chat_completion(model, inputs, result)
    if "input" in inputs:
        return _response(model, inputs, result)
    return _prompt_answer(result)


def _event(data: Any) -> bytes:
    return b"data: " + json.dumps(data, separators=(",", ":")).encode() + b"\n\n"


def _chat_events(model: str, inputs: dict[str, Any], result: _Plan) -> list[bytes]:
    head = {
        "id": "chatcmpl-" + _digest(inputs),
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        return _event({**head, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra})

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"reasoning": token}) for token in result.reasoning]
    events += [chunk({"content": token}) for token in result.answer]
    events += [chunk({"tool_calls": [{"index": i, **call}]}) for i, call in enumerate(result.tool_calls)]
    events.append(chunk({}, result.finish_reason, usage=result.usage()))
    return events


def _prompt_events(result: _Plan) -> list[bytes]:
    events = [_event({"response": token}) for token in result.answer]
    if result.tool_calls:
        events.append(_event({"response": "", "tool_calls": result.tool_calls}))
    events.append(_event({"response": "", "usage": result.usage()}))
    return events


def _stream_events(model: str, inputs: dict[str, Any], cached_tokens: int = 0) -> list[bytes]:
    """The events of a streamed answer, `[DONE]` included."""
    if "input" in inputs:
        return [_event({"response": ""}), b"data: [DONE]\n\n"]  # the Responses-form quirk
    result = _plan(inputs, cached_tokens)
    events = _chat_events(model, inputs, result) if "messages" in inputs else _prompt_events(result)
    return [*events, b"data: [DONE]\n\n"]


def _refuse_invalid(inputs: dict[str, Any]) -> None:
    """Refuse what the model's input schema refuses, as Workers AI does (error 5006)."""
    try:
        validate_native(inputs)
    except InvalidRequest as exc:
        raise WorkersAIError(5006, f"Error: input validation failed: {exc.message}") from None


class EmulatedStream:
    """A stream of SSE events at the emulator's pace. Records whether it was cancelled."""

    def __init__(self, events: list[bytes], *, delay_s: float, first_delay_s: float, faults: Faults) -> None:
        self.events = events
        self.delay_s = delay_s
        self.first_delay_s = first_delay_s
        self.faults = faults
        self.sent = 0
        self.cancelled = False
        self.finished = False
        self._iterator = self._produce()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterator

    async def _produce(self) -> AsyncIterator[bytes]:
        await asyncio.sleep(self.first_delay_s)
        for index, event in enumerate(self.events):
            if self.faults.midstream is not None and index >= self.faults.midstream:
                raise ConnectionResetError("emulated upstream failure mid-stream")
            if self.faults.truncate is not None and index >= self.faults.truncate:
                break
            if index:
                await asyncio.sleep(self.delay_s)
            self.sent += 1
            yield event
        self.finished = True

    async def aclose(self) -> None:
        if not self.finished:
            self.cancelled = True
        await self._iterator.aclose()  # type: ignore[attr-defined]


@dataclass
class Emulator:
    """The `emulator` backend. `streams` keeps the most recent streams, for tests to inspect."""

    token_delay_ms: float = DEFAULT_TOKEN_DELAY_MS
    faults: Faults = field(default_factory=Faults)
    name: str = "emulator"
    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    streams: list[EmulatedStream] = field(default_factory=list)
    _jobs: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    _sessions: OrderedDict[str, list[str]] = field(default_factory=OrderedDict)

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
        self._remember(model, inputs, options)
        await self._fail_if_asked()
        if model not in ("@cf/openai/gpt-oss-120b", "@cf/openai/gpt-oss-20b"):
            raise WorkersAIError(5007, f"No such model {model}")
        _refuse_invalid(inputs)
        if options.get("queueRequest"):
            return self._queue(model, inputs)
        if "request_id" in inputs:
            return self._poll(inputs["request_id"])
        cached = self._cached_prefix(model, inputs, options)
        if inputs.get("stream") and not self.faults.json_to_stream:
            return self._stream(model, inputs, cached)
        await asyncio.sleep(self.faults.slow_first_token_ms / 1000)
        return _answer_json(model, inputs, cached)

    def _cached_prefix(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> int:
        """Tokens this prompt shares with the session's previous one on this model, in whole cache
        blocks (each model has its own instances: a fallback's call never warms the other's cache)."""
        affinity = (options.get("extraHeaders") or {}).get(AFFINITY_HEADER)
        if not affinity or ("messages" not in inputs and "prompt" not in inputs):
            return 0
        session = f"{model}\n{affinity}"
        tokens = _prompt_tokens(_turns(inputs))
        previous = self._sessions.pop(session, [])
        self._sessions[session] = tokens
        while len(self._sessions) > _MAX_SESSIONS:
            self._sessions.popitem(last=False)
        shared = 0
        for mine, theirs in zip(tokens, previous, strict=False):
            if mine != theirs:
                break
            shared += 1
        return shared - shared % _CACHE_BLOCK

    def _remember(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> None:
        self.calls = [*self.calls[-99:], (model, inputs, options)]

    async def _fail_if_asked(self) -> None:
        if self.faults.hang:
            await asyncio.Event().wait()
        if self.faults.capacity > 0:
            self.faults.capacity -= 1
            raise WorkersAIError(3040, "Capacity temporarily exceeded, please try again.")
        if self.faults.error is not None:
            raise WorkersAIError(self.faults.error, "Emulated upstream error.")

    def _stream(self, model: str, inputs: dict[str, Any], cached_tokens: int) -> EmulatedStream:
        stream = EmulatedStream(
            _stream_events(model, inputs, cached_tokens),
            delay_s=self.token_delay_ms / 1000,
            first_delay_s=self.faults.slow_first_token_ms / 1000,
            faults=self.faults,
        )
        self.streams = [*self.streams[-9:], stream]
        return stream

    def _queue(self, model: str, inputs: dict[str, Any]) -> dict[str, Any]:
        request_id = _digest([model, inputs, len(self._jobs), time.time()])
        self._jobs[request_id] = {"model": model, "requests": inputs["requests"], "polls": 0}
        while len(self._jobs) > _MAX_JOBS:
            self._jobs.popitem(last=False)
        return {"status": "queued", "request_id": request_id, "model": model}

    def _poll(self, request_id: str) -> dict[str, Any]:
        job = self._jobs.get(request_id)
        if job is None:
            raise WorkersAIError(5006, f"request_id {request_id!r} is not a queued batch request")
        job["polls"] += 1
        if job["polls"] == 1:
            return {"status": "running", "request_id": request_id}
        responses = [
            {"id": index, "success": True, "result": _answer_json(job["model"], item)}
            for index, item in enumerate(job["requests"])
        ]
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        for item in job["requests"]:
            item_usage = _plan(item).usage()
            for name in usage:
                usage[name] += item_usage[name]
        return {"responses": responses, "usage": usage}
