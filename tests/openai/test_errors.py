"""Errors in OpenAI's envelope and statuses, so the SDK raises its matching classes."""

from __future__ import annotations

import json
from typing import Any

import pytest

import openai
from gateway.local.emulator import Emulator, Faults
from tests.client import request, run
from tests.conftest import MakeGateway
from tests.openai.conftest import MakeClient

MODEL = "gpt-oss-120b"
HELLO: Any = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("fault", "error_class", "status"),
    [
        (Faults(error=5006), openai.BadRequestError, 400),
        (Faults(error=5035), openai.PermissionDeniedError, 403),
        (Faults(error=3036), openai.RateLimitError, 429),
        (Faults(capacity=9), openai.InternalServerError, 503),
        (Faults(error=9999), openai.InternalServerError, 502),
        (Faults(error=3006), openai.APIStatusError, 413),
    ],
)
def test_upstream_errors_raise_the_sdk_class(
    make_client: MakeClient, fault: Faults, error_class: type, status: int
) -> None:
    client, _ = make_client(Emulator(token_delay_ms=0, faults=fault), CAPACITY_RETRIES="0")
    with pytest.raises(error_class) as caught:
        run(client.chat.completions.create(model=MODEL, messages=HELLO))
    assert caught.value.status_code == status  # type: ignore[attr-defined]


def test_a_bad_key_raises_authentication_error(make_client: MakeClient) -> None:
    client, _ = make_client()
    client = client.with_options(api_key="wrong")
    with pytest.raises(openai.AuthenticationError, match="not valid"):
        run(client.chat.completions.create(model=MODEL, messages=HELLO))


def test_an_unknown_model_raises_not_found_with_model_not_found(make_client: MakeClient) -> None:
    client, _ = make_client()
    with pytest.raises(openai.NotFoundError) as caught:
        run(client.responses.create(model="gpt-5", input="x"))
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        run(client.models.retrieve("llama"))


# (route, body, status, param, words the message must contain)
BAD: list[tuple[str, Any, int, str | None, str]] = [
    ("/v1/chat/completions", b"{nope", 400, None, "not valid JSON"),
    ("/v1/chat/completions", [1], 400, None, "must be a JSON object"),
    ("/v1/chat/completions", {"model": MODEL}, 400, "messages", "`messages` is required"),
    ("/v1/chat/completions", {"messages": HELLO}, 400, "model", "`model` is required"),
    ("/v1/chat/completions", {"model": MODEL, "messages": HELLO, "temperature": "hot"}, 400, "temperature", "0 to 2"),
    ("/v1/chat/completions", {"model": MODEL, "messages": HELLO, "temperature": 2.5}, 400, "temperature", "0 to 2"),
    ("/v1/chat/completions", {"model": MODEL, "messages": HELLO, "max_tokens": True}, 400, "max_tokens", "integer"),
    ("/v1/chat/completions", {"model": MODEL, "messages": HELLO, "n": 2}, 400, "n", "one choice"),
    ("/v1/chat/completions", {"model": MODEL, "messages": HELLO, "logprobs": True}, 400, "logprobs", "log prob"),
    ("/v1/chat/completions", {"model": MODEL, "messages": HELLO, "audio": {"voice": "x"}}, 400, "audio", "text-only"),
    (
        "/v1/chat/completions",
        {"model": MODEL, "messages": HELLO, "logit_bias": {"50256": -100}},
        400,
        "logit_bias",
        "logit_bias",
    ),
    ("/v1/completions", {"model": MODEL, "prompt": "x", "best_of": 3}, 400, "best_of", "one completion"),
    ("/v1/chat/completions", {"model": MODEL, "messages": [{"content": "x"}]}, 400, "messages[0].role", "role"),
    ("/v1/chat/completions", {"model": MODEL, "messages": [{"role": "user"}]}, 400, "messages[0].content", "required"),
    (
        "/v1/chat/completions",
        {"model": MODEL, "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        400,
        "messages[0].content[0]",
        "text-only",
    ),
    (
        "/v1/chat/completions",
        {"model": MODEL, "messages": HELLO, "max_tokens": 10, "max_completion_tokens": 20},
        400,
        "max_tokens",
        "disagree",
    ),
    (
        "/v1/chat/completions",
        {"model": MODEL, "messages": HELLO, "tool_choice": "required"},
        400,
        "tool_choice",
        "no `tools`",
    ),
    ("/v1/chat/completions", {"model": "nope", "messages": HELLO}, 404, "model", "does not exist"),
    ("/v1/responses", {"model": MODEL, "input": "x", "background": True}, 400, "background", "background"),
    (
        "/v1/responses",
        {"model": MODEL, "input": "x", "previous_response_id": "resp_1"},
        404,
        "previous_response_id",
        "not found",
    ),
    (
        "/v1/responses",
        {"model": MODEL, "input": "x", "tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}},
        400,
        "tool_choice",
        "cannot run",
    ),
    ("/v1/responses", {"model": MODEL, "input": ""}, 400, "input", "at least 1 character"),
    (
        "/v1/responses",
        {"model": MODEL, "input": [{"type": "item_reference", "id": "msg_1"}]},
        404,
        "input[0].id",
        "not found",
    ),
    (
        "/v1/responses",
        {"model": MODEL, "input": [{"type": "computer_screenshot"}]},
        400,
        "input[0].type",
        "accepted input items",
    ),
    (
        "/v1/responses",
        {"model": MODEL, "input": "x", "reasoning": {"effort": "minimal"}},
        400,
        "reasoning.effort",
        '"low"',
    ),
    ("/v1/completions", {"model": MODEL, "prompt": "x", "suffix": "y"}, 400, "suffix", "insertion"),
    ("/v1/completions", {"model": MODEL, "prompt": ""}, 400, "prompt", "at least 1 character"),
]


@pytest.mark.parametrize(("path", "body", "status", "param", "says"), BAD)
def test_bad_input_names_the_field(
    make_gateway: MakeGateway, path: str, body: Any, status: int, param: str | None, says: str
) -> None:
    gw = make_gateway()
    raw = body if isinstance(body, bytes) else None
    reply = run(request(gw.app, "POST", path, body=None if raw else body, raw=raw, headers=gw.auth))
    assert reply.status == status, reply.body
    error = reply.json()["error"]
    assert error["param"] == param and says in error["message"], error
    assert gw.backend.calls == []


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/v1/chat/completions", 405), ("POST", "/v1/models", 405), ("POST", "/v1/embeddings", 404)],
)
def test_routes_and_methods(make_gateway: MakeGateway, method: str, path: str, status: int) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, method, path, body={}, headers=gw.auth))
    assert reply.status == status
    assert reply.json()["error"]["type"] in ("invalid_request_error", "not_found_error")


def test_oversized_and_non_json_bodies(make_gateway: MakeGateway) -> None:
    gw = make_gateway(MAX_BODY_BYTES="2048")
    big = run(request(gw.app, "POST", "/v1/chat/completions", raw=b"{" + b" " * 4096 + b"}", headers=gw.auth))
    assert big.status == 413 and "MAX_BODY_BYTES" in big.json()["error"]["message"]
    form = run(
        request(gw.app, "POST", "/v1/chat/completions", raw=b"a=b", headers={**gw.auth, "content-type": "text/plain"})
    )
    assert form.status == 415


def test_null_optional_fields_mean_not_set(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    nulls = dict.fromkeys(
        [
            "temperature",
            "top_p",
            "seed",
            "max_tokens",
            "stop",
            "tools",
            "tool_choice",
            "response_format",
            "stream",
            "stream_options",
            "user",
            "n",
            "logprobs",
        ]
    )
    chat = run(
        request(
            gw.app, "POST", "/v1/chat/completions", headers=gw.auth, body={"model": MODEL, "messages": HELLO, **nulls}
        )
    )
    assert chat.status == 200, chat.body
    assert gw.backend.calls[-1][1]["max_tokens"] == 8192
    response = run(
        request(
            gw.app,
            "POST",
            "/v1/responses",
            headers=gw.auth,
            body={
                "model": MODEL,
                "input": "x",
                "instructions": None,
                "max_output_tokens": None,
                "temperature": None,
                "metadata": None,
                "previous_response_id": None,
            },
        )
    )
    assert response.status == 200, response.body
    for path, required in (
        ("/v1/chat/completions", "messages"),
        ("/v1/responses", "input"),
        ("/v1/completions", "prompt"),
    ):
        reply = run(request(gw.app, "POST", path, headers=gw.auth, body={"model": MODEL, required: None}))
        assert reply.status == 400 and reply.json()["error"]["param"] == required


def test_the_stored_response_routes_answer_405_for_other_methods(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "POST", "/v1/responses/resp_1", headers=gw.auth, body={}))
    assert reply.status == 405 and reply.headers["allow"] == "DELETE, GET"
    reply = run(request(gw.app, "GET", "/v1/responses/resp_1", query="stream=true", headers=gw.auth))
    assert reply.status == 400 and reply.json()["error"]["param"] == "stream"


def test_log_prompts_puts_an_openai_request_body_on_the_log_line(make_gateway: MakeGateway) -> None:
    body = {"model": MODEL, "messages": HELLO}
    quiet = make_gateway()
    run(request(quiet.app, "POST", "/v1/chat/completions", headers=quiet.auth, body=body))
    assert "request_body" not in json.loads(quiet.logs[-1])
    loud = make_gateway(LOG_PROMPTS="true")
    run(request(loud.app, "POST", "/v1/chat/completions", headers=loud.auth, body=body))
    assert json.loads(loud.logs[-1])["request_body"] == body
