"""The parameter policy on the Messages routes: honoured, accepted and ignored (and said so), refused;
and what Claude Code really sends is served whole."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._anthropic.request import COUNT_POLICY, POLICY
from tests.client import Reply, request, run
from tests.conftest import MakeGateway, readme_policy_row

MODEL = "gpt-oss-120b"
BODY: dict[str, Any] = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
# A value of each ignored field as clients send it.
EXAMPLES: dict[str, Any] = {
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "cache_control": {"type": "ephemeral"},
    "service_tier": "standard_only",
    "container": "container_011CZ",
    "mcp_servers": [{"type": "url", "url": "https://mcp.example.com/sse", "name": "example"}],
    "output_config.task_budget": {"type": "tokens", "total": 50000, "remaining": 42000},  # claude --task-budget
}


def post(gw: Any, body: dict[str, Any], path: str = "/v1/messages") -> Reply:
    reply: Reply = run(request(gw.app, "POST", path, body=body, headers=gw.auth))
    return reply


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/messages/count_tokens"])
@pytest.mark.parametrize("name", sorted(POLICY.ignored))
def test_an_ignored_field_is_accepted_and_named_in_the_header_and_the_log(
    make_gateway: MakeGateway, name: str, path: str
) -> None:
    gw = make_gateway()
    parent, _, child = name.partition(".")
    value = {"effort": "high", child: EXAMPLES[name]} if child else EXAMPLES[name]
    reply = post(gw, {**BODY, parent: value}, path)
    assert reply.status == 200, reply.body
    assert name in reply.headers["x-gateway-ignored"].split(", ")
    assert name in json.loads(gw.logs[-1])["ignored"]


def test_count_tokens_takes_the_same_ignored_fields() -> None:
    assert COUNT_POLICY.ignored == POLICY.ignored and set(COUNT_POLICY.honoured) < set(POLICY.honoured)


def test_an_unknown_field_is_ignored_and_reported_unless_strict(make_gateway: MakeGateway) -> None:
    body = {**BODY, "speed": "fast", "x_custom": {"a": 1}}
    reply = post(make_gateway(), body)
    assert reply.status == 200 and reply.headers["x-gateway-ignored"] == "speed, x_custom"
    strict = post(make_gateway(STRICT_PARAMS="true"), body)
    assert strict.status == 400 and "STRICT_PARAMS" in strict.json()["error"]["message"]
    assert "`speed`" in strict.json()["error"]["message"]


def test_null_fields_mean_not_set(make_gateway: MakeGateway) -> None:
    reply = post(make_gateway(), {**BODY, "temperature": None, "thinking": None, "context_management": None})
    assert reply.status == 200 and "x-gateway-ignored" not in reply.headers


def test_server_tools_are_not_run_and_are_named(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    tools = [
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        {"name": "lookup", "input_schema": {"type": "object"}, "strict": True, "input_examples": [{}]},
    ]
    reply = post(gw, {**BODY, "tools": tools})
    assert reply.status == 200
    assert reply.headers["x-gateway-ignored"].split(", ") == [
        "tools[web_search]",
        "tools[bash]",
        "tools[str_replace_based_edit_tool]",
        "tools.strict",
        "tools.input_examples",
    ]
    assert [tool["function"]["name"] for tool in gw.backend.calls[-1][1]["tools"]] == ["lookup"]


def claude_code_request() -> dict[str, Any]:
    """The shape of what Claude Code 2.1.328 sends (`claude -p`, `--model gpt-oss-120b`), shortened."""
    cached = {"type": "ephemeral"}
    tool = {
        "name": "Bash",
        "description": "Run a command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
    }
    return {
        "model": "gpt-oss-120b",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<system-reminder>\nAttribution...\n</system-reminder>\n"},
                    {"type": "text", "text": "say hi"},
                ],
            },
            {"role": "system", "content": [{"type": "text", "text": "# Environment\n - Platform: linux"}]},
        ],
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.328.d9f; cc_entrypoint=sdk-cli;"},
            {
                "type": "text",
                "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK.",
                "cache_control": cached,
            },
            {"type": "text", "text": "\nYou are an agent working with the user...", "cache_control": cached},
        ],
        "tools": [
            tool,
            {
                "name": "DeferredToolPlaceholder",
                "description": "x",
                "input_schema": {"type": "object"},
                "defer_loading": True,
            },
        ],
        "metadata": {"user_id": '{"device_id":"05c9","account_uuid":"","session_id":"cf87"}'},
        "max_tokens": 32000,
        "thinking": {"type": "adaptive", "display": "omitted"},
        "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
        "output_config": {"effort": "high"},
        "stream": True,
    }


def test_what_claude_code_sends_is_served_and_only_its_hints_are_reported(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    headers = {
        **{"x-api-key": gw.key},
        "anthropic-version": "2023-06-01",
        "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27",
        "x-claude-code-session-id": "cf87952c",
        "x-app": "cli",
    }
    reply = run(request(gw.app, "POST", "/v1/messages", body=claude_code_request(), headers=headers, query="beta=true"))
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/event-stream")
    assert reply.headers["x-gateway-ignored"] == "context_management, cache_control"
    sent = gw.backend.calls[-1][1]
    assert [message["role"] for message in sent["messages"]] == ["system", "user", "system"]
    assert [tool["function"]["name"] for tool in sent["tools"]] == ["Bash"]  # the deferred one is not loaded
    assert (sent["reasoning_effort"], sent["max_tokens"], sent["stream"]) == ("high", 32000, True)
    assert reply.body.decode().rstrip().endswith('data: {"type":"message_stop"}')


def test_claude_codes_task_budget_is_named_and_the_effort_beside_it_honoured(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    output_config = {"effort": "low", "task_budget": {"type": "tokens", "total": 50000}}  # `claude --task-budget`
    reply = post(gw, {**BODY, "output_config": output_config})
    assert reply.status == 200, reply.body
    assert reply.headers["x-gateway-ignored"] == "output_config.task_budget"
    assert gw.backend.calls[-1][1]["reasoning_effort"] == "low"


def test_the_readme_table_puts_every_field_in_its_class() -> None:
    honoured, ignored, refused, _ = readme_policy_row("Messages fields")
    for name in POLICY.honoured:
        assert any(f"`{name}{end}" in honoured for end in ("`", " ", ".")), f"{name} is honoured but not in the table"
    for name in POLICY.ignored:
        assert f"`{name}`" in ignored, f"{name} is ignored but not in the table's column"
    for name in POLICY.refused:
        assert f"`{name}" in refused, f"{name} is refused but not in the table's column"
