"""`POST /ai/run/{model}`: the forms end to end, the REST envelope, and the bad-input table."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.local.emulator import Emulator, Faults
from tests.client import request, run
from tests.conftest import NATIVE, MakeGateway

FORMS: list[dict[str, Any]] = [
    {"prompt": "Tell me a joke"},
    {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}], "max_tokens": 500},
    {"input": "What is 2+2?", "instructions": "answer briefly", "reasoning": {"effort": "low"}},
]


@pytest.mark.parametrize("body", FORMS)
def test_each_form_reaches_the_backend_unchanged_and_comes_back_in_the_rest_envelope(
    make_gateway: MakeGateway, body: dict[str, Any]
) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "POST", NATIVE, body=body, headers=gw.auth))
    assert reply.status == 200
    envelope = reply.json()
    assert envelope["success"] is True and envelope["errors"] == [] and envelope["messages"] == []
    model, inputs, options = gw.backend.calls[-1]
    assert (model, inputs, options) == ("@cf/openai/gpt-oss-120b", body, {})
    assert reply.headers["x-gateway-backend"] == "emulator"
    assert reply.headers["x-request-id"]
    assert reply.headers["server-timing"].startswith("gateway;dur=")


def test_the_result_is_what_the_backend_answered(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    body = {"messages": [{"role": "user", "content": "hello"}]}
    reply = run(request(gw.app, "POST", NATIVE, body=body, headers=gw.auth))
    result = reply.json()["result"]
    assert result["object"] == "chat.completion"
    assert "hello" in result["choices"][0]["message"]["content"]
    assert result["usage"]["prompt_tokens"] > 0


def test_batch_is_queued_and_polled(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    queued = run(request(gw.app, "POST", NATIVE, body={"requests": [{"input": "a"}, {"input": "b"}]}, headers=gw.auth))
    assert queued.status == 200
    assert gw.backend.calls[-1][2] == {"queueRequest": True}
    request_id = queued.json()["result"]["request_id"]
    assert queued.json()["result"]["status"] == "queued"
    first = run(request(gw.app, "POST", NATIVE, body={"request_id": request_id}, headers=gw.auth))
    assert first.json()["result"]["status"] == "running"
    done = run(request(gw.app, "POST", NATIVE, body={"request_id": request_id}, headers=gw.auth)).json()["result"]
    assert [item["id"] for item in done["responses"]] == [0, 1]
    assert done["responses"][0]["result"]["object"] == "response"


def test_query_queue_request_is_passed_as_an_option(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    run(
        request(gw.app, "POST", NATIVE, body={"requests": [{"input": "a"}]}, headers=gw.auth, query="queueRequest=true")
    )
    assert gw.backend.calls[-1][2] == {"queueRequest": True}


def test_the_20b_model_is_served_only_when_a_variable_adds_it(make_gateway: MakeGateway) -> None:
    path = "/ai/run/@cf/openai/gpt-oss-20b"
    refused = make_gateway()
    reply = run(request(refused.app, "POST", path, body={"prompt": "x"}, headers=refused.auth))
    assert reply.status == 400
    assert reply.json()["errors"][0]["code"] == 5007
    allowed = make_gateway(MODELS="@cf/openai/gpt-oss-120b,@cf/openai/gpt-oss-20b")
    assert run(request(allowed.app, "POST", path, body={"prompt": "x"}, headers=allowed.auth)).status == 200


def test_healthz_answers_without_a_key(make_gateway: MakeGateway) -> None:
    reply = run(request(make_gateway().app, "GET", "/healthz"))
    assert reply.status == 200
    assert reply.json()["status"] == "ok"


# (how the request is wrong, status, error code in the envelope, words the message must contain)
BAD_INPUT: list[tuple[str, dict[str, Any], int, int, str]] = [
    ("not json", {"raw": b"{nope"}, 400, 5006, "not valid JSON"),
    ("not utf-8", {"raw": b'{"prompt": "\xff\xfe"}'}, 400, 5006, "not valid UTF-8"),
    ("json array", {"body": [1, 2]}, 400, 5006, "must be a JSON object, got a JSON array"),
    ("json string", {"body": "hi"}, 400, 5006, "got a JSON string"),
    ("empty body", {"raw": b""}, 400, 5006, "body is empty"),
    ("NaN", {"raw": b'{"prompt": "x", "temperature": NaN}'}, 400, 5006, "NaN is not a JSON value"),
    ("two forms", {"body": {"prompt": "x", "input": "y"}}, 400, 5006, "matches two input forms"),
    ("empty prompt", {"body": {"prompt": ""}}, 400, 5006, "`prompt` must be a string of at least 1 character"),
    (
        "string temperature",
        {"body": {"prompt": "x", "temperature": "hot"}},
        400,
        5006,
        "`temperature` must be a number",
    ),
    (
        "boolean max_tokens",
        {"body": {"prompt": "x", "max_tokens": False}},
        400,
        5006,
        "`max_tokens` must be an integer",
    ),
    ("top_k range", {"body": {"prompt": "x", "top_k": 100}}, 400, 5006, "`top_k` must be an integer from 1 to 50"),
    (
        "null content",
        {"body": {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}]}},
        400,
        5006,
        "not null",
    ),
    ("message without role", {"body": {"messages": [{"content": "x"}]}}, 400, 5006, "`messages[0].role` is required"),
    (
        "message without content",
        {"body": {"messages": [{"role": "user"}]}},
        400,
        5006,
        "`messages[0].content` is required",
    ),
    (
        "wrong content type",
        {"raw": b"prompt=x", "headers": {"content-type": "application/x-www-form-urlencoded"}},
        415,
        5006,
        "Content-Type must be application/json",
    ),
    (
        "too large",
        {"raw": b'{"prompt": "' + b"x" * 3000 + b'"}', "variables": {"MAX_BODY_BYTES": "2048"}},
        413,
        3006,
        "larger than the limit of 2048 bytes",
    ),
    ("bad content-length", {"raw": b"{}", "headers": {"content-length": "ten"}}, 400, 5006, "Content-Length"),
    ("unknown model", {"path": "/ai/run/@cf/meta/llama-3-8b", "body": {"prompt": "x"}}, 400, 5007, "not served here"),
    ("unknown route", {"path": "/ai/walk", "body": {"prompt": "x"}}, 404, 7000, "no route POST /ai/walk"),
    ("wrong method", {"method": "GET"}, 405, 7001, "GET is not allowed"),
]


@pytest.mark.parametrize(("case", "spec", "status", "code", "says"), BAD_INPUT, ids=[row[0] for row in BAD_INPUT])
def test_bad_input_gets_a_clear_4xx_and_the_server_keeps_serving(
    make_gateway: MakeGateway, case: str, spec: dict[str, Any], status: int, code: int, says: str
) -> None:
    gw = make_gateway(**spec.get("variables", {}))
    reply = run(
        request(
            gw.app,
            spec.get("method", "POST"),
            spec.get("path", NATIVE),
            body=spec.get("body"),
            raw=spec.get("raw"),
            headers={**gw.auth, **spec.get("headers", {})},
        )
    )
    assert reply.status == status, reply.body
    if reply.headers.get("content-type") == "application/json" and spec.get("path", NATIVE).startswith("/ai/run/"):
        error = reply.json()["errors"][0]
        assert error["code"] == code
        assert says in error["message"], error["message"]
    else:
        assert says in reply.json()["error"]["message"]
    assert gw.backend.calls == []
    after = run(request(gw.app, "POST", NATIVE, body={"prompt": "still there?"}, headers=gw.auth))
    assert after.status == 200


def test_a_wrong_method_says_which_are_allowed(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "DELETE", "/healthz", headers=gw.auth))
    assert reply.status == 405
    assert reply.headers["allow"] == "GET"


def test_field_errors_point_at_the_field(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    body = {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": 7}]}
    reply = run(request(gw.app, "POST", NATIVE, body=body, headers=gw.auth))
    assert reply.json()["errors"][0]["source"] == {"pointer": "/messages/1/content"}


# Workers AI's error codes, and the status each must become (DESIGN.md's table).
UPSTREAM_ERRORS = [
    (3036, 429),
    (3007, 408),
    (3006, 413),
    (5007, 400),
    (5035, 403),
    (5006, 400),
    (8006, 400),
    (9999, 502),
]


@pytest.mark.parametrize(("code", "status"), UPSTREAM_ERRORS)
def test_workers_ai_errors_map_to_their_status_in_the_rest_envelope(
    make_gateway: MakeGateway, code: int, status: int
) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(error=code)))
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "x"}, headers=gw.auth))
    assert reply.status == status
    assert reply.json()["errors"][0]["code"] == code
    assert reply.json()["success"] is False


def test_daily_allocation_errors_carry_retry_after(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(error=3036)))
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "x"}, headers=gw.auth))
    assert 1 <= int(reply.headers["retry-after"]) <= 86400


def test_each_request_logs_one_json_line_with_the_key_name_not_the_key(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    run(request(gw.app, "POST", NATIVE, body={"prompt": "hello"}, headers=gw.auth))
    assert len(gw.logs) == 1
    line = json.loads(gw.logs[0])
    assert line["key"] == "tester" and line["status"] == 200 and line["model"] == "@cf/openai/gpt-oss-120b"
    assert line["input_tokens"] > 0 and line["output_tokens"] > 0 and line["cost_usd"] > 0
    assert gw.key not in gw.logs[0]


def test_prompts_are_logged_only_when_turned_on(make_gateway: MakeGateway) -> None:
    quiet = make_gateway()
    run(request(quiet.app, "POST", NATIVE, body={"prompt": "secret plans"}, headers=quiet.auth))
    assert "secret plans" not in quiet.logs[-1]
    loud = make_gateway(LOG_PROMPTS="true")
    run(request(loud.app, "POST", NATIVE, body={"prompt": "secret plans"}, headers=loud.auth))
    line = json.loads(loud.logs[-1])
    assert line["request_body"] == {"prompt": "secret plans"}
    assert "secret plans" in line["result"]["response"]


def test_fields_workers_ai_accepts_and_the_gateway_does_not_know_pass_through_named(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    for body in (
        {"prompt": "hi", "model": "@cf/openai/gpt-oss-120b"},
        {"messages": [{"role": "user", "content": "hi"}], "stop": ["\n"]},
    ):
        reply = run(request(gw.app, "POST", NATIVE, body=body, headers=gw.auth))
        assert reply.status == 200
        assert gw.backend.calls[-1][1] == body  # unchanged
        unknown = [name for name in body if name in ("model", "stop")]
        assert reply.headers["x-gateway-passed-through"] == ", ".join(unknown)
        assert json.loads(gw.logs[-1])["passed_through"] == unknown
        assert "x-gateway-ignored" not in reply.headers
