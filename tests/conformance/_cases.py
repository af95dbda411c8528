"""Conformance cases as data, and what the harness reports back about each.

A case is one request to one Worker, with the answers its test doubles give.
It is written next to the check that judges its outcome::

    book = CaseBook()

    @book.case(app="probe", request=post_json("/probe/run", {...}), ai=[answer_json({...})])
    def messages_reach_the_binding_as_plain_objects(outcome: Outcome) -> None:
        assert outcome.ai_calls[0].non_plain == []

Every case runs in both Pyodide lines; the harness runs them all in one Node
process per line, and each check then reads its own outcome.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.model_schema import check_upstream_body

Json = Any
Check = Callable[["Outcome"], None]


# ---------------------------------------------------------------------------
# Requests, answers of the AI double, and how the client reads
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None
    hangup: Hangup | None = None  # for `earlier` requests: the client cancels the body (the case's own: Case.hangup)

    def to_plan(self) -> dict[str, Any]:
        body = None if self.body is None else base64.b64encode(self.body).decode()
        plan = {"method": self.method, "path": self.path, "headers": dict(self.headers), "body_b64": body}
        return {**plan, "read": self.hangup.to_plan()} if self.hangup else plan

    def hung_up(self, hangup: Hangup) -> HttpRequest:
        return HttpRequest(self.method, self.path, self.headers, self.body, hangup)


def get(path: str, headers: Mapping[str, str] | None = None) -> HttpRequest:
    return HttpRequest("GET", path, headers or {})


def post_json(path: str, payload: Json, headers: Mapping[str, str] | None = None) -> HttpRequest:
    all_headers = {"content-type": "application/json", **(headers or {})}
    return HttpRequest("POST", path, all_headers, json.dumps(payload).encode())


def post_bytes(path: str, body: bytes, headers: Mapping[str, str] | None = None) -> HttpRequest:
    return HttpRequest("POST", path, headers or {}, body)


def answer_json(
    payload: Json, *, repeat: bool = False, delay_ms: int = 0, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The binding resolves with this object (as the parsed JSON of an upstream answer).

    headers: the upstream response's (AI Gateway's `cf-aig-*`), seen with `returnRawResponse`.
    """
    return {"json": payload, "repeat": repeat, "delay_ms_before": delay_ms, "headers": dict(headers or {})}


def answer_stream(
    chunks: Sequence[str | bytes],
    *,
    delay_ms: int = 0,
    first_delay_ms: int | None = None,
    error_after: int | None = None,
    error_message: str = "upstream stream failed",
    stall_after: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The binding resolves with a ReadableStream that pushes one chunk every delay_ms.

    error_after=k errors the stream instead of sending chunk k (k == len(chunks): after the last).
    stall_after=k sends k chunks, then nothing more, and never closes (until cancelled).
    bytes chunks are sent exactly, so a UTF-8 sequence can be split across two of them.
    """
    spec: dict[str, Any] = {
        "chunks": [c if isinstance(c, str) else {"b64": base64.b64encode(c).decode()} for c in chunks],
        "delay_ms": delay_ms,
        "error_message": error_message,
    }
    if first_delay_ms is not None:
        spec["first_delay_ms"] = first_delay_ms
    if error_after is not None:
        spec["error_after"] = error_after
    if stall_after is not None:
        spec["stall_after"] = stall_after
    return {"stream": spec, "headers": dict(headers or {})}


def answer_error(
    message: str, *, name: str = "InferenceUpstreamError", status: int = 500, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The binding rejects, as workerd's does: an InferenceUpstreamError "<code>: <description>".

    With `returnRawResponse` it resolves instead with a Response of this status and the upstream's
    error body.
    """
    return {"throw": {"message": message, "name": name, "status": status}, "headers": dict(headers or {})}


def limiter_throws(message: str = "rate limiter unavailable") -> dict[str, str]:
    """An outcome of the Ratelimit double: `limit()` rejects with this message."""
    return {"throw": message}


def durable_object(class_name: str) -> dict[str, str]:
    """A Durable Object namespace whose objects are the entry module's Python class of this name,
    constructed in Pyodide with a SQLite storage double (sql_double.mjs)."""
    return {"class": class_name}


def durable_object_failing(message: str, methods: Sequence[str] = ("reserve", "settle")) -> dict[str, Any]:
    """A Durable Object namespace whose every call (of these RPC methods) rejects: an object that is
    broken or unreachable."""
    return {"throw": message, "methods": list(methods)}


def sse(*events: Json) -> list[str]:
    """OpenAI-style SSE frames for the given JSON events, then `data: [DONE]`."""
    return [f"data: {json.dumps(event, ensure_ascii=False)}\n\n" for event in events] + ["data: [DONE]\n\n"]


@dataclass(frozen=True)
class Hangup:
    """The client cancels the body after n chunks, or once the text read so far has marker.

    reason_kind: "error" (what workerd passes), "string" or "undefined".
    """

    after_chunks: int | None = None
    after_text: str | None = None
    reason: str = "client disconnected"
    reason_kind: str = "error"

    def to_plan(self) -> dict[str, Any]:
        plan: dict[str, Any] = {"reason": self.reason, "reason_kind": self.reason_kind}
        if self.after_chunks is not None:
            plan["cancel_after_chunks"] = self.after_chunks
        if self.after_text is not None:
            plan["cancel_after_text"] = self.after_text
        return plan


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    app: str  # "gateway" (src/entry.py), "probe" or "trivial" (in_pyodide/probe_entry.py)
    request: HttpRequest
    check: Check
    ai: Sequence[dict[str, Any]] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    # Binding doubles by env name: Ratelimit outcomes (True, False or limiter_throws(...)),
    # KV namespaces' contents, Analytics Engine datasets, Durable Object namespaces.
    ratelimits: Mapping[str, Sequence[bool | dict[str, str]]] = field(default_factory=dict)
    kv: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    analytics: Sequence[str] = ()
    durable_objects: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    omit: Sequence[str] = ()  # env names to leave out, such as "AI"
    # Requests sent first, each read to its end and its waitUntil work settled, against the same
    # Worker and the same doubles: Outcome.earlier has their replies. A later request's path and
    # body may name a value of an earlier reply as {{earlier.N.path.to.value}} (see harness.mjs).
    earlier: Sequence[HttpRequest] = ()
    # Requests started together with `request`, each read to its end: Outcome.alongside.
    alongside: Sequence[HttpRequest] = ()
    hangup: Hangup | None = None
    fresh_isolate: bool = True  # re-run the entry module first, so the app reads this case's env
    settle_ms: int = 20  # after the body ends, before the doubles are read
    settle_timeout_ms: int = 2000  # longest wait for waitUntil work to finish
    timeout_ms: int = 10000
    marks: Sequence[Any] = ()  # pytest marks for this case's test, such as xfail

    @property
    def key(self) -> str:
        """Unique across test modules, which may reuse a case name."""
        return f"{self.check.__module__.rsplit('.', 1)[-1]}::{self.name}"

    def to_plan(self) -> dict[str, Any]:
        return {
            "name": self.key,
            "app": self.app,
            "request": self.request.to_plan(),
            "ai": list(self.ai),
            "env": dict(self.env),
            "ratelimits": {name: list(outcomes) for name, outcomes in self.ratelimits.items()},
            "kv": {name: dict(values) for name, values in self.kv.items()},
            "analytics": list(self.analytics),
            "durable_objects": {name: dict(spec) for name, spec in self.durable_objects.items()},
            "earlier": [request.to_plan() for request in self.earlier],
            "alongside": [request.to_plan() for request in self.alongside],
            "omit": list(self.omit),
            "fresh_isolate": self.fresh_isolate,
            "read": self.hangup.to_plan() if self.hangup else None,
            "settle_ms": self.settle_ms,
            "settle_timeout_ms": self.settle_timeout_ms,
            "timeout_ms": self.timeout_ms,
        }


class CaseBook:
    """The cases of one test module, declared with @book.case above their checks.

    defaults are merged into every case: a module's app, env and so on.
    """

    def __init__(self, **defaults: Any) -> None:
        self._defaults = defaults
        self._cases: dict[str, Case] = {}

    def case(self, **fields: Any) -> Callable[[Check], Check]:
        def register(check: Check) -> Check:
            merged = {**self._defaults, **fields}
            merged["env"] = {**self._defaults.get("env", {}), **fields.get("env", {})}
            name = check.__name__
            if name in self._cases:
                raise ValueError(f"two conformance cases are named {name}")
            self._cases[name] = Case(name=name, check=check, **merged)
            return check

        return register

    def params(self) -> list[Any]:
        return [pytest.param(case, id=case.name, marks=list(case.marks)) for case in self._cases.values()]


# ---------------------------------------------------------------------------
# Outcomes
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunk:
    t_ms: float
    data: bytes


@dataclass(frozen=True)
class AiCall:
    t_ms: float
    model: Json
    inputs: Json
    options: Json
    arg_count: int
    inputs_json: str | None  # JSON.stringify(inputs), as the real binding sends it
    non_plain: list[dict[str, str]]  # paths that were not plain JS data (proxies, class instances)


@dataclass(frozen=True)
class UpstreamStream:
    produced: list[dict[str, float]]  # {index, t_ms} per chunk the double pushed
    cancelled: dict[str, Any] | None  # {t_ms, reason} once the Worker cancelled it
    ended: dict[str, Any] | None  # {t_ms, how: "closed" | "errored"}


@dataclass(frozen=True)
class SseEvent:
    event: str | None
    data: str


class Reply:
    """What the client got for one request: status, headers, the body as it arrived."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.error: dict[str, str] | None = raw["error"]
        self.status: int | None = raw["status"]
        self.headers: list[tuple[str, str]] = [(k, v) for k, v in raw["headers"]]
        self.t_response_ms: float | None = raw["t_response_ms"]
        self.chunks = [Chunk(c["t_ms"], base64.b64decode(c["b64"])) for c in raw.get("chunks", [])]
        self.client_cancelled: dict[str, float] | None = raw.get("client_cancelled")
        self.read_error: dict[str, str] | None = raw.get("read_error")

    @property
    def body(self) -> bytes:
        return b"".join(chunk.data for chunk in self.chunks)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Json:
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    def events(self) -> list[SseEvent]:
        """The body parsed as server-sent events (data lines joined, comments dropped)."""
        return list(_parse_sse(self.text))


@dataclass(frozen=True)
class DurableObjectCall:
    t_ms: float
    t_done_ms: float | None
    id: str  # the name given to idFromName
    method: str
    args: list[Json]
    non_plain: list[dict[str, str]]
    result: Json
    error: dict[str, str] | None


@dataclass(frozen=True)
class DurableObjects:
    """One Durable Object namespace double: the names asked for, the RPC calls, each object's storage."""

    names: list[str]
    calls: list[DurableObjectCall]
    tables: dict[str, dict[str, list[dict[str, Json]]]]  # object name -> table -> rows
    statements: dict[str, list[dict[str, Any]]]  # object name -> [{query, bindings, error}]
    alarms: dict[str, list[float]]  # object name -> every time it set its alarm to (epoch ms)

    @classmethod
    def from_report(cls, raw: Mapping[str, Any]) -> DurableObjects:
        objects = raw["objects"]
        return cls(
            names=raw["names"],
            calls=[DurableObjectCall(**call) for call in raw["calls"]],
            tables={name: obj["tables"] for name, obj in objects.items()},
            statements={name: obj["statements"] for name, obj in objects.items()},
            alarms={name: obj.get("alarms_set", []) for name, obj in objects.items()},
        )

    def calls_to(self, method: str) -> list[DurableObjectCall]:
        return [call for call in self.calls if call.method == method]


class Outcome(Reply):
    """What one case did, from the client's side and from the doubles' side."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        super().__init__(raw)
        self.raw = raw
        self.name: str = raw["name"]
        self.earlier = [Reply(reply) for reply in raw.get("earlier", [])]
        self.alongside = [Reply(reply) for reply in raw.get("alongside", [])]
        self.ai_calls = [AiCall(**call) for call in raw["ai"]["calls"]]
        self.ai_streams = [UpstreamStream(**stream) for stream in raw["ai"]["streams"]]
        self.ratelimit_calls: dict[str, list[dict[str, Any]]] = raw["ratelimits"]
        self.kv_calls: dict[str, list[dict[str, Any]]] = raw.get("kv", {})
        self.data_points: dict[str, list[dict[str, Any]]] = raw.get("analytics", {})
        self.durable_objects = {
            name: DurableObjects.from_report(report) for name, report in raw.get("durable_objects", {}).items()
        }
        self.probe: list[dict[str, Any]] = raw["probe"]
        self.wait_until: list[dict[str, Any]] = raw["wait_until"]
        self.logs: list[str] = raw["logs"]
        self.uncaught: list[dict[str, str]] = raw["uncaught"]

    def log_records(self) -> list[dict[str, Any]]:
        """The Worker's JSON log lines (one per request)."""
        return [json.loads(line.removeprefix("stdout: ")) for line in self.logs if line.startswith("stdout: {")]

    def probe_events(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.probe if event["kind"] == kind]

    def describe(self) -> str:
        """A summary for failure messages (PyodideRun.check adds it): enough to see what went wrong."""
        summary = {
            "error": self.error,
            "read_error": self.read_error,
            "earlier": [(reply.status, reply.body[:300].decode("utf-8", "replace")) for reply in self.earlier],
            "alongside": [(reply.status, reply.body[:300].decode("utf-8", "replace")) for reply in self.alongside],
            "status": self.status,
            "headers": self.headers,
            "body": self.body[:2000].decode("utf-8", "replace"),
            "ai_calls": len(self.ai_calls),
            "ratelimit_calls": self.ratelimit_calls,
            "durable_object_calls": {
                name: [(c.method, c.args, c.result, c.error) for c in objects.calls]
                for name, objects in self.durable_objects.items()
            },
            "probe": self.probe,
            "uncaught": self.uncaught,
            "logs": self.logs[-30:],
        }
        return json.dumps(summary, indent=1, ensure_ascii=False)

    def assert_served(self) -> None:
        """The Worker answered, and the client read the body, without an exception anywhere."""
        assert self.error is None, "the Worker raised"
        assert self.read_error is None, "reading the body failed"
        assert not self.uncaught, "uncaught JS errors"


def _parse_sse(text: str) -> Iterator[SseEvent]:
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith(":") or not line:
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
        if event is not None or data:
            yield SseEvent(event, "\n".join(data))


@dataclass(frozen=True)
class PyodideRun:
    """One harness run: every selected case on one Pyodide line."""

    line: str
    result: dict[str, Any]

    def outcome(self, case: Case) -> Outcome:
        raw = self.result["cases"].get(case.key)
        if raw is None:
            pytest.fail(f"the harness ran no case named {case.key}", pytrace=False)
        return Outcome(raw)

    def check(self, case: Case) -> None:
        """Judge the case's outcome; a failed check also shows what the case did.

        Whatever the case checks, every body the gateway handed the AI binding must satisfy the
        model page's input schema, read as the real binding sends it (its JSON text)."""
        outcome = self.outcome(case)
        try:
            case.check(outcome)
            if case.app == "gateway":
                for call in outcome.ai_calls:
                    check_upstream_body(json.loads(call.inputs_json or "null"))
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n--- what happened in {self.line}:\n{outcome.describe()}") from None
