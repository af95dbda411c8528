"""Errors on the Messages routes: Anthropic's envelope, types and statuses, so the SDK raises its own
classes (and retries what it should); the auth, limit and CORS layers answer there the same way."""

from __future__ import annotations

import json
from typing import Any

import pytest

import anthropic
from gateway.local.emulator import Emulator, Faults
from gateway.local.keygen import sha256_hex
from tests.anthropic.conftest import MakeAnthropic
from tests.client import request, run
from tests.conftest import KEY, MakeGateway, tiers

MODEL = "gpt-oss-120b"
HELLO: Any = [{"role": "user", "content": "hi"}]


class NotAnAnswer:
    """A backend with a bug: it answers with something that is neither JSON nor a stream."""

    name = "broken"

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> Any:
        return "not an answer"


@pytest.mark.parametrize(
    ("backend", "variables", "error_class", "status", "kind"),
    [
        (
            Emulator(token_delay_ms=0, faults=Faults(error=5006)),
            {},
            anthropic.BadRequestError,
            400,
            "invalid_request_error",
        ),
        (
            Emulator(token_delay_ms=0, faults=Faults(error=5035)),
            {},
            anthropic.PermissionDeniedError,
            403,
            "permission_error",
        ),
        (Emulator(token_delay_ms=0, faults=Faults(error=3036)), {}, anthropic.RateLimitError, 429, "rate_limit_error"),
        (
            Emulator(token_delay_ms=0, faults=Faults(error=3006)),
            {},
            anthropic.ContentTooLargeError,
            413,
            "request_too_large",
        ),
        (
            Emulator(token_delay_ms=0, faults=Faults(error=3007)),
            {},
            anthropic.GatewayTimeoutError,
            504,
            "timeout_error",
        ),
        (
            Emulator(token_delay_ms=0, faults=Faults(hang=True)),
            {"UPSTREAM_TIMEOUT_S": "0.05"},
            anthropic.GatewayTimeoutError,
            504,
            "timeout_error",
        ),
        (
            Emulator(token_delay_ms=0, faults=Faults(capacity=9)),
            {"CAPACITY_RETRIES": "0"},
            anthropic.OverloadedError,
            529,
            "overloaded_error",
        ),
        (Emulator(token_delay_ms=0, faults=Faults(error=9999)), {}, anthropic.InternalServerError, 502, "api_error"),
        (NotAnAnswer(), {}, anthropic.InternalServerError, 502, "api_error"),  # the upstream is at fault
    ],
)
def test_upstream_errors_raise_the_sdk_class(
    make_anthropic: MakeAnthropic, backend: Any, variables: dict[str, str], error_class: type, status: int, kind: str
) -> None:
    client, gw = make_anthropic(backend, **variables)
    with pytest.raises(error_class) as caught:
        run(client.messages.create(model=MODEL, max_tokens=99, messages=HELLO))
    error: Any = caught.value
    assert (error.status_code, error.type) == (status, kind)
    assert error.body["type"] == "error" and error.body["error"]["message"]
    assert error.request_id == error.body["request_id"] == json.loads(gw.logs[-1])["request_id"]


def test_retry_after_comes_with_an_overloaded_model_and_a_spent_allocation(make_gateway: MakeGateway) -> None:
    body = {"model": MODEL, "max_tokens": 9, "messages": HELLO}
    overloaded = make_gateway(Emulator(token_delay_ms=0, faults=Faults(capacity=9)), CAPACITY_RETRIES="0")
    assert (
        run(request(overloaded.app, "POST", "/v1/messages", body=body, headers=overloaded.auth)).headers["retry-after"]
        == "2"
    )
    daily = make_gateway(Emulator(token_delay_ms=0, faults=Faults(error=3036)))
    wait = int(run(request(daily.app, "POST", "/v1/messages", body=body, headers=daily.auth)).headers["retry-after"])
    assert 0 < wait <= 86400  # until 00:00 UTC, when the allocation resets


def test_a_bad_key_is_an_authentication_error(make_anthropic: MakeAnthropic) -> None:
    client, _ = make_anthropic()
    with pytest.raises(anthropic.AuthenticationError) as caught:
        run(client.with_options(api_key="wrong").messages.create(model=MODEL, max_tokens=9, messages=HELLO))
    assert caught.value.type == "authentication_error" and "not valid" in str(caught.value.api_message)


def test_a_bearer_token_works_as_well_as_x_api_key(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    bearer = anthropic.AsyncAnthropic(
        base_url="http://gateway.test", auth_token=gw.key, http_client=client._client, max_retries=0
    )
    reply = run(bearer.messages.create(model=MODEL, max_tokens=9, messages=HELLO))
    assert reply.type == "message"


def test_a_model_outside_the_keys_scope_is_a_permission_error(make_anthropic: MakeAnthropic) -> None:
    keys = json.dumps([{"name": "tester", "sha256": sha256_hex(KEY), "models": ["@cf/openai/gpt-oss-20b"]}])
    client, gw = make_anthropic(keys=keys, MODELS="@cf/openai/gpt-oss-120b,@cf/openai/gpt-oss-20b")
    with pytest.raises(anthropic.PermissionDeniedError):
        run(client.messages.create(model="claude-opus-5-5", max_tokens=9, messages=HELLO))
    with pytest.raises(anthropic.PermissionDeniedError):
        run(client.messages.count_tokens(model=MODEL, messages=HELLO))
    assert gw.backend.calls == []


def test_limits_answer_in_anthropics_envelope_with_retry_after(make_anthropic: MakeAnthropic) -> None:
    client, _ = make_anthropic(TIERS=tiers(requests=1, period=60))
    run(client.messages.create(model=MODEL, max_tokens=9, messages=HELLO))
    with pytest.raises(anthropic.RateLimitError) as caught:
        run(client.messages.create(model=MODEL, max_tokens=9, messages=HELLO))
    assert caught.value.type == "rate_limit_error" and int(caught.value.response.headers["retry-after"]) > 0


def test_an_unconfigured_gateway_is_a_503_api_error(make_anthropic: MakeAnthropic) -> None:
    client, _ = make_anthropic(keys="")
    with pytest.raises(anthropic.InternalServerError) as caught:
        run(client.messages.create(model=MODEL, max_tokens=9, messages=HELLO))
    assert (caught.value.status_code, caught.value.type) == (503, "api_error")
    assert "No API keys are configured" in str(caught.value.api_message)


def test_an_unknown_model_and_an_unknown_route_are_not_found(make_anthropic: MakeAnthropic) -> None:
    client, _ = make_anthropic()
    with pytest.raises(anthropic.NotFoundError) as caught:
        run(client.messages.create(model="gpt-5", max_tokens=9, messages=HELLO))
    assert caught.value.type == "not_found_error" and "gpt-oss-120b" in str(caught.value.api_message)
    with pytest.raises(anthropic.NotFoundError):
        run(client.messages.batches.retrieve("msgbatch_1"))  # not served, and said in Anthropic's envelope


# (body, the field the 400 names, words the message must contain)
BAD: list[tuple[Any, str, str]] = [
    ({"messages": HELLO, "max_tokens": 9}, "model", "`model` is required"),
    ({"model": MODEL, "messages": HELLO}, "max_tokens", "max_tokens: Field required"),
    ({"model": MODEL, "max_tokens": 9}, "messages", "messages: Field required"),
    ({"model": MODEL, "max_tokens": 0, "messages": HELLO}, "max_tokens", "integer from 1"),
    ({"model": MODEL, "max_tokens": 9, "messages": HELLO, "temperature": 1.5}, "temperature", "0 to 1"),
    ({"model": MODEL, "max_tokens": 9, "messages": HELLO, "top_k": 51}, "top_k", "1 to 50"),
    ({"model": MODEL, "max_tokens": 9, "messages": []}, "messages", "at least 1"),
    ({"model": MODEL, "max_tokens": 9, "messages": [{"role": "bot", "content": "x"}]}, "messages[0].role", "user"),
    ({"model": MODEL, "max_tokens": 9, "messages": [{"role": "user"}]}, "messages[0].content", "required"),
    (
        {"model": MODEL, "max_tokens": 9, "messages": [{"role": "user", "content": [{"type": "video"}]}]},
        "messages[0].content[0].type",
        "'video' is not a content block",
    ),
    (
        {"model": MODEL, "max_tokens": 9, "messages": [{"role": "user", "content": [{"type": "text"}]}]},
        "messages[0].content[0].text",
        "a string",
    ),
    (
        {"model": MODEL, "max_tokens": 9, "messages": HELLO, "thinking": {"type": "sometimes"}},
        "thinking.type",
        '"enabled", "disabled", "adaptive"',
    ),
    (
        {"model": MODEL, "max_tokens": 9, "messages": HELLO, "tools": [{"name": "f"}]},
        "tools[0].input_schema",
        "is required",
    ),
    (
        {"model": MODEL, "max_tokens": 9, "messages": HELLO, "tool_choice": {"type": "any"}},
        "tool_choice",
        "no custom tools",
    ),
    (
        {
            "model": MODEL,
            "max_tokens": 9,
            "messages": HELLO,
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "g"},
        },
        "tool_choice.name",
        "not among the offered tools (f)",
    ),
    (
        {
            "model": MODEL,
            "max_tokens": 9,
            "messages": HELLO,
            "tools": [
                {"name": "f", "input_schema": {"type": "object"}},
                {"type": "web_search_20250305", "name": "web_search"},
            ],
            "tool_choice": {"type": "tool", "name": "web_search"},
        },
        "tool_choice.name",
        "is a server tool, which this gateway does not run",
    ),
    (
        {"model": MODEL, "max_tokens": 9, "messages": HELLO, "output_config": {"format": {"type": "xml"}}},
        "output_config.format",
        "json_schema",
    ),
]


@pytest.mark.parametrize(("body", "param", "says"), BAD)
def test_bad_requests_are_invalid_request_errors_naming_the_field(
    make_gateway: MakeGateway, body: Any, param: str, says: str
) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "POST", "/v1/messages", body=body, headers=gw.auth))
    assert reply.status == 400, reply.body
    envelope = reply.json()
    assert envelope["type"] == "error" and envelope["error"]["type"] == "invalid_request_error"
    assert param in envelope["error"]["message"] and says in envelope["error"]["message"], envelope
    assert gw.backend.calls == []


def test_a_body_that_is_not_json_is_an_invalid_request_error(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "POST", "/v1/messages", raw=b"{nope", headers=gw.auth))
    assert reply.status == 400 and reply.json()["error"]["type"] == "invalid_request_error"
    too_big = make_gateway(MAX_BODY_BYTES="1024")
    large = {"model": MODEL, "max_tokens": 9, "messages": [{"role": "user", "content": "x" * 2000}]}
    reply = run(request(too_big.app, "POST", "/v1/messages", body=large, headers=too_big.auth))
    assert reply.status == 413 and reply.json()["error"]["type"] == "request_too_large"


def test_the_request_id_header_is_anthropics_and_the_gateways(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    reply = run(
        request(
            gw.app, "POST", "/v1/messages", body={"model": MODEL, "max_tokens": 9, "messages": HELLO}, headers=gw.auth
        )
    )
    assert reply.headers["request-id"] == reply.headers["x-request-id"]
    openai_side = run(request(gw.app, "GET", "/v1/models", headers=gw.auth))
    assert "request-id" not in openai_side.headers  # only the Messages routes speak Anthropic's headers
