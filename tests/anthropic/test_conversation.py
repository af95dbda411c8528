"""Anthropic's conversation to Workers AI's messages form: a table of (input, expected) pairs in the
shapes Claude Code and the SDKs send."""

from __future__ import annotations

from typing import Any

import pytest

from gateway._anthropic.conversation import Conversation, referenced_tools, workers_messages, workers_tools
from gateway._errors import InvalidRequest

CALL = {"id": "toolu_1", "type": "function", "function": {"name": "Read", "arguments": '{"file_path": "/a"}'}}

CASES: list[tuple[str, Any, list[Any], list[dict[str, Any]], list[str]]] = [
    (
        "a string system and turn",
        "Be brief.",
        [{"role": "user", "content": "hi"}],
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        [],
    ),
    (
        "system text blocks, cache_control named once",
        [
            {"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "b", "cache_control": {"type": "ephemeral"}},
        ],
        [{"role": "user", "content": [{"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}}]}],
        [{"role": "system", "content": "a\nb"}, {"role": "user", "content": "hi"}],
        ["cache_control"],
    ),
    ("no system", None, [{"role": "user", "content": "hi"}], [{"role": "user", "content": "hi"}], []),
    (
        "a system turn mid-conversation",
        None,
        [{"role": "user", "content": "hi"}, {"role": "system", "content": "# Env"}],
        [{"role": "user", "content": "hi"}, {"role": "system", "content": "# Env"}],
        [],
    ),
    (
        "an assistant turn of thinking, text and a call: content is a string, thinking dropped",
        None,
        [
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s"},
                    {"type": "redacted_thinking", "data": "xyz"},
                    {"type": "text", "text": "Reading."},
                    {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/a"}},
                ],
            },
        ],
        [{"role": "assistant", "content": "Reading.", "tool_calls": [CALL]}],
        [],
    ),
    (
        "a call alone: content is the empty string, never null",
        None,
        [
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/a"}}],
            }
        ],
        [{"role": "assistant", "content": "", "tool_calls": [CALL]}],
        [],
    ),
    (
        "tool results first, then the turn's text",
        None,
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "<reminder/>"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": "1\tline",
                        "cache_control": {"type": "ephemeral"},
                    },
                ],
            }
        ],
        [{"role": "tool", "tool_call_id": "toolu_1", "content": "1\tline"}, {"role": "user", "content": "<reminder/>"}],
        [],
    ),
    (
        "an error result, and one with no content",
        None,
        [
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "a",
                        "content": [{"type": "text", "text": "denied"}],
                        "is_error": True,
                    },
                    {"type": "tool_result", "tool_use_id": "b", "is_error": True},
                    {"type": "tool_result", "tool_use_id": "c"},
                ],
            }
        ],
        [
            {"role": "tool", "tool_call_id": "a", "content": "Error: denied"},
            {"role": "tool", "tool_call_id": "b", "content": "Error"},
            {"role": "tool", "tool_call_id": "c", "content": ""},
        ],
        [],
    ),
    (
        "a search result and a PDF",
        None,
        [
            {
                "role": "user",
                "content": [
                    {
                        "type": "search_result",
                        "title": "Doc",
                        "source": "https://x",
                        "content": [{"type": "text", "text": "body"}],
                    },
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBER"},
                    },
                ],
            }
        ],
        [{"role": "user", "content": "Doc\nhttps://x\nbody\n[A document left out: gpt-oss reads text only]"}],
        ["messages[0].content[1]"],
    ),
]


@pytest.mark.parametrize(
    ("system", "messages", "expected", "ignored"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_conversations(system: Any, messages: list[Any], expected: list[dict[str, Any]], ignored: list[str]) -> None:
    out = Conversation()
    assert workers_messages(system, messages, out) == expected
    assert out.ignored == ignored
    assert all(isinstance(message["content"], str) for message in expected)


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ({"role": "user", "content": 5}, "messages[0].content"),
        ({"role": "user", "content": ["text"]}, "messages[0].content[0]"),
        (
            {"role": "assistant", "content": [{"type": "tool_use", "id": "x", "name": "f", "input": "{}"}]},
            "messages[0].content[0].input",
        ),
        (
            {"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]},
            "messages[0].content[0].id",
        ),
        ({"role": "assistant", "content": [{"type": "image", "source": {}}]}, "messages[0].content[0].type"),
        ({"role": "user", "content": [{"type": "tool_result", "content": "x"}]}, "messages[0].content[0].tool_use_id"),
        ("hi", "messages[0].role"),
    ],
)
def test_malformed_turns_name_the_field(message: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        workers_messages(None, [message], Conversation())
    assert caught.value.param == param and caught.value.message.startswith(param + ":")


def test_tools_custom_deferred_and_server() -> None:
    out = Conversation()
    tools = [
        {
            "name": "Read",
            "description": "Read a file",
            "input_schema": {"type": "object"},
            "cache_control": {"type": "ephemeral"},
        },
        {"type": "custom", "name": "Grep", "input_schema": {"type": "object"}},
        {"name": "WebFetch", "input_schema": {"type": "object"}, "defer_loading": True},
        {"name": "Cron", "input_schema": {"type": "object"}, "defer_loading": True},
        {"type": "web_search_20250305", "name": "web_search"},
    ]
    offered, server = workers_tools(tools, {"WebFetch"}, out)
    # As the model's input schema wants them: a description (empty when none was given), and
    # parameters with `type` and `properties`.
    empty = {"type": "object", "properties": {}}
    assert offered == [
        {"type": "function", "function": {"name": "Read", "description": "Read a file", "parameters": empty}},
        {"type": "function", "function": {"name": "Grep", "description": "", "parameters": empty}},
        {"type": "function", "function": {"name": "WebFetch", "description": "", "parameters": empty}},
    ]
    assert server == {"web_search"} and out.ignored == ["cache_control", "tools[web_search]"]


def test_tool_references_in_tool_results_load_tools() -> None:
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t",
                    "content": [
                        {"type": "tool_reference", "tool_name": "WebFetch"},
                        {"type": "tool_reference", "tool_name": "Cron"},
                    ],
                }
            ],
        },
    ]
    assert referenced_tools(messages) == {"WebFetch", "Cron"}
