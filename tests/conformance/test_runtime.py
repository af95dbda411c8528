"""What the runtime itself does, checked with the probe Worker (in_pyodide/probe_entry.py).

These are the facts of workers-runtime-sdk and Pyodide that the gateway is built
on: if one changes with a new SDK or Pyodide line, the test names the fact.
"""

from __future__ import annotations

import json

import pytest

from ._cases import (
    Case,
    CaseBook,
    Hangup,
    HttpRequest,
    Outcome,
    PyodideRun,
    answer_error,
    answer_json,
    answer_stream,
    get,
    post_bytes,
    post_json,
)

book = CaseBook(app="probe")


def stream_request(**inputs: object) -> HttpRequest:
    return post_json("/probe/stream", {"inputs": {"stream": True, **inputs}})


# --- booting and plain requests --------------------------------------------


@book.case(
    request=post_bytes("/probe/echo?x=1&y=%C3%A9", b"hello", {"x-list": "a, b", "X-Mixed-Case": "v"}),
    env={"PROBE_VAR": "configured"},
)
def request_reaches_the_asgi_app(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    echo = outcome.json()
    assert echo["method"] == "POST"
    assert echo["method_type"] == "HTTPMethod"  # a StrEnum, from workers.Request, not a str
    assert echo["path"] == "/probe/echo"
    assert echo["query_string"] == "x=1&y=%C3%A9"
    assert echo["body"] == "hello"
    headers = dict(echo["headers"])
    assert headers["x-list"] == "a, b"  # python_request_headers_preserve_commas keeps one value
    assert headers["x-mixed-case"] == "v"  # names arrive lower-cased
    assert echo["env_type"] == "_EnvWrapper"
    assert echo["probe_var"] == "configured"
    assert echo["missing_var"] == "<absent>"  # getattr(env, name, default) works for unset names


@book.case(app="trivial", request=get("/"))
def trivial_worker_answers(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.json() == {"ok": True, "object": "trivial"}


# --- the AI binding: what crosses the boundary -----------------------------

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Grüß dich 👋"},
]


@book.case(
    request=post_json(
        "/probe/run",
        {
            "model": "@cf/openai/gpt-oss-120b",
            "inputs": {"messages": MESSAGES, "max_tokens": 64, "reasoning": {"effort": "low"}, "seed": None},
            "options": {"gateway": {"id": "gw", "skipCache": True}},
        },
    ),
    ai=[answer_json({"choices": [{"message": {"content": "Hi"}}], "usage": {"prompt_tokens": 9}, "x": None})],
)
def messages_reach_the_binding_as_plain_js_objects(outcome: Outcome) -> None:
    outcome.assert_served()
    (call,) = outcome.ai_calls
    assert call.non_plain == [], "the SDK should hand the binding plain JS objects and arrays"
    assert call.model == "@cf/openai/gpt-oss-120b"
    assert call.inputs["messages"] == MESSAGES
    assert json.loads(call.inputs_json or "null")["messages"][1]["content"] == "Grüß dich 👋"
    assert call.inputs["seed"] is None  # Python None arrives as JS null, not undefined
    assert call.options == {"gateway": {"id": "gw", "skipCache": True}}
    answer = outcome.json()
    assert answer["python_type"] == "JsDict"  # a dict subclass; nested objects are dicts too
    assert answer["result"]["x"] is None  # JS null comes back as None


@book.case(
    request=post_json("/probe/run", {"model": "@cf/openai/gpt-oss-120b", "inputs": {"prompt": "x"}}),
    ai=[answer_error("3040: Capacity temporarily exceeded, please try again.")],
)
def binding_errors_surface_as_jsexception(outcome: Outcome) -> None:
    outcome.assert_served()
    exc = outcome.json()["exception"]
    assert (exc["module"], exc["type"]) == ("pyodide.ffi", "JsException")
    # str() carries the JS error's name in front; .message is the "<code>: <text>" itself.
    assert exc["str"] == "InferenceUpstreamError: 3040: Capacity temporarily exceeded, please try again."
    assert exc["message"] == "3040: Capacity temporarily exceeded, please try again."
    assert exc["name"] == "InferenceUpstreamError"


@book.case(
    request=post_json("/probe/run", {"model": "@cf/openai/gpt-oss-120b", "inputs": {"prompt": "x"}}),
    ai=[answer_error("5007: No such model @cf/x", name="Error")],
)
def plain_js_errors_surface_with_their_name(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.json()["exception"]["str"] == "Error: 5007: No such model @cf/x"


@book.case(
    request=post_json("/probe/run", {"model": "@cf/openai/gpt-oss-120b", "inputs": {"prompt": "x"}}),
    ai=[answer_stream(['data: {"response":"a"}\n\n', "data: [DONE]\n\n"])],
)
def a_stream_answer_arrives_as_a_raw_readablestream(outcome: Outcome) -> None:
    outcome.assert_served()
    answer = outcome.json()
    assert answer["python_type"] == "JsProxy"  # not wrapped, not converted
    assert answer["js_constructor"] == "ReadableStream"
    assert answer["text"] == 'data: {"response":"a"}\n\ndata: [DONE]\n\n'


@book.case(
    request=post_json("/probe/limit", {"binding": "PER_KEY", "key": "key:alice"}),
    ratelimits={"PER_KEY": [False]},
)
def the_rate_limit_binding_is_wrapped_too(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.json() == {"python_type": "JsDict", "success": False}
    assert outcome.ratelimit_calls["PER_KEY"][0]["options"] == {"key": "key:alice"}


# --- streaming through workers.asgi ----------------------------------------

TICKS = [f'data: {{"tick": {i}}}\n\n' for i in range(6)]


@book.case(request=stream_request(), ai=[answer_stream(TICKS, delay_ms=50)])
def chunks_reach_the_client_as_the_upstream_produces_them(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.header("content-type") == "text/event-stream"
    assert outcome.text == "".join(TICKS)
    (upstream,) = outcome.ai_streams
    last_produced = upstream.produced[-1]["t_ms"]
    first_read = outcome.chunks[0].t_ms
    assert first_read < last_produced - 150, "the first event must reach the client long before the last exists"
    assert len([c for c in outcome.chunks if c.data]) >= len(TICKS), "chunks must not be collected into one"
    for produced, chunk in zip(upstream.produced, outcome.chunks, strict=False):
        assert chunk.t_ms - produced["t_ms"] < 40, "each chunk is passed on as it arrives"


@book.case(
    request=stream_request(),
    ai=[answer_stream(TICKS * 4, delay_ms=50)],
    hangup=Hangup(after_chunks=2),
    settle_ms=150,
)
def a_client_hangup_surfaces_at_the_next_send(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.client_cancelled is not None
    (send_failed,) = outcome.probe_events("send_failed")
    failure = json.loads(send_failed["detail"])
    # Not http.disconnect from receive(): send() raises the cancel reason as a JsException.
    assert failure["type"] == "JsException"
    assert failure["str"] == "Error: client disconnected"
    assert outcome.probe_events("receive") == [], "receive() does not report the hangup"
    (upstream,) = outcome.ai_streams
    assert upstream.cancelled is not None, "the probe cancels its upstream reader; the double sees it"
    assert len(upstream.produced) < len(TICKS * 4)
    assert all(record["settled"] is not None for record in outcome.wait_until)


@book.case(
    request=stream_request(),
    ai=[answer_stream(TICKS, delay_ms=30)],
    hangup=Hangup(after_chunks=2, reason_kind="string"),
    settle_ms=100,
    settle_timeout_ms=300,
)
def a_hangup_with_a_non_error_reason_strands_the_app(outcome: Outcome) -> None:
    # Pyodide cannot turn a non-Error rejection into a Python exception: its future
    # helper raises TypeError, and the app's `await send(...)` never returns.
    assert any("invalid exception object" in error["message"] for error in outcome.uncaught)
    assert outcome.probe_events("send_failed") == []
    assert all(record["settled"] is None for record in outcome.wait_until)


@book.case(
    request=stream_request(),
    ai=[answer_stream(TICKS[:4], delay_ms=20, error_after=2, error_message="upstream reset")],
)
def an_upstream_failure_mid_stream_raises_at_the_next_read(outcome: Outcome) -> None:
    outcome.assert_served()
    (failure,) = outcome.probe_events("upstream_error")
    assert json.loads(failure["detail"])["str"] == "Error: upstream reset"
    events = outcome.events()
    assert [e.event for e in events] == [None, None, "error"]
    ended = outcome.ai_streams[0].ended
    assert ended is not None and ended["how"] == "errored"


SPLIT = "Grüße 👋 done".encode()
CUT = SPLIT.index("👋".encode()) + 2  # inside the 4-byte emoji


@book.case(
    request=stream_request(),
    ai=[answer_stream([b"data: " + SPLIT[:3], SPLIT[3:CUT], SPLIT[CUT:] + b"\n\n"], delay_ms=10)],
)
def multibyte_utf8_split_across_chunks_survives(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.body == b"data: " + SPLIT + b"\n\n"
    assert outcome.events()[0].data == "Grüße 👋 done"


@pytest.mark.parametrize("case", book.params())
def test_runtime(case: Case, pyodide_run: PyodideRun) -> None:
    pyodide_run.check(case)


def test_the_sdk_loads_from_the_pinned_wheel(pyodide_run: PyodideRun) -> None:
    sdk_path = pyodide_run.result["runtime"]["workers_sdk_path"]
    assert "site-packages/workers/" in sdk_path
    assert pyodide_run.result["imports"]["sdk"]["ms"] > 0
