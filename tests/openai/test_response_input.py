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
                {"role": "assistant", "content": "", "tool_calls": [CALL, {**CALL, "id": "call_2"}]},
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
                    "content": "",
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


USER = {"role": "user", "content": "Weather in Oslo?"}
THOUGHT = {
    "type": "reasoning",
    "id": "rs_1",
    "summary": [],
    "content": [{"type": "reasoning_text", "text": "Call it."}],
}
OUTPUT = {"type": "function_call_output", "call_id": "call_1", "output": "12 C"}
ANSWER = {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "12 C."}]}


@pytest.mark.parametrize(
    ("items", "messages"),
    [
        (
            # A tool loop: the reasoning of the calling turn goes back with it.
            [USER, THOUGHT, CALL_ITEM, OUTPUT],
            [
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": "", "tool_calls": [CALL], "reasoning": "Call it."},
                {"role": "tool", "tool_call_id": "call_1", "content": "12 C"},
            ],
        ),
        (
            # After a final answer, that turn's reasoning (and every earlier one) is dropped.
            [USER, THOUGHT, CALL_ITEM, OUTPUT, {**THOUGHT, "id": "rs_2"}, ANSWER, {"role": "user", "content": "More?"}],
            [
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": "", "tool_calls": [CALL]},
                {"role": "tool", "tool_call_id": "call_1", "content": "12 C"},
                {"role": "assistant", "content": "12 C."},
                {"role": "user", "content": "More?"},
            ],
        ),
        (
            # A summary stands in when there is no reasoning text (the Vercel AI SDK sends summaries).
            [USER, {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Use the tool."}]}, CALL_ITEM],
            [
                {"role": "user", "content": "Weather in Oslo?"},
                {"role": "assistant", "content": "", "tool_calls": [CALL], "reasoning": "Use the tool."},
            ],
        ),
        (
            # Reasoning followed by a user message belongs to no turn.
            [THOUGHT, USER],
            [{"role": "user", "content": "Weather in Oslo?"}],
        ),
    ],
)
def test_reasoning_goes_back_with_the_turn_it_led_to(items: list[Any], messages: list[dict[str, Any]]) -> None:
    assert input_messages(items, None) == messages


def test_encrypted_reasoning_is_opened_and_context_comes_first() -> None:
    opened: list[tuple[str, str]] = []

    def opener(token: str, where: str) -> str:
        opened.append((token, where))
        return "sealed thought"

    sealed = {"type": "reasoning", "summary": [], "encrypted_content": "gwr1.token"}
    messages = input_messages([sealed, CALL_ITEM, OUTPUT], "Rules", context=[USER], open_reasoning=opener)
    assert opened == [("gwr1.token", "input[0].encrypted_content")]
    assert messages[:3] == [
        {"role": "system", "content": "Rules"},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "tool_calls": [CALL], "reasoning": "sealed thought"},
    ]


def test_without_a_secret_an_encrypted_item_is_refused() -> None:
    with pytest.raises(InvalidRequest) as refused:
        input_messages([{"type": "reasoning", "encrypted_content": "gwr1.x"}, USER], None)
    assert refused.value.param == "input[0].encrypted_content"
