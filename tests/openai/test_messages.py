"""OpenAI chat messages to Workers AI's messages form: a table of (messages, what goes upstream)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway._errors import InvalidRequest
from gateway._openai.messages import chat_messages

CALL = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}


@pytest.mark.parametrize(
    ("messages", "upstream"),
    [
        ([{"role": "user", "content": "Hi"}], [{"role": "user", "content": "Hi"}]),
        (
            [{"role": "developer", "content": "Be brief."}, {"role": "system", "content": "Use French."}],
            [{"role": "system", "content": "Be brief."}, {"role": "system", "content": "Use French."}],
        ),
        (
            [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "input_text", "text": "b"}]}],
            [{"role": "user", "content": "a\nb"}],
        ),
        ([{"role": "user", "content": "Hi", "name": "ann"}], [{"role": "user", "content": "Hi", "name": "ann"}]),
        (
            # OpenAI's null content on a tool-calling turn goes as "": the model's schema refuses null.
            [{"role": "assistant", "content": None, "tool_calls": [CALL]}],
            [{"role": "assistant", "content": "", "tool_calls": [CALL]}],
        ),
        (
            # Arguments sent as an object become the JSON string the form expects; a missing id gets one.
            [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"x": 1}}}]}],
            [
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [
                        {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
                    ],
                }
            ],
        ),
        (
            # Earlier reasoning is accepted and not sent back.
            [{"role": "assistant", "content": "Done.", "reasoning_content": "I thought."}],
            [{"role": "assistant", "content": "Done."}],
        ),
        (
            [{"role": "tool", "tool_call_id": "call_1", "content": "12 C"}],
            [{"role": "tool", "content": "12 C", "tool_call_id": "call_1"}],
        ),
        (
            [{"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}],
            [{"role": "assistant", "content": "No."}],
        ),
    ],
)
def test_messages_go_upstream_as(messages: list[Any], upstream: list[dict[str, Any]]) -> None:
    assert chat_messages(messages) == upstream


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (["hi"], "messages[0]"),
        ([{"role": "robot", "content": "x"}], "messages[0].role"),
        ([{"role": "user"}], "messages[0].content"),
        ([{"role": "user", "content": 5}], "messages[0].content"),
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}], "messages[0].content[0]"),
        ([{"role": "user", "content": [{"type": "text", "text": 3}]}], "messages[0].content[0].text"),
        ([{"role": "user", "content": "x", "tool_calls": []}], "messages[0].tool_calls"),
        ([{"role": "tool", "content": "x"}], "messages[0].tool_call_id"),
        ([{"role": "assistant", "tool_calls": "no"}], "messages[0].tool_calls"),
        ([{"role": "assistant", "tool_calls": [{"function": {}}]}], "messages[0].tool_calls[0].function.name"),
        ([{"role": "user", "content": "ok"}, {"role": "system"}], "messages[1].content"),
    ],
)
def test_a_message_gpt_oss_cannot_take_is_refused_naming_the_field(messages: list[Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        chat_messages(messages)
    assert refused.value.param == param


def test_reasoning_of_a_tool_calling_turn_goes_back_until_a_final_answer() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    loop = [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": None, "tool_calls": [call], "reasoning_content": "I should call f."},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
    ]
    assert chat_messages(loop)[1]["reasoning"] == "I should call f."
    answered = [
        *loop,
        {"role": "assistant", "content": "All done.", "reasoning": "f worked."},
        {"role": "user", "content": "ok"},
    ]
    assert all("reasoning" not in message for message in chat_messages(answered))
    with pytest.raises(InvalidRequest) as refused:
        chat_messages([{"role": "assistant", "content": "x", "reasoning_content": 3}])
    assert refused.value.param == "messages[0].reasoning_content"
