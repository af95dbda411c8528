"""The parameter policy: what each endpoint honours, accepts and ignores (and says so), and refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._openai import chat, completions, responses
from gateway._params import FieldPolicy
from tests.client import Reply, request, run
from tests.conftest import MakeGateway, readme_policy_row

MODEL = "gpt-oss-120b"
BODIES: dict[str, dict[str, Any]] = {
    "/v1/chat/completions": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    "/v1/completions": {"model": MODEL, "prompt": "hi"},
    "/v1/responses": {"model": MODEL, "input": "hi"},
}
POLICIES: dict[str, FieldPolicy] = {
    "/v1/chat/completions": chat.POLICY,
    "/v1/completions": completions.POLICY,
    "/v1/responses": responses.POLICY,
}
# A value of each ignored field as clients send it.
EXAMPLES: dict[str, Any] = {
    "store": True,
    "metadata": {"session": "a"},
    "service_tier": "flex",
    "verbosity": "low",
    "prompt_cache_key": "conversation-1",
    "safety_identifier": "user-hash",
    "prediction": {"type": "content", "content": "x"},
    "web_search_options": {},
    "include": ["reasoning.encrypted_content"],
    "truncation": "auto",
    "max_tool_calls": 4,
    "client_metadata": {"x-codex-turn": "1"},
    "stream_options": {"include_obfuscation": False},
    "text.verbosity": "medium",
}


def _post(gw: Any, path: str, body: dict[str, Any]) -> Reply:
    reply: Reply = run(request(gw.app, "POST", path, body=body, headers=gw.auth))
    return reply


def _with(path: str, name: str, value: Any) -> dict[str, Any]:
    body = dict(BODIES[path])
    parent, _, child = name.partition(".")
    body[parent] = {child: value} if child else value
    return body


IGNORED_CASES = [(path, name) for path, policy in POLICIES.items() for name in policy.ignored]


@pytest.mark.parametrize(("path", "name"), IGNORED_CASES)
def test_an_ignored_field_is_accepted_and_named_in_the_header_and_the_log(
    make_gateway: MakeGateway, path: str, name: str
) -> None:
    gw = make_gateway()
    reply = _post(gw, path, _with(path, name, EXAMPLES[name]))
    assert reply.status == 200, reply.body
    assert name in reply.headers["x-gateway-ignored"].split(", ")
    assert name in json.loads(gw.logs[-1])["ignored"]


@pytest.mark.parametrize("path", list(BODIES))
def test_an_unknown_field_is_ignored_and_reported_unless_strict(make_gateway: MakeGateway, path: str) -> None:
    body = {**BODIES[path], "colour": "blue", "x_custom": {"a": 1}}
    reply = _post(make_gateway(), path, body)
    assert reply.status == 200
    assert reply.headers["x-gateway-ignored"] == "colour, x_custom"
    strict = _post(make_gateway(STRICT_PARAMS="true"), path, body)
    assert strict.status == 400
    error = strict.json()["error"]
    assert (error["param"], error["code"]) == ("colour", "unknown_parameter")
    assert "STRICT_PARAMS" in error["message"]


def test_strict_params_still_accepts_the_known_ignored_fields(make_gateway: MakeGateway) -> None:
    reply = _post(
        make_gateway(STRICT_PARAMS="true"), "/v1/responses", {**BODIES["/v1/responses"], "truncation": "auto"}
    )
    assert reply.status == 200 and reply.headers["x-gateway-ignored"] == "truncation"


def test_an_answer_with_nothing_ignored_has_no_header(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    reply = _post(gw, "/v1/chat/completions", {**BODIES["/v1/chat/completions"], "temperature": 0.2, "user": "ann"})
    assert reply.status == 200 and "x-gateway-ignored" not in reply.headers
    assert "ignored" not in json.loads(gw.logs[-1])


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/v1/chat/completions", "n", 1),
        ("/v1/chat/completions", "logprobs", False),
        ("/v1/chat/completions", "top_logprobs", 0),
        ("/v1/chat/completions", "modalities", ["text"]),
        ("/v1/chat/completions", "logit_bias", {}),
        ("/v1/completions", "best_of", 1),
        ("/v1/responses", "background", False),
        ("/v1/responses", "top_logprobs", 0),
        ("/v1/chat/completions", "metadata", None),  # null means "not set"
        ("/v1/responses", "conversation", None),
    ],
)
def test_a_refused_field_asking_for_what_the_gateway_does_anyway_is_accepted_silently(
    make_gateway: MakeGateway, path: str, name: str, value: Any
) -> None:
    reply = _post(make_gateway(), path, {**BODIES[path], name: value})
    assert reply.status == 200, reply.body
    assert "x-gateway-ignored" not in reply.headers


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/v1/chat/completions", "n", 2),
        ("/v1/chat/completions", "top_logprobs", 3),
        ("/v1/chat/completions", "modalities", ["text", "audio"]),
        ("/v1/chat/completions", "functions", [{"name": "f"}]),
        ("/v1/completions", "logprobs", 5),
        ("/v1/completions", "suffix", "end"),
        ("/v1/responses", "background", True),
        ("/v1/responses", "prompt", {"id": "pmpt_1"}),
        ("/v1/responses", "conversation", "conv_1"),
        ("/v1/responses", "top_logprobs", 2),
    ],
)
def test_a_field_that_would_change_the_result_is_refused_naming_it(
    make_gateway: MakeGateway, path: str, name: str, value: Any
) -> None:
    gw = make_gateway()
    reply = _post(gw, path, {**BODIES[path], name: value})
    assert reply.status == 400
    error = reply.json()["error"]
    assert (error["param"], error["code"]) == (name, "unsupported_parameter")
    assert gw.backend.calls == []


def test_stream_options_without_a_stream_is_reported_not_refused(make_gateway: MakeGateway) -> None:
    body = {**BODIES["/v1/chat/completions"], "stream_options": {"include_usage": True}}
    reply = _post(make_gateway(), "/v1/chat/completions", body)
    assert reply.status == 200 and reply.headers["x-gateway-ignored"] == "stream_options"


def test_a_field_name_that_could_forge_a_header_is_counted_not_echoed(make_gateway: MakeGateway) -> None:
    body = {**BODIES["/v1/responses"], "evil\r\nset-cookie: a=b": 1, "é": 2}
    reply = _post(make_gateway(), "/v1/responses", body)
    assert reply.status == 200
    assert reply.headers["x-gateway-ignored"] == "(a field with an unusual name)"
    assert "set-cookie" not in reply.headers


SECRET = "r" * 40
# What Codex CLI 0.169 sends besides its messages (captured; DESIGN.md, "Real clients are the measure").
CODEX_TOOLS: list[Any] = [
    {
        "type": "function",
        "name": "exec_command",
        "description": "Runs a command.",
        "strict": False,
        "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
    },
    {
        "type": "namespace",
        "name": "multi_agent_v1",
        "description": "Sub-agents.",
        "tools": [
            {
                "type": "function",
                "name": "close_agent",
                "description": "Close an agent.",
                "strict": False,
                "parameters": {"type": "object", "properties": {"target": {"type": "string"}}, "required": ["target"]},
            },
        ],
    },
    {"type": "web_search", "external_web_access": False},
]


def test_a_codex_style_request_is_served(make_gateway: MakeGateway) -> None:
    body = {
        "model": MODEL,
        "instructions": "You are Codex.",
        "input": [
            {"type": "message", "id": "msg_1", "role": "developer", "content": [{"type": "input_text", "text": "x"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        ],
        "stream": True,
        "store": False,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0198-session",
        "client_metadata": {"x-codex-installation-id": "abc"},
        "parallel_tool_calls": True,
        "reasoning": {"summary": "auto"},
        "tool_choice": "auto",
        "tools": CODEX_TOOLS,
    }
    gw = make_gateway(REASONING_SECRET=SECRET)
    reply = _post(gw, "/v1/responses", body)
    assert reply.status == 200, reply.body
    assert reply.event_names()[-1] == "response.completed"
    assert set(reply.headers["x-gateway-ignored"].split(", ")) == {"client_metadata", "tools.web_search"}
    final = json.loads(reply.events()[-1])["response"]
    assert final["store"] is False and final["id"].startswith("resp_x")
    assert final["output"][0]["encrypted_content"].startswith("gwr1.")
    sent = gw.backend.calls[-1]
    assert [tool["function"]["name"] for tool in sent[1]["tools"]] == ["exec_command", "multi_agent_v1__close_agent"]
    assert sent[2]["extraHeaders"]["x-session-affinity"].startswith("ses_")


@pytest.mark.parametrize(
    ("heading", "policy"), [("Chat Completions fields", chat.POLICY), ("Responses fields and events", responses.POLICY)]
)
def test_the_readme_table_puts_every_field_in_its_class(heading: str, policy: FieldPolicy) -> None:
    honoured, ignored, refused, _ = readme_policy_row(heading)
    for name in policy.honoured:
        named = any(f"`{name}{end}" in honoured for end in ("`", " ", "."))  # `n` = 1, `text.format`
        assert named, f"{name} is honoured but not in the table's column"
    for name in policy.ignored:
        assert f"`{name}`" in ignored, f"{name} is ignored but not in the table's column"
    for name in policy.refused:
        assert f"`{name}" in refused, f"{name} is refused but not in the table's column"
