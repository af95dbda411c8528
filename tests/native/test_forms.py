"""The native input forms: every constraint of the model page, as (body, param) tables."""

from __future__ import annotations

from typing import Any

import pytest

from gateway._errors import InvalidRequest
from gateway._native.forms import validate_native

VALID: list[tuple[dict[str, Any], str]] = [
    ({"prompt": "hi"}, "prompt"),
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
    ),
    ({"messages": [{"role": "user", "content": "hi"}]}, "messages"),
    (
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function"}]},
                {"role": "tool", "content": "42", "tool_call_id": "c1"},
            ],
            "tools": [
                {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
                {"name": "g", "description": "old style"},
            ],
            "functions": [{"name": "h", "code": "return 1"}],
            "tool_choice": "auto",
            "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {}}},
        },
        "messages",
    ),
    ({"input": "hi", "instructions": "be brief", "reasoning": {"effort": "high", "summary": "detailed"}}, "responses"),
    ({"input": [{"role": "user", "content": "hi"}], "reasoning": {"effort": "low"}}, "responses"),
    ({"requests": [{"input": "a"}, {"prompt": "b"}, {"messages": [{"role": "user", "content": "c"}]}]}, "batch"),
    ({"request_id": "abc"}, "poll"),
]


@pytest.mark.parametrize(("body", "form"), VALID)
def test_valid_bodies_are_accepted_as_their_form(body: dict[str, Any], form: str) -> None:
    assert validate_native(body) == form


INVALID: list[tuple[dict[str, Any], str | None, str]] = [
    ({}, None, "one of the model's input forms"),
    ({"foo": 1}, None, "Unrecognised field(s): foo"),
    ({"prompt": "x", "messages": [{"role": "user", "content": "y"}]}, "messages", "mixes input forms"),
    ({"input": "x", "prompt": "y"}, "input", "mixes input forms"),
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
    ({"prompt": "x", "instructions": "y"}, "instructions", "belongs to the Responses form"),
    ({"prompt": "x", "bogus": 1}, "bogus", "not a field of the prompt form"),
    ({"prompt": "x", "response_format": {"type": "xml"}}, "response_format.type", '"json_object", "json_schema"'),
    ({"messages": []}, "messages", "at least 1 item"),
    ({"messages": "hi"}, "messages", "an array"),
    ({"messages": [{"content": "x"}]}, "messages[0].role", "is required"),
    ({"messages": [{"role": "user"}]}, "messages[0].content", "is required"),
    ({"messages": [{"role": "robot", "content": "x"}]}, "messages[0].role", '"system"'),
    ({"messages": [{"role": "user", "content": 5}]}, "messages[0].content", "a string or an array"),
    (
        {"messages": [{"role": "user", "content": "x"}], "tools": [{"description": "no name"}]},
        "tools[0]",
        "needs `name`",
    ),
    ({"messages": [{"role": "user", "content": "x"}], "functions": [{"name": "f"}]}, "functions[0].code", "required"),
    ({"input": ""}, "input", "at least 1 character"),
    ({"input": []}, "input", "at least 1 item"),
    ({"input": "x", "reasoning": {"effort": "max"}}, "reasoning.effort", '"low", "medium", "high"'),
    ({"input": "x", "reasoning": {"summary": "long"}}, "reasoning.summary", '"auto", "concise", "detailed"'),
    ({"input": "x", "reasoning": {"effort": "low", "budget": 5}}, "reasoning.budget", "not a recognised field"),
    ({"input": "x", "max_tokens": 5}, "max_tokens", "not a field of the Responses form"),
    ({"requests": []}, "requests", "at least 1 item"),
    ({"requests": [{"input": "a", "stream": True}]}, "requests[0].stream", "do not stream"),
    ({"requests": [{"foo": 1}]}, "requests[0]", "one of the model's input forms"),
    ({"requests": [{"prompt": "a", "temperature": 9}]}, "requests[0].temperature", "from 0 to 5"),
    ({"request_id": ""}, "request_id", "at least 1 character"),
    ({"request_id": "x", "input": "y"}, "request_id", "mixes input forms"),
]


@pytest.mark.parametrize(("body", "param", "says"), INVALID)
def test_invalid_bodies_name_the_field_and_what_is_allowed(body: dict[str, Any], param: str | None, says: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_native(body)
    assert caught.value.param == param
    assert says in caught.value.message
