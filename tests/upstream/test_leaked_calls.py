"""Recovering tool calls that gpt-oss leaked into `content` as JSON: a table of texts and calls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._upstream.leaked_calls import HeldCall, call_id, recover_calls, recover_tool_calls

TOOLS = {"get_weather", "get_time"}
OSLO = json.dumps({"city": "Oslo"})


def _calls(*calls: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"id": call_id("seed", i), "type": "function", "function": {"name": name, "arguments": arguments}}
        for i, (name, arguments) in enumerate(calls)
    ]


@pytest.mark.parametrize(
    ("content", "tools", "expected"),
    [
        ('{"name": "get_weather", "arguments": {"city": "Oslo"}}', TOOLS, _calls(("get_weather", OSLO))),
        ('{"name": "get_weather", "parameters": {"city": "Oslo"}}', TOOLS, _calls(("get_weather", OSLO))),
        (
            '{"type": "function", "function": {"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}}',
            TOOLS,
            _calls(("get_weather", OSLO)),
        ),
        (
            '[{"name": "get_weather", "arguments": {"city": "Oslo"}}, {"name": "get_time", "arguments": {}}]',
            TOOLS,
            _calls(("get_weather", OSLO), ("get_time", "{}")),
        ),
        ('```json\n{"name": "get_time", "arguments": {}}\n```', TOOLS, _calls(("get_time", "{}"))),
        ('  {"name": "get_time"}  ', TOOLS, _calls(("get_time", "{}"))),
        # Not a call: stays text.
        ('{"name": "delete_everything", "arguments": {}}', TOOLS, None),
        ('Sure: {"name": "get_time", "arguments": {}}', TOOLS, None),
        ('{"name": "get_time", "arguments": "not json"}', TOOLS, None),
        ('{"name": "get_time", "arguments": [1, 2]}', TOOLS, None),
        ('[{"name": "get_time"}, {"name": "nope"}]', TOOLS, None),
        ("[]", TOOLS, None),
        ('{"name": "get_time"', TOOLS, None),
        ('{"city": "Oslo"}', TOOLS, None),
        ('{"name": "get_time", "arguments": {}}', set(), None),  # no tools offered
    ],
)
def test_recover_tool_calls(content: str, tools: set[str], expected: list[dict[str, Any]] | None) -> None:
    assert recover_tool_calls(content, tools, "seed") == expected


def test_held_content_becomes_a_call_or_is_released_as_text() -> None:
    held = HeldCall(TOOLS, "seed", enabled=True)
    assert held.hold('{"name": "get_time",', at_start=True) == ""
    assert held.hold(' "arguments": {}}', at_start=False) == ""
    assert held.release(may_be_calls=True) == (_calls(("get_time", "{}")), "")

    held = HeldCall(TOOLS, "seed", enabled=True)
    assert held.hold('{"not": "a call"}', at_start=True) == ""
    assert held.release(may_be_calls=True) == ([], '{"not": "a call"}')


@pytest.mark.parametrize(
    ("enabled", "text", "at_start", "shown"),
    [
        (True, "Hello", True, "Hello"),
        (True, "{", False, "{"),
        (False, "{", True, "{"),
        (True, " [", True, ""),
        (False, "a < b", True, "a < b"),
        (False, "a <", True, "a "),  # might begin a control token: waits for the next piece
        (False, "Hi<|channel|>final", True, "Hi"),
    ],
)
def test_only_json_that_opens_the_answer_and_markup_are_held(
    enabled: bool, text: str, at_start: bool, shown: str
) -> None:
    assert HeldCall(TOOLS, "seed", enabled=enabled).hold(text, at_start=at_start) == shown


WEATHER_ARGS = '{"city": "Oslo"}'
HARMONY: list[tuple[str, list[dict[str, Any]], str]] = [
    # The form reported from Ollama, LM Studio and vLLM.
    (
        f"<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{WEATHER_ARGS}<|call|>",
        _calls(("get_weather", OSLO)),
        "",
    ),
    # Near variants: the whole head, the recipient first, json without <|constrain|>, no end token.
    (
        f"<|start|>assistant to=functions.get_weather<|channel|>commentary json<|message|>{WEATHER_ARGS}<|call|>",
        _calls(("get_weather", OSLO)),
        "",
    ),
    (f"<|channel|>commentary to=get_weather<|message|>{WEATHER_ARGS}", _calls(("get_weather", OSLO)), ""),
    (
        f"<|channel|>commentary to=functions.get_weather<|constrain|> json <|message|> {WEATHER_ARGS} <|end|>",
        _calls(("get_weather", OSLO)),
        "",
    ),
    # Text before it, and two calls.
    (
        "Let me check.<|channel|>commentary to=functions.get_time <|constrain|>json<|message|>{}<|call|>"
        f"<|start|>assistant<|channel|>commentary to=functions.get_weather<|message|>{WEATHER_ARGS}<|call|>",
        _calls(("get_time", "{}"), ("get_weather", OSLO)),
        "Let me check.",
    ),
    # Not calls: the text without control tokens.
    ("<|channel|>final<|message|>Hello there<|end|>", [], "Hello there"),
    ('<|channel|>commentary to=functions.nope <|constrain|>json<|message|>{"a": 1}<|call|>', [], '{"a": 1}'),
    ("<|channel|>commentary to=functions.get_time<|message|>not json<|call|>", [], "not json"),
    ("plain text with a < b and a<|b", [], "plain text with a < b and a<|b"),
]


@pytest.mark.parametrize(("content", "calls", "text"), HARMONY)
def test_calls_leaked_as_harmony_markup_are_recovered(content: str, calls: list[dict[str, Any]], text: str) -> None:
    assert recover_calls(content, TOOLS, "seed") == (calls, text)


@pytest.mark.parametrize(("content", "calls", "text"), HARMONY)
def test_streamed_markup_in_any_pieces_is_recovered_the_same(
    content: str, calls: list[dict[str, Any]], text: str
) -> None:
    for size in (1, 3, 7, len(content)):
        held = HeldCall(TOOLS, "seed", enabled=True)
        shown = "".join(held.hold(content[i : i + size], at_start=i == 0) for i in range(0, len(content), size))
        released_calls, released_text = held.release(may_be_calls=True)
        assert "<|" not in shown.replace("a<|b", "")
        assert released_calls == calls
        assert (shown + released_text).strip() == text.strip()


def test_without_tools_markup_is_still_stripped_and_nothing_becomes_a_call() -> None:
    content = HARMONY[0][0]
    assert recover_calls(content, set(), "seed") == ([], WEATHER_ARGS)
