"""The gateway (src/entry.py) inside real Pyodide, behind workers.asgi, against binding doubles.

The in-process tests (tests/test_*.py) check the app's logic under CPython with fake
backends; these check what only the runtime can show: that the binding receives
plain JS data, that JS errors and streams from the binding are understood, that
SSE reaches the client as it is produced, and that a client hangup reaches the
upstream. A case is a few lines: a request, the double's answers, a check.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

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
    post_json,
    sse,
)
from ._figures import AUTH, GATEWAY_ENV, TEST_KEY

MODEL = "@cf/openai/gpt-oss-120b"
NATIVE = f"/ai/run/{MODEL}"

# Retries back off RETRY_BASE_MS: keep them short so a retried case takes milliseconds.
book = CaseBook(app="gateway", env={**GATEWAY_ENV, "RETRY_BASE_MS": "1"})


def native(body: dict[str, Any], headers: dict[str, str] | None = None) -> HttpRequest:
    return post_json(NATIVE, body, AUTH if headers is None else headers)


def assert_envelope_error(outcome: Outcome, status: int, code: int) -> dict[str, Any]:
    assert outcome.status == status
    envelope: dict[str, Any] = outcome.json()
    assert envelope["success"] is False and envelope["result"] is None, envelope
    assert envelope["errors"][0]["code"] == code, envelope
    return envelope


CHAT = {
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13},
}


# --- health and auth ----------------------------------------------------------


@book.case(request=get("/healthz"))
def healthz_answers_without_a_key(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    assert outcome.json()["status"] == "ok"
    assert outcome.json()["backend"] == "binding"
    assert outcome.header("x-request-id")
    assert outcome.ai_calls == []


@book.case(request=get("/healthz"), env={"GATEWAY_KEYS": ""})
def healthz_says_unconfigured_without_keys(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 503
    assert outcome.json()["status"] == "unconfigured"


@book.case(request=get("/openapi.json"), earlier=[get("/openapi.json")], env={"MODELS": "@cf/openai/gpt-oss-20b"})
def the_openapi_document_is_built_in_the_worker_without_a_key(outcome: Outcome) -> None:
    # Its modules are imported on this first request only (not by `import entry`), then it is kept.
    outcome.assert_served()
    assert outcome.status == 200 and outcome.header("content-type") == "application/json"
    document = outcome.json()
    assert document["openapi"] == "3.1.0" and "/v1/chat/completions" in document["paths"]
    assert document["x-gateway-models"][0]["id"] == "@cf/openai/gpt-oss-20b"
    assert outcome.earlier[0].body == outcome.body
    assert outcome.ai_calls == []


@book.case(request=native({"prompt": "hi"}, headers={}))
def a_missing_key_is_401(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_envelope_error(outcome, 401, 10000)
    assert outcome.ai_calls == []


@book.case(request=native({"prompt": "hi"}, headers={"authorization": "Bearer gw-not-a-key"}))
def an_unknown_key_is_401(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_envelope_error(outcome, 401, 10000)
    assert outcome.ai_calls == []


@book.case(request=native({"prompt": "hi"}), env={"GATEWAY_KEYS": ""})
def no_configured_keys_is_503(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_envelope_error(outcome, 503, 3040)
    assert outcome.ai_calls == []


# --- the input forms reach the binding as plain JS data -----------------------

PROMPT_ANSWER = {"response": "Hello!", "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}


@book.case(request=native({"prompt": "Say hello."}), ai=[answer_json(PROMPT_ANSWER)])
def prompt_form_round_trips_in_the_rest_envelope(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    assert outcome.json() == {"result": PROMPT_ANSWER, "success": True, "errors": [], "messages": []}
    (call,) = outcome.ai_calls
    assert (call.model, call.inputs, call.non_plain) == (MODEL, {"prompt": "Say hello."}, [])
    assert (call.arg_count, call.options) == (2, None)  # no options: none are sent
    assert (outcome.header("server-timing") or "").startswith("gateway;dur=")


CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What's the weather in Zürich? 🌦"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "weather", "arguments": "{}"}}],
    },
    {"role": "tool", "tool_call_id": "c1", "content": "12 °C"},
]
# A field Workers AI does not know, null: passed through, it must arrive as JSON null.
PASSED = {"metadata": None, "stop": ["\n"]}


@book.case(
    request=native({"messages": CONVERSATION, "max_tokens": 300, "temperature": 0.2}),
    ai=[answer_json(CHAT)],
)
def messages_reach_the_binding_as_plain_js_objects(outcome: Outcome) -> None:
    outcome.assert_served()
    (call,) = outcome.ai_calls
    assert call.non_plain == [], "a list of dicts must reach the binding as plain JS objects"
    assert call.inputs["messages"][1]["content"] == "What's the weather in Zürich? 🌦"
    assert call.inputs["messages"][2]["tool_calls"][0]["function"]["name"] == "weather"
    assert outcome.json()["result"] == CHAT


@book.case(
    request=native({"messages": CONVERSATION, "max_tokens": 300, "temperature": 0.2, **PASSED}),
    ai=[answer_json(CHAT)],
)
def the_binding_serialises_exactly_what_the_client_sent(outcome: Outcome) -> None:
    # The real binding sends JSON.stringify(inputs) on. A Python None must become JS null
    # (as the SDK's own conversion does), or a null field silently disappears.
    (call,) = outcome.ai_calls
    sent = json.loads(call.inputs_json or "null")
    assert sent["messages"][2] == CONVERSATION[2]
    assert sent == {"messages": CONVERSATION, "max_tokens": 300, "temperature": 0.2, **PASSED}
    assert outcome.header("x-gateway-passed-through") == "metadata, stop"


@book.case(
    request=native({"messages": [{**CONVERSATION[2], "content": None}]}),
    ai=[],
)
def a_native_null_content_is_refused_before_the_binding_naming_the_fix(outcome: Outcome) -> None:
    assert outcome.status == 400
    assert outcome.ai_calls == []
    (error,) = outcome.json()["errors"]
    assert error["source"]["pointer"] == "/messages/0/content" and 'send ""' in error["message"]


@book.case(
    request=post_json(
        "/v1/chat/completions",
        {"model": "gpt-oss-120b", "messages": [CONVERSATION[1], {**CONVERSATION[2], "content": None}, CONVERSATION[3]]},
        headers=AUTH,
    ),
    ai=[answer_json(CHAT)],
)
def an_openai_null_content_tool_turn_reaches_the_binding_as_an_empty_string(outcome: Outcome) -> None:
    outcome.assert_served()
    (call,) = outcome.ai_calls
    assert json.loads(call.inputs_json or "null")["messages"][1]["content"] == ""


RESPONSE = {
    "object": "response",
    "output": [{"type": "message", "content": [{"type": "output_text", "text": "4"}]}],
    "usage": {"input_tokens": 9, "output_tokens": 1},
}


@book.case(
    request=native({"input": "What is 2+2?", "instructions": "Answer briefly.", "reasoning": {"effort": "low"}}),
    ai=[answer_json(RESPONSE)],
)
def responses_form_round_trips(outcome: Outcome) -> None:
    outcome.assert_served()
    (call,) = outcome.ai_calls
    assert call.inputs == {"input": "What is 2+2?", "instructions": "Answer briefly.", "reasoning": {"effort": "low"}}
    assert call.non_plain == []
    assert outcome.json()["result"] == RESPONSE


@book.case(
    request=native({"requests": [{"input": "a"}, {"input": "b"}]}),
    ai=[answer_json({"status": "queued", "request_id": "req-1", "model": MODEL})],
)
def async_batch_is_queued_with_queue_request(outcome: Outcome) -> None:
    outcome.assert_served()
    (call,) = outcome.ai_calls
    assert call.options == {"queueRequest": True}
    assert call.inputs == {"requests": [{"input": "a"}, {"input": "b"}]}
    assert outcome.json()["result"]["request_id"] == "req-1"


@book.case(
    request=native({"request_id": "req-1"}),
    ai=[answer_json({"status": "running", "request_id": "req-1"})],
)
def polling_a_batch_passes_the_request_id(outcome: Outcome) -> None:
    outcome.assert_served()
    (call,) = outcome.ai_calls
    assert (call.inputs, call.options) == ({"request_id": "req-1"}, None)
    assert outcome.json()["result"]["status"] == "running"


@book.case(request=post_json("/ai/run/@cf/openai/gpt-oss-20b", {"prompt": "hi"}, AUTH))
def a_model_off_the_allow_list_is_400_without_a_call(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_envelope_error(outcome, 400, 5007)
    assert outcome.ai_calls == []


# --- binding errors ------------------------------------------------------------

CAPACITY = "3040: Capacity temporarily exceeded, please try again."


@book.case(request=native({"prompt": "hi"}), ai=[answer_error(CAPACITY)] * 3)
def capacity_errors_are_retried_then_503_with_retry_after(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_envelope_error(outcome, 503, 3040)
    assert len(outcome.ai_calls) == 3  # the first try and CAPACITY_RETRIES=2 more
    assert outcome.header("retry-after")


@book.case(request=native({"prompt": "hi"}), ai=[answer_error(CAPACITY), answer_json(PROMPT_ANSWER)])
def a_capacity_error_then_success_is_200(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    assert len(outcome.ai_calls) == 2


def error_case(code: int, status: int, name: str = "InferenceUpstreamError") -> None:
    """A binding error "<code>: ..." maps to one status, with no retry."""

    def check(outcome: Outcome) -> None:
        outcome.assert_served()
        assert_envelope_error(outcome, status, code)
        assert len(outcome.ai_calls) == 1, "only capacity errors are retried"

    check.__name__ = f"binding_error_{code}_from_{name}_is_{status}"
    book.case(request=native({"prompt": "hi"}), ai=[answer_error(f"{code}: upstream says no", name=name)])(check)


for _code, _status in [
    (5007, 400),
    (3036, 429),
    (5006, 400),
    (3007, 408),
    (5035, 403),
    (3006, 413),
    (3003, 400),
    (3008, 408),
    (3023, 403),
    (3041, 403),
    (3042, 404),
    (5004, 400),
    (5018, 403),
    (5019, 405),
    (8001, 400),
    (3043, 502),
]:
    error_case(_code, _status)
error_case(5007, 400, name="Error")  # a plain Error("5007: ...") reads the same


@book.case(
    request=post_json(
        "/v1/chat/completions", {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}, headers=AUTH
    ),
    ai=[
        answer_error(
            "AiError: This model's maximum context length is 131072 tokens. However, you requested 16000 output "
            "tokens and your prompt contains at least 115073 input tokens, for a total of at least 131073 tokens."
        )
    ],
)
def workers_ais_over_length_error_is_context_length_exceeded(outcome: Outcome) -> None:
    assert outcome.status == 400
    error = outcome.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "context_length_exceeded")


@book.case(request=native({"prompt": "hi", "max_tokens": 128_000}), ai=[])
def a_body_that_cannot_fit_the_context_window_is_refused_before_the_binding(outcome: Outcome) -> None:
    assert_envelope_error(outcome, 400, 5006)
    assert outcome.ai_calls == []
    assert "maximum context length is 128000" in outcome.json()["errors"][0]["message"]


@book.case(request=native({"prompt": "hi"}), ai=[answer_error("something broke", name="Error")])
def an_uncoded_binding_error_is_502(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 502
    assert outcome.json()["success"] is False


@book.case(
    request=native({"prompt": "hi"}),
    env={"UPSTREAM_TIMEOUT_S": "0.1"},
    ai=[answer_json(PROMPT_ANSWER, delay_ms=1000)],
)
def a_binding_that_does_not_answer_in_time_is_504(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_envelope_error(outcome, 504, 3007)
    assert outcome.t_response_ms is not None and outcome.t_response_ms < 600


@book.case(request=native({"prompt": "hi"}), omit=["AI"])
def a_missing_ai_binding_is_a_clear_error(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status is not None and outcome.status >= 500
    assert outcome.json()["success"] is False


# --- streaming -------------------------------------------------------------------

CHUNKS = sse(
    *[{"choices": [{"index": 0, "delta": {"content": word}}]} for word in ["Hel", "lo", ", ", "wor", "ld"]],
    {
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 5},
    },
)


def streamed(**extra: Any) -> HttpRequest:
    return native({"messages": [{"role": "user", "content": "hello"}], "stream": True, **extra})


@book.case(request=streamed(), ai=[answer_stream(CHUNKS, delay_ms=50)])
def sse_reaches_the_client_as_it_is_produced(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    assert (outcome.header("content-type") or "").startswith("text/event-stream")
    assert outcome.text == "".join(CHUNKS)
    (upstream,) = outcome.ai_streams
    assert outcome.chunks[0].t_ms < upstream.produced[-1]["t_ms"] - 200, "first event long before the last"
    assert outcome.ai_calls[0].inputs["stream"] is True


@book.case(request=streamed(), ai=[answer_stream(CHUNKS, delay_ms=50)], hangup=Hangup(after_chunks=2), settle_ms=150)
def a_client_hangup_cancels_the_upstream_stream(outcome: Outcome) -> None:
    outcome.assert_served()
    (upstream,) = outcome.ai_streams
    assert upstream.cancelled is not None, "the upstream stream was not cancelled"
    assert len(upstream.produced) < len(CHUNKS)
    assert all(record["settled"] is not None for record in outcome.wait_until), "the request must finish"


@book.case(request=streamed(), ai=[answer_stream(CHUNKS, delay_ms=20, error_after=3, error_message="reset")])
def a_failure_mid_stream_ends_with_an_error_event_and_no_done(outcome: Outcome) -> None:
    outcome.assert_served()
    events = outcome.events()
    assert events[-1].event == "error"
    assert "[DONE]" not in [e.data for e in events]
    assert [e.data for e in events[:3]] == [c.removeprefix("data: ").strip() for c in CHUNKS[:3]]


@book.case(
    request=streamed(),
    ai=[answer_stream(CHUNKS[:3], delay_ms=10)],  # ends cleanly, but without [DONE]
)
def an_upstream_that_stops_early_is_reported(outcome: Outcome) -> None:
    outcome.assert_served()
    events = outcome.events()
    assert events[-1].event == "error"
    assert "[DONE]" not in [e.data for e in events]


@book.case(
    request=streamed(),
    env={"STREAM_IDLE_TIMEOUT_S": "0.1"},
    ai=[answer_stream(CHUNKS, delay_ms=20, stall_after=2)],
    settle_ms=50,
)
def a_stalled_stream_ends_with_an_error_event_and_cancels_upstream(outcome: Outcome) -> None:
    outcome.assert_served()
    events = outcome.events()
    assert events[-1].event == "error"
    assert "[DONE]" not in [e.data for e in events]
    (upstream,) = outcome.ai_streams
    assert upstream.cancelled is not None, "the stalled upstream must be cancelled, not left open"


def split_bytes(text: str, *cuts: int) -> list[bytes]:
    data = text.encode()
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in pairwise(edges)]


UTF8_EVENTS = sse({"response": "Grüße aus Zürich 👋"})
UTF8_TEXT = "".join(UTF8_EVENTS)
EMOJI_AT = UTF8_TEXT.encode().index("👋".encode())


@book.case(
    request=native({"prompt": "hi", "stream": True}),
    ai=[answer_stream(split_bytes(UTF8_TEXT, 12, EMOJI_AT + 1, EMOJI_AT + 3), delay_ms=10)],
)
def multibyte_utf8_split_across_upstream_chunks_survives(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.text == UTF8_TEXT
    assert json.loads(outcome.events()[0].data)["response"] == "Grüße aus Zürich 👋"


@book.case(
    request=native({"prompt": "hi", "stream": True}),
    ai=[answer_stream(split_bytes(UTF8_TEXT, 5, 20), delay_ms=10)],
)
def the_client_only_ever_receives_whole_events(outcome: Outcome) -> None:
    outcome.assert_served()
    for chunk in outcome.chunks:
        assert chunk.data == b"" or chunk.data.endswith(b"\n\n"), chunk


@book.case(request=native({"prompt": "hi", "stream": True}), ai=[answer_json(PROMPT_ANSWER)])
def a_json_object_answer_to_a_stream_request_becomes_an_event_stream(outcome: Outcome) -> None:
    outcome.assert_served()
    assert (outcome.header("content-type") or "").startswith("text/event-stream")
    events = outcome.events()
    assert events[-1].data == "[DONE]"
    assert json.loads(events[0].data)["response"] == "Hello!"


@book.case(
    request=native({"prompt": "hi", "stream": True}),
    ai=[answer_stream([json.dumps(PROMPT_ANSWER)])],
)
def a_json_body_streamed_to_a_stream_request_becomes_an_event_stream(outcome: Outcome) -> None:
    # workerd's binding returns the raw body for every `stream: true` request, whatever its
    # content type (ai-api.ts): a JSON answer then arrives as a ReadableStream of JSON bytes.
    outcome.assert_served()
    events = outcome.events()
    assert events[-1].data == "[DONE]"
    assert json.loads(events[0].data)["response"] == "Hello!"


@book.case(
    request=native({"input": "What is 2+2?", "stream": True}),
    ai=[answer_json(RESPONSE)],
)
def a_streamed_responses_request_asks_for_json_and_streams_it(outcome: Outcome) -> None:
    outcome.assert_served()
    (call,) = outcome.ai_calls
    assert "stream" not in call.inputs  # gpt-oss answers Responses + stream with an empty stream
    assert outcome.events()[-1].data == "[DONE]"


# --- the OpenAI dialect --------------------------------------------------------------

REASONED = sse(
    *[{"choices": [{"index": 0, "delta": {"reasoning": word}}]} for word in ["Think", "ing"]],
    *[{"choices": [{"index": 0, "delta": {"content": word}}]} for word in ["Hel", "lo", ", ", "wor", "ld"]],
    {
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 4, "completion_tokens": 7},
    },
)
HELLO = [{"role": "user", "content": "hello"}]


def openai(path: str, body: dict[str, Any]) -> HttpRequest:
    return post_json(path, {"model": "gpt-oss-120b", **body}, AUTH)


def data_of(outcome: Outcome) -> list[Any]:
    return [json.loads(event.data) for event in outcome.events() if event.data != "[DONE]"]


@book.case(request=openai("/v1/chat/completions", {"messages": HELLO}), ai=[answer_json(CHAT)])
def chat_completions_answers_a_chat_completion(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    reply = outcome.json()
    assert reply["object"] == "chat.completion" and reply["choices"][0]["message"]["content"] == "Hi!"
    (call,) = outcome.ai_calls
    assert call.model == MODEL and call.inputs["messages"] == HELLO and call.inputs["max_tokens"] == 8192


@book.case(
    request=openai(
        "/v1/chat/completions", {"messages": HELLO, "stream": True, "stream_options": {"include_usage": True}}
    ),
    ai=[answer_stream(REASONED, delay_ms=50)],
)
def chat_completions_streams_chunks_as_the_model_produces_them(outcome: Outcome) -> None:
    outcome.assert_served()
    chunks = data_of(outcome)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"]) == "Hello, world"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] == 7
    assert outcome.events()[-1].data == "[DONE]"
    (upstream,) = outcome.ai_streams
    assert outcome.chunks[1].t_ms < upstream.produced[-1]["t_ms"] - 200, "deltas leave before the model finishes"


@book.case(
    request=openai("/v1/responses", {"input": "hello", "stream": True}),
    ai=[answer_stream(REASONED, delay_ms=50)],
)
def responses_streams_the_event_grammar_token_by_token(outcome: Outcome) -> None:
    outcome.assert_served()
    events = data_of(outcome)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    deltas = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert deltas == ["Hel", "lo", ", ", "wor", "ld"]
    assert events[-1]["response"]["output"][1]["content"][0]["text"] == "Hello, world"
    (call,) = outcome.ai_calls
    assert call.inputs["stream"] is True and "messages" in call.inputs, "sent as the messages form, which streams"
    (upstream,) = outcome.ai_streams
    first_delta = next(i for i, c in enumerate(outcome.chunks) if b"output_text.delta" in c.data)
    assert outcome.chunks[first_delta].t_ms < upstream.produced[-1]["t_ms"] - 100


@book.case(
    request=openai("/v1/responses", {"input": "hello", "stream": True}),
    ai=[answer_stream(REASONED, delay_ms=10, error_after=4, error_message="reset")],
)
def a_responses_stream_that_breaks_ends_with_response_failed(outcome: Outcome) -> None:
    outcome.assert_served()
    events = data_of(outcome)
    assert events[-1]["type"] == "response.failed" and events[-1]["response"]["status"] == "failed"


@book.case(request=openai("/v1/completions", {"prompt": "Say hello."}), ai=[answer_json(PROMPT_ANSWER)])
def completions_answers_a_text_completion(outcome: Outcome) -> None:
    outcome.assert_served()
    reply = outcome.json()
    assert reply["object"] == "text_completion" and reply["choices"][0]["text"] == PROMPT_ANSWER["response"]
    assert outcome.ai_calls[0].inputs["prompt"] == "Say hello."


@book.case(request=get("/v1/models", AUTH))
def models_lists_the_allowed_models(outcome: Outcome) -> None:
    outcome.assert_served()
    assert [m["id"] for m in outcome.json()["data"]] == [MODEL]


@book.case(request=openai("/v1/chat/completions", {"messages": HELLO}), ai=[answer_error("5006: bad input")])
def an_upstream_error_uses_openais_envelope(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 400
    assert outcome.json()["error"]["type"] == "invalid_request_error"


# --- the Anthropic dialect ----------------------------------------------------------------


def anthropic(body: dict[str, Any], headers: dict[str, str] | None = None, path: str = "/v1/messages") -> HttpRequest:
    key = {"x-api-key": TEST_KEY, "anthropic-version": "2023-06-01"}
    return post_json(path, {"model": "gpt-oss-120b", "max_tokens": 1024, **body}, key if headers is None else headers)


def names_of(outcome: Outcome) -> list[str]:
    """Event names, each run of the same name as one."""
    names = [event.event or "" for event in outcome.events()]
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


@book.case(request=anthropic({"messages": HELLO, "system": "Be brief."}), ai=[answer_json(CHAT)])
def messages_answers_an_anthropic_message(outcome: Outcome) -> None:
    outcome.assert_served()
    reply = outcome.json()
    assert (reply["type"], reply["stop_reason"], reply["content"]) == (
        "message",
        "end_turn",
        [{"type": "text", "text": "Hi!"}],
    )
    assert reply["usage"] == {"input_tokens": 11, "output_tokens": 2}
    assert outcome.header("request-id") == outcome.header("x-request-id")
    (call,) = outcome.ai_calls
    assert call.inputs["messages"] == [{"role": "system", "content": "Be brief."}, *HELLO]
    assert call.inputs["max_tokens"] == 1024 and call.non_plain == []


@book.case(
    request=anthropic({"messages": HELLO, "stream": True, "thinking": {"type": "enabled", "budget_tokens": 2048}}),
    ai=[answer_stream(REASONED, delay_ms=50)],
)
def messages_streams_anthropics_grammar_as_the_model_produces_it(outcome: Outcome) -> None:
    outcome.assert_served()
    assert names_of(outcome) == [
        "message_start",
        "content_block_start",
        "content_block_delta",  # thinking, then its signature
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    data = [json.loads(event.data) for event in outcome.events()]
    text = "".join(d["delta"].get("text", "") for d in data if d["type"] == "content_block_delta")
    thinking = "".join(d["delta"].get("thinking", "") for d in data if d["type"] == "content_block_delta")
    assert (text, thinking) == ("Hello, world", "Thinking")
    assert data[-2]["delta"]["stop_reason"] == "end_turn" and data[-2]["usage"]["output_tokens"] == 7
    (upstream,) = outcome.ai_streams
    first_text = next(i for i, c in enumerate(outcome.chunks) if b"text_delta" in c.data)
    assert outcome.chunks[first_text].t_ms < upstream.produced[-1]["t_ms"] - 100, "deltas leave as they come"


@book.case(
    request=anthropic({"messages": HELLO, "stream": True}),
    env={"STREAM_PING_S": "0.1"},
    ai=[answer_stream(REASONED, first_delay_ms=700, delay_ms=10)],
)
def a_slow_model_gets_pings_until_it_starts(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    events = outcome.events()
    first_block = next(i for i, event in enumerate(events) if event.event == "content_block_start")
    assert events[0].event == "message_start"
    assert [event.event for event in events[1:first_block]].count("ping") >= 4
    assert outcome.chunks[0].t_ms < 400, "the stream opened while the model was still silent"
    assert events[-1].event == "message_stop"


@book.case(
    request=anthropic({"messages": HELLO, "stream": True}),
    ai=[answer_stream(REASONED, delay_ms=10, error_after=4, error_message="reset")],
)
def a_broken_messages_stream_ends_with_anthropics_error_event(outcome: Outcome) -> None:
    outcome.assert_served()
    events = outcome.events()
    assert events[-1].event == "error" and "message_stop" not in [event.event for event in events]
    error = json.loads(events[-1].data)
    assert error["type"] == "error" and error["error"]["type"] == "api_error"


@book.case(
    request=anthropic({"messages": HELLO, "stream": True}),
    ai=[answer_stream(REASONED, delay_ms=50)],
    hangup=Hangup(after_text="text_delta"),
    settle_ms=150,
)
def a_client_leaving_a_messages_stream_cancels_the_upstream(outcome: Outcome) -> None:
    outcome.assert_served()
    (upstream,) = outcome.ai_streams
    assert upstream.cancelled is not None and len(upstream.produced) < len(REASONED)


@book.case(request=anthropic({"messages": HELLO}, headers={"x-api-key": "gw-wrong"}))
def a_bad_key_on_messages_is_in_anthropics_envelope(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 401
    assert outcome.json()["type"] == "error" and outcome.json()["error"]["type"] == "authentication_error"
    assert outcome.ai_calls == []


@book.case(request=anthropic({"messages": HELLO}), ai=[answer_error(CAPACITY)] * 3)
def an_overloaded_model_on_messages_is_a_529(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 529 and outcome.header("retry-after") == "2"
    assert outcome.json()["error"]["type"] == "overloaded_error"


@book.case(request=anthropic({"messages": HELLO}, path="/v1/messages/count_tokens"))
def count_tokens_answers_without_a_model_call(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200 and outcome.json()["input_tokens"] > 0 and outcome.ai_calls == []


# --- logs --------------------------------------------------------------------------


@book.case(request=native({"prompt": "a secret prompt"}), ai=[answer_json(PROMPT_ANSWER)])
def one_json_log_line_per_request_without_the_key_or_prompt(outcome: Outcome) -> None:
    outcome.assert_served()
    records = [json.loads(line.removeprefix("stdout: ")) for line in outcome.logs if line.startswith("stdout: {")]
    assert len(records) == 1, outcome.logs
    (record,) = records
    assert (record["status"], record["key"], record["model"]) == (200, "conformance", MODEL)
    assert (record["input_tokens"], record["output_tokens"]) == (5, 2)
    text = "\n".join(outcome.logs)
    assert TEST_KEY not in text and "a secret prompt" not in text


# DESIGN.md, hard constraint 2: CPython-only modules never load on the Worker's import path. The
# standard modules here are what the local-only code imports (the emulator uses hashlib and
# dataclasses' field helpers, key making uses secrets); the Worker's path must not pay for them.
CPYTHON_ONLY = {"ssl", "socket", "threading", "subprocess", "uvicorn", "httpx", "anyio", "starlette"}
LOCAL_ONLY_STDLIB = {"hashlib", "secrets", "sqlite3", "tomllib", "argparse"}
LOCAL_ONLY_GATEWAY = ("gateway.local", "gateway.cli")


def test_the_gateway_imports(pyodide_run: PyodideRun) -> None:
    imported = pyodide_run.result["imports"]["gateway"]
    assert "error" not in imported, f"import entry failed in Pyodide:\n{imported.get('error')}"
    new_modules = set(imported["new_modules"])
    assert not new_modules & CPYTHON_ONLY, sorted(new_modules & CPYTHON_ONLY)
    assert not new_modules & LOCAL_ONLY_STDLIB, sorted(new_modules & LOCAL_ONLY_STDLIB)
    local = sorted(m for m in new_modules if m.startswith(LOCAL_ONLY_GATEWAY))
    assert not local, local
    # The emulator moved under gateway.local: name it, so a move back would still be caught.
    assert "gateway.local.emulator" not in new_modules
    # And the import did load the layers it serves from (a vacuous pass is not a pass).
    for layer in (
        "gateway._asgi.sse",
        "gateway._middleware.auth",
        "gateway._openai.chat",
        "gateway._anthropic.route",
        "gateway.durable",
    ):
        assert layer in new_modules, layer


def test_the_benchmark_times_answered_requests(pyodide_run: PyodideRun) -> None:
    # A benchmark of error answers measures nothing useful (it once timed 502s: the app it
    # used had kept the previous case's AI double). Absent when CONFORMANCE_BENCH_ITERATIONS=0.
    bench = pyodide_run.result["bench"]
    if bench is None:
        return
    assert "error" not in bench, bench.get("error")
    assert bench["full_statuses"] == [200], "\n".join(bench["logs"][:3])


@pytest.mark.parametrize("case", book.params())
def test_gateway(case: Case, pyodide_run: PyodideRun) -> None:
    pyodide_run.check(case)
