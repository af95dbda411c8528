"""Responses tools: function tools, namespace groups (flattened, calls come back namespaced),
built-in tools left out and named, and tool choices that force what cannot run refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._errors import InvalidRequest
from gateway._openai.response_tools import flat_name, tool_set
from tests.client import request, run
from tests.conftest import MakeGateway
from tests.openai.conftest import MakeClient

MODEL = "gpt-oss-120b"
PARAMS: Any = {"type": "object", "properties": {"target": {"type": "string"}}, "required": ["target"]}
EXEC: Any = {"type": "function", "name": "exec_command", "description": "Run it.", "parameters": PARAMS}
NAMESPACE: Any = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Sub-agents.",
    "tools": [
        {"type": "function", "name": "close_agent", "description": "Close.", "parameters": PARAMS, "strict": False},
        {"type": "custom", "name": "freeform", "description": "A grammar tool."},
    ],
}


def _upstream(name: str, description: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": PARAMS}}


@pytest.mark.parametrize(
    ("namespace", "name", "flat"),
    [(None, "f", "f"), ("crm", "lookup", "crm__lookup"), ("crm_", "_lookup", "crm__lookup"), ("", "g", "g")],
)
def test_flat_names_are_codexs_canonical_ones(namespace: str | None, name: str, flat: str) -> None:
    assert flat_name(namespace, name) == flat


@pytest.mark.parametrize(
    ("tools", "choice", "offered", "sent_choice", "ignored"),
    [
        ([EXEC], None, [_upstream("exec_command", "Run it.")], None, []),
        (
            [EXEC, NAMESPACE, {"type": "web_search", "external_web_access": False}],
            "auto",
            [_upstream("exec_command", "Run it."), _upstream("multi_agent_v1__close_agent", "Close.")],
            "auto",
            ["tools.custom", "tools.web_search"],
        ),
        (
            [NAMESPACE],
            {"type": "function", "name": "close_agent"},
            [_upstream("multi_agent_v1__close_agent", "Close.")],
            {"type": "function", "function": {"name": "multi_agent_v1__close_agent"}},
            ["tools.custom"],
        ),
        (
            [EXEC, NAMESPACE],
            {"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "exec_command"}]},
            [_upstream("exec_command", "Run it.")],
            "required",
            ["tools.custom"],
        ),
        (
            [{"type": "file_search", "vector_store_ids": ["vs_1"]}, {"type": "mcp"}],
            "none",
            [],
            "none",
            ["tools.file_search", "tools.mcp"],
        ),
    ],
)
def test_tools_as_the_messages_form_offers_them(
    tools: list[Any], choice: Any, offered: list[Any], sent_choice: Any, ignored: list[str]
) -> None:
    left_out: list[str] = []
    result = tool_set(tools, choice, left_out)
    assert result.tools() == offered
    assert result.choice == sent_choice
    assert left_out == ignored


@pytest.mark.parametrize(
    ("tools", "choice", "param", "says"),
    [
        ([{"type": "web_search"}], {"type": "web_search"}, "tool_choice", "cannot run"),
        ([EXEC], {"type": "custom", "name": "x"}, "tool_choice", "cannot run"),
        ([{"type": "web_search"}], "required", "tool_choice", "no `tools`"),
        ([EXEC], {"type": "function", "name": "nope"}, "tool_choice", "not among"),
        ([EXEC, EXEC], None, "tools[1]", "second time"),
        ([{"type": "function"}], None, "tools[0].name", "required"),
        ([{"type": "namespace", "name": "n"}], None, "tools[0].tools", "required"),
        ([EXEC], {"type": "allowed_tools", "mode": "sometimes", "tools": []}, "tool_choice", "mode"),
        (
            [EXEC],
            {"type": "allowed_tools", "mode": "required", "tools": [{"type": "web_search"}]},
            "tool_choice",
            "no `tools`",
        ),
    ],
)
def test_tools_that_cannot_be_offered_are_refused_naming_the_field(
    tools: list[Any], choice: Any, param: str, says: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        tool_set(tools, choice, [])
    assert refused.value.param == param and says in refused.value.message


def test_a_namespaced_call_comes_back_as_openai_represents_it(make_client: MakeClient) -> None:
    client, gw = make_client()
    ask = "Please multi_agent_v1__close_agent `agent-7` now."
    first = run(client.responses.create(model=MODEL, input=ask, tools=[EXEC, NAMESPACE]))
    call = next(item for item in first.output if item.type == "function_call")
    assert (call.name, call.namespace) == ("close_agent", "multi_agent_v1")
    assert json.loads(call.arguments) == {"target": "agent-7"}
    follow_up: Any = [
        {"role": "user", "content": ask},
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": "close_agent",
            "namespace": "multi_agent_v1",
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": "closed agent-7"},
    ]
    second = run(client.responses.create(model=MODEL, input=follow_up, tools=[EXEC, NAMESPACE]))
    assert "closed agent-7" in second.output_text
    assistant = gw.backend.calls[-1][1]["messages"][1]
    assert assistant["tool_calls"][0]["function"]["name"] == "multi_agent_v1__close_agent"


def test_a_namespaced_call_streams_with_its_plain_name(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    body = {"model": MODEL, "stream": True, "input": "multi_agent_v1__close_agent `a`", "tools": [NAMESPACE]}
    events = [json.loads(e) for e in run(request(gw.app, "POST", "/v1/responses", body=body, headers=gw.auth)).events()]
    added = next(
        e for e in events if e["type"] == "response.output_item.added" and e["item"]["type"] == "function_call"
    )
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert (added["item"]["name"], added["item"]["namespace"]) == ("close_agent", "multi_agent_v1")
    assert done["name"] == "close_agent"


def test_built_in_tools_are_left_out_and_named(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    body = {"model": MODEL, "input": "search the web", "tools": [{"type": "web_search"}, {"type": "image_generation"}]}
    reply = run(request(gw.app, "POST", "/v1/responses", body=body, headers=gw.auth))
    assert reply.status == 200, reply.body
    assert reply.headers["x-gateway-ignored"] == "tools.web_search, tools.image_generation"
    assert "tools" not in gw.backend.calls[-1][1]
    assert json.loads(gw.logs[-1])["ignored"] == ["tools.web_search", "tools.image_generation"]


def test_items_of_built_in_tools_are_left_out_and_named(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    items = [
        {"role": "user", "content": "find it"},
        {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "x"}},
        {"role": "user", "content": "and now?"},
    ]
    reply = run(request(gw.app, "POST", "/v1/responses", body={"model": MODEL, "input": items}, headers=gw.auth))
    assert reply.status == 200 and reply.headers["x-gateway-ignored"] == "input.web_search_call"
    assert [m["role"] for m in gw.backend.calls[-1][1]["messages"]] == ["user", "user"]
