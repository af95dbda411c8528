"""Malformed bodies on every route: always a clear 4xx naming a field, never a 5xx or a crash.

Valid bodies are mutated field by field with values of every JSON type (seeded, so a failure
reproduces), and each answer must be a 2xx or a 4xx that carries a message.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tests.client import request, run
from tests.conftest import NATIVE, MakeGateway

HELLO = [{"role": "user", "content": "hi"}]
TOOL = {
    "type": "function",
    "function": {"name": "f", "description": "", "parameters": {"type": "object", "properties": {}}},
}
VALID: list[tuple[str, dict[str, Any]]] = [
    (NATIVE, {"prompt": "hi", "max_tokens": 10, "temperature": 1}),
    (NATIVE, {"messages": HELLO, "tools": [TOOL], "stream": False}),
    (NATIVE, {"input": "hi", "instructions": "x", "reasoning": {"effort": "low"}}),
    (NATIVE, {"requests": [{"input": "a"}]}),
    (
        "/v1/chat/completions",
        {
            "model": "gpt-oss-120b",
            "messages": HELLO,
            "tools": [TOOL],
            "stop": ["x"],
            "response_format": {"type": "json_object"},
            "max_tokens": 50,
        },
    ),
    (
        "/v1/responses",
        {
            "model": "gpt-oss-120b",
            "input": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "name": "f"}],
            "text": {"format": {"type": "text"}},
            "reasoning": {"effort": "low"},
        },
    ),
    ("/v1/completions", {"model": "gpt-oss-120b", "prompt": "hi", "max_tokens": 20, "stop": "x"}),
    (
        "/v1/messages",
        {
            "model": "claude-sonnet-5-5",
            "max_tokens": 64,
            "system": [{"type": "text", "text": "x", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "hi"}]},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]},
            ],
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "auto"},
            "thinking": {"type": "enabled", "budget_tokens": 1024},
            "stop_sequences": ["x"],
        },
    ),
    ("/v1/messages/count_tokens", {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}),
]
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1.5,
    10**20,
    "",
    "x",
    "\u0000",
    [],
    [None],
    [1, "a"],
    {},
    {"role": None},
    {"type": "function"},
    [{}],
    [{"role": "user"}],
    [{"type": 5}],
]


def mutations(seed: int, count: int) -> list[tuple[str, dict[str, Any]]]:
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        path, body = rng.choice(VALID)
        body = dict(body)
        field = rng.choice([*body, "messages", "input", "tools", "model", "stream", "system", "tool_choice"])
        value = rng.choice(ODD_VALUES)
        if isinstance(body.get(field), list) and body[field] and rng.random() < 0.5:
            body[field] = [value, *body[field][1:]]  # break an item rather than the list
        else:
            body[field] = value
        cases.append((path, body))
    return cases


@pytest.mark.parametrize("seed", range(6))
def test_mutated_bodies_never_get_a_5xx(make_gateway: MakeGateway, seed: int) -> None:
    gw = make_gateway()
    for path, body in mutations(seed, 60):
        reply = run(request(gw.app, "POST", path, body=body, headers=gw.auth))
        assert reply.status < 500, (path, body, reply.body)
        if reply.status >= 400:
            payload = reply.json()
            message = payload["errors"][0]["message"] if "errors" in payload else payload["error"]["message"]
            assert message, (path, body)
    assert run(request(gw.app, "POST", NATIVE, body={"prompt": "still here"}, headers=gw.auth)).status == 200
