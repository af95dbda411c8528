"""Recovering tool calls that gpt-oss leaked into `content` as JSON: a table of texts and calls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._upstream.leaked_calls import HeldCall, call_id, recover_tool_calls

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
    assert held.hold('{"name": "get_time",', at_start=True)
    assert held.hold(' "arguments": {}}', at_start=False)
    assert held.release(may_be_calls=True) == (_calls(("get_time", "{}")), "")

    held = HeldCall(TOOLS, "seed", enabled=True)
    assert held.hold('{"not": "a call"}', at_start=True)
    assert held.release(may_be_calls=True) == ([], '{"not": "a call"}')


@pytest.mark.parametrize(
    ("enabled", "text", "at_start", "held"),
    [(True, "Hello", True, False), (True, "{", False, False), (False, "{", True, False), (True, " [", True, True)],
)
def test_only_json_looking_text_that_opens_the_answer_is_held(
    enabled: bool, text: str, at_start: bool, held: bool
) -> None:
    assert HeldCall(TOOLS, "seed", enabled=enabled).hold(text, at_start=at_start) is held
