"""Responses `input` and `instructions` as Workers AI's messages form: a table of (input, messages)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway._errors import InvalidRequest
from gateway._openai.response_input import input_messages

CALL_ITEM = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Oslo"}'}
CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}


@pytest.mark.parametrize(
    ("value", "instructions", "messages"),
    [
        ("Hi", None, [{"role": "user", "content": "Hi"}]),
        ("Hi", "Be brief.", [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]),
        (
            [{"role": "developer", "content": "Rules"}, {"type": "message", "role": "user", "content": "Hi"}],
            None,
            [{"role": "system", "content": "Rules"}, {"role": "user", "content": "Hi"}],
        ),
        (
            [{"role": "user", "content": [{"type": "input_text", "text": "a"}, {"type": "input_text", "text": "b"}]}],
            None,
            [{"role": "user", "content": "a\nb"}],
        ),
        (
            # A call, its output, and the answer: consecutive calls share one assistant turn.
            [
                {"role": "user", "content": "Weather?"},
                CALL_ITEM,
                {**CALL_ITEM, "call_id": "call_2"},
                {"type": "function_call_output", "call_id": "call_1", "output": "12 C"},
                {
                    "type": "function_call_output",
                    "call_id": "call_2",
                    "output": [{"type": "input_text", "text": "9 C"}],
                },
            ],
            None,
            [
                {"role": "user", "content": "Weather?"},
                {"role": "assistant", "content": None, "tool_calls": [CALL, {**CALL, "id": "call_2"}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "12 C"},
                {"role": "tool", "tool_call_id": "call_2", "content": "9 C"},
            ],
        ),
        (
            [{**CALL_ITEM, "arguments": {"city": "Oslo"}}],
            None,
            [
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [{**CALL, "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}],
                }
            ],
        ),
        (
            # Reasoning items are accepted and not sent back.
            [{"type": "reasoning", "id": "rs_1", "summary": []}, {"role": "user", "content": "Go on"}],
            None,
            [{"role": "user", "content": "Go on"}],
        ),
        (
            [{"role": "assistant", "content": [{"type": "output_text", "text": "Earlier answer"}]}],
            None,
            [{"role": "assistant", "content": "Earlier answer"}],
        ),
    ],
)
def test_input_goes_upstream_as(value: Any, instructions: str | None, messages: list[dict[str, Any]]) -> None:
    assert input_messages(value, instructions) == messages


@pytest.mark.parametrize(
    ("value", "param"),
    [
        ([{"role": "tool", "content": "x"}], "input[0].role"),
        ([{"role": "user"}], "input[0].content"),
        ([{"role": "user", "content": 3}], "input[0].content"),
        ([{"type": "function_call", "name": "f"}], "input[0].call_id"),
        ([{"type": "function_call", "call_id": "c"}], "input[0].name"),
        ([{"type": "function_call_output", "output": "x"}], "input[0].call_id"),
        ([{"type": "item_reference", "id": "msg_1"}], "input[0].type"),
        ([{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}], "input[0].content[0]"),
        ([{"type": "reasoning", "summary": []}], "input"),  # nothing left to answer
    ],
)
def test_input_that_cannot_go_upstream_is_refused_naming_the_field(value: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        input_messages(value, None)
    assert refused.value.param == param
