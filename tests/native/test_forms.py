"""The native input forms: every constraint of the model page, as (body, param) tables, checked
against the page's own JSON schema (tests/schemas)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway._errors import InvalidRequest
from gateway._native.forms import validate_native
from tests.model_schema import violations

_TOOL = {
    "type": "function",
    "function": {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}},
}

VALID: list[tuple[dict[str, Any], str, list[str]]] = [
    ({"prompt": "hi"}, "prompt", []),
    (
        {
            "prompt": "hi",
            "temperature": 0,
            "top_p": 1,
            "top_k": 50,
            "seed": 9_999_999_999,
            "max_tokens": 4096,
            "repetition_penalty": 2,
            "frequency_penalty": -2,
            "presence_penalty": 2,
            "stream": True,
            "raw": False,
            "lora": "x",
            "response_format": {"type": "json_object"},
        },
        "prompt",
        [],
    ),
    # What Workers AI accepts and the gateway does not know: passed on, and named.
    ({"prompt": "hi", "model": "@cf/openai/gpt-oss-120b"}, "prompt", ["model"]),
    ({"messages": [{"role": "user", "content": "hi"}], "stop": ["\n"]}, "messages", ["stop"]),
    ({"prompt": "x", "instructions": "y"}, "prompt", ["instructions"]),
    ({"messages": [{"role": "user", "content": "hi"}]}, "messages", []),
    (
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "type": "function"}]},
                {"role": "tool", "content": "42", "tool_call_id": "c1"},
            ],
            "tools": [
                _TOOL,
                {"name": "g", "description": "old style", "parameters": {"type": "object", "properties": {}}},
                {
                    "type": "function",
                    "function": {
                        "name": "h",
                        "description": "",
                        # A client's own JSON Schema for its arguments: passed on as written.
                        "parameters": {"type": "object", "properties": {"x": {"anyOf": [{"type": "string"}]}}},
                    },
                },
            ],
            "functions": [{"name": "h", "code": "return 1"}],
            "tool_choice": "auto",
            "response_format": {"type": "json_schema", "json_schema": {"type": "object"}},
        },
        "messages",
        [],
    ),
    (
        {"input": "hi", "instructions": "be brief", "reasoning": {"effort": "high", "summary": "detailed"}},
        "responses",
        [],
    ),
    ({"input": [{"role": "user", "content": "hi"}], "reasoning": {"effort": "low", "budget": 5}}, "responses", []),
    ({"input": "x", "max_tokens": 5}, "responses", ["max_tokens"]),
    ({"requests": [{"input": "a"}, {"input": [{"role": "user", "content": "b"}]}]}, "batch", []),
    ({"requests": [{"input": "a", "user": "u"}], "tag": 1}, "batch", ["tag", "requests[0].user"]),
    ({"request_id": "abc"}, "poll", []),
]


@pytest.mark.parametrize(("body", "form", "unknown"), VALID)
def test_valid_bodies_are_accepted_as_their_form(body: dict[str, Any], form: str, unknown: list[str]) -> None:
    checked = validate_native(body)
    assert (checked.form, checked.unknown) == (form, unknown)


INVALID: list[tuple[dict[str, Any], str | None, str]] = [
    ({}, None, "one of the model's input forms"),
    ({"foo": 1}, None, "one of the model's input forms"),
    ({"prompt": "x", "messages": [{"role": "user", "content": "y"}]}, "messages", "matches two input forms"),
    ({"input": "x", "prompt": "y"}, "input", "matches two input forms"),
    ({"prompt": ""}, "prompt", "at least 1 character"),
    ({"prompt": 5}, "prompt", "a string"),
    ({"prompt": "x", "temperature": "0.5"}, "temperature", "number from 0 to 5"),
    ({"prompt": "x", "temperature": 5.01}, "temperature", "number from 0 to 5"),
    ({"prompt": "x", "temperature": -0.1}, "temperature", "number from 0 to 5"),
    ({"prompt": "x", "top_p": 0}, "top_p", "from 0.001 to 1"),
    ({"prompt": "x", "top_p": 1.5}, "top_p", "from 0.001 to 1"),
    ({"prompt": "x", "top_k": 0}, "top_k", "integer from 1 to 50"),
    ({"prompt": "x", "top_k": 51}, "top_k", "integer from 1 to 50"),
    ({"prompt": "x", "top_k": 2.5}, "top_k", "integer from 1 to 50"),
    ({"prompt": "x", "seed": 0}, "seed", "from 1 to 9999999999"),
    ({"prompt": "x", "seed": 10_000_000_000}, "seed", "from 1 to 9999999999"),
    ({"prompt": "x", "repetition_penalty": 2.5}, "repetition_penalty", "from 0 to 2"),
    ({"prompt": "x", "frequency_penalty": -3}, "frequency_penalty", "from -2 to 2"),
    ({"prompt": "x", "presence_penalty": 2.1}, "presence_penalty", "from -2 to 2"),
    ({"prompt": "x", "max_tokens": True}, "max_tokens", "the boolean true"),
    ({"prompt": "x", "max_tokens": 0}, "max_tokens", "integer from 1 to 128000"),
    ({"prompt": "x", "max_tokens": "100"}, "max_tokens", "integer"),
    ({"prompt": "x", "stream": "yes"}, "stream", "true or false"),
    ({"prompt": "x", "response_format": {"type": "xml"}}, "response_format.type", '"json_object", "json_schema"'),
    ({"messages": "hi"}, "messages", "an array"),
    ({"messages": [{"content": "x"}]}, "messages[0].role", "is required"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "is required"),
    ({"messages": [{"role": 5, "content": "x"}]}, "messages[0].role", "a string"),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "a string or an array"),
    (
        {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}]},
        "messages[0].content",
        'not null: send ""',
    ),
    (
        {"messages": [{"role": "user", "content": "x"}], "tools": [{"description": "no name"}]},
        "tools[0]",
        "needs `name`",
    ),
    (
        {"messages": [{"role": "user", "content": "x"}], "tools": [{"function": {"name": "f"}}]},
        "tools[0].type",
        "is required",
    ),
    ({"messages": [{"role": "user", "content": "x"}], "functions": [{"name": "f"}]}, "functions[0].code", "required"),
    ({"input": 5}, "input", "a string or an array"),
    ({"input": "x", "reasoning": {"effort": "max"}}, "reasoning.effort", '"low", "medium", "high"'),
    ({"input": "x", "reasoning": {"summary": "long"}}, "reasoning.summary", '"auto", "concise", "detailed"'),
    ({"input": "x", "instructions": 5}, "instructions", "a string"),
    ({"requests": []}, "requests", "at least 1 item"),
    ({"requests": [{"input": "a", "stream": True}]}, "requests[0].stream", "do not stream"),
    ({"requests": [{"foo": 1}]}, "requests[0]", "one of the model's input forms"),
    ({"requests": [{"input": "a", "temperature": 9}]}, "requests[0].temperature", "from 0 to 5"),
    ({"requests": [{"prompt": "a"}]}, "requests[0].input", "must be a Responses body"),
    (
        {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
        "tools[0].function.description",
        "is required",
    ),
    (
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{**_TOOL, "name": "f", "description": "", "parameters": {"type": "object", "properties": {}}}],
        },
        "tools[0]",
        "both tool shapes at once",
    ),
    (
        {
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "f", "description": "", "parameters": {"type": "object"}}],
        },
        "tools[0].parameters.properties",
        "is required",
    ),
    ({"request_id": ""}, "request_id", "at least 1 character"),
    ({"request_id": "x", "input": "y"}, "request_id", "matches two input forms"),
]


@pytest.mark.parametrize(("body", "param", "says"), INVALID)
def test_invalid_bodies_name_the_field_and_what_is_allowed(body: dict[str, Any], param: str | None, says: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_native(body)
    assert caught.value.param == param
    assert says in caught.value.message


# Bodies on the edges of the page's schema: the check (the native route's and the emulator's,
# standing in for Workers AI) must agree with the schema itself on every one.
EDGES: list[dict[str, Any]] = [
    {"prompt": "x"},
    {"prompt": ""},
    {"prompt": "x", "temperature": 5},
    {"prompt": "x", "temperature": 5.5},
    {"prompt": "x", "response_format": {"type": "text"}},
    {"prompt": "x", "response_format": {"type": "json_schema", "json_schema": {"type": "object"}}},
    {"prompt": "x", "messages": [{"role": "user", "content": "y"}]},
    {"messages": [{"role": "user", "content": "y"}], "input": "z"},
    {"messages": [{"role": "user", "content": "y"}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "y"}]}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
    {"messages": [{"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]}]},
    {"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]},
    {"messages": [{"role": "assistant", "content": "", "tool_calls": [{"id": "c"}]}]},
    {"messages": [{"role": "user", "content": "y"}], "tools": [_TOOL]},
    {"messages": [{"role": "user", "content": "y"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
    {
        "messages": [{"role": "user", "content": "y"}],
        "tools": [{"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}],
    },
    {
        "messages": [{"role": "user", "content": "y"}],
        "tools": [{"name": "f", "description": "d", "parameters": {"type": "object"}}],
    },
    {
        "messages": [{"role": "user", "content": "y"}],
        "tools": [{**_TOOL, "name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}],
    },
    {"messages": [{"role": "user", "content": "y"}], "stop": ["\n"], "model": "m"},
    {"input": "x"},
    {"input": [{"role": "user", "content": "x"}], "reasoning": {"effort": "high"}},
    {"input": "x", "reasoning": {"effort": "max"}},
    {"requests": [{"input": "a"}, {"input": "b"}]},
    {"requests": [{"input": "a"}, {"prompt": "b"}]},
    {"requests": [{"messages": [{"role": "user", "content": "c"}]}]},
    {"nothing": True},
    *(body for body, _, _ in VALID if "request_id" not in body),
]


@pytest.mark.parametrize("body", EDGES)
def test_the_check_agrees_with_the_model_pages_schema(body: dict[str, Any]) -> None:
    try:
        validate_native(body)
        accepted = True
    except InvalidRequest:
        accepted = False
    assert accepted == (violations(body) == []), violations(body)


# Where the check refuses what the page's schema allows, on purpose: an output cap the context
# window can never serve (or 0), a batch that is empty or asks to stream, batch polling (not in
# the model's schema), and Responses fields Workers AI documents beside the schema.
_DELIBERATE = ("max_tokens", "requests", "stream", "request_id", "instructions", "temperature")


@pytest.mark.parametrize(("body", "param", "says"), INVALID)
def test_the_native_check_is_never_stricter_than_the_schema_but_on_purpose(
    body: dict[str, Any], param: str | None, says: str
) -> None:
    assert violations(body) != [] or (param or "").rsplit(".", 1)[-1] in _DELIBERATE
