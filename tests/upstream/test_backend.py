"""The one reading of upstream usage: a table of the shapes seen, and the places that must agree."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._upstream.backend import Usage, usage_of
from tests.client import request, run
from tests.conftest import NATIVE, MakeGateway, tiers
from tests.doubles import FixedBackend, sse

MODEL = "gpt-oss-120b"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # The two shapes Workers AI uses.
        ({"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}, Usage(3, 4)),
        ({"input_tokens": 3, "output_tokens": 4}, Usage(3, 4)),
        # Details, in each shape's place for them.
        (
            {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "completion_tokens_details": {"reasoning_tokens": 3},
                "prompt_tokens_details": {"cached_tokens": 8},
            },
            Usage(10, 5, reasoning_tokens=3, cached_tokens=8),
        ),
        (
            {
                "input_tokens": 10,
                "output_tokens": 5,
                "output_tokens_details": {"reasoning_tokens": 3},
                "input_tokens_details": {"cached_tokens": 0},
            },
            Usage(10, 5, reasoning_tokens=3, cached_tokens=0),
        ),
        # Rows where two readers once disagreed: null is not a count, and one name wins.
        ({"prompt_tokens": None, "input_tokens": 5}, Usage(5, None)),
        ({"input_tokens": 7, "prompt_tokens": 9}, Usage(7, None)),
        ({"prompt_tokens": True}, Usage()),
        # Not counts at all.
        ({"prompt_tokens": -1, "completion_tokens": 2.5}, Usage()),
        ({"prompt_tokens": "3"}, Usage()),
        ({"completion_tokens_details": None, "prompt_tokens_details": [1]}, Usage()),
        ({}, Usage()),
        (None, Usage()),
        ([3, 4], Usage()),
    ],
)
def test_usage_is_read_one_way(raw: Any, expected: Usage) -> None:
    assert usage_of(raw) == expected


def test_usage_says_whether_anything_was_reported() -> None:
    assert not usage_of({"completion_tokens_details": {"reasoning_tokens": 2}}).reported
    assert usage_of({"output_tokens": 0}).reported


def _chat_answer(usage: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
        "usage": usage,
    }


DISAGREEING = [
    ({"prompt_tokens": None, "input_tokens": 5, "completion_tokens": 2}, 5, 2),
    ({"input_tokens": 7, "prompt_tokens": 9, "completion_tokens": 2}, 7, 2),
    ({"prompt_tokens": True, "completion_tokens": 2}, None, 2),
]


@pytest.mark.parametrize(("usage", "input_tokens", "output_tokens"), DISAGREEING)
def test_the_client_the_log_line_and_the_budget_see_the_same_counts(
    make_gateway: MakeGateway, usage: dict[str, Any], input_tokens: int | None, output_tokens: int
) -> None:
    gw = make_gateway(FixedBackend(_chat_answer(usage)), TIERS=tiers(tokens_per_minute=100_000))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}]}
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth))
    client = reply.json()["usage"]
    line = json.loads(gw.logs[-1])
    assert (client["prompt_tokens"], client["completion_tokens"]) == (input_tokens or 0, output_tokens)
    assert (line["input_tokens"], line["output_tokens"]) == (input_tokens, output_tokens)
    assert line["tokens_charged"] == (input_tokens or 0) + output_tokens


@pytest.mark.parametrize(("usage", "input_tokens", "output_tokens"), DISAGREEING)
def test_a_streamed_answer_is_read_the_same_way(
    make_gateway: MakeGateway, usage: dict[str, Any], input_tokens: int | None, output_tokens: int
) -> None:
    chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "hi"}}]}
    last = {"object": "chat.completion.chunk", "choices": [], "usage": usage}
    gw = make_gateway(FixedBackend(sse(chunk, last)), TIERS=tiers(tokens_per_minute=100_000))
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth))
    client = json.loads(reply.events()[-2])["usage"]
    line = json.loads(gw.logs[-1])
    assert (client["prompt_tokens"], client["completion_tokens"]) == (input_tokens or 0, output_tokens)
    assert (line["input_tokens"], line["output_tokens"]) == (input_tokens, output_tokens)
    assert line["tokens_charged"] == (input_tokens or 0) + output_tokens


def test_the_native_route_logs_what_usage_of_reads(make_gateway: MakeGateway) -> None:
    answer = {"response": "hi", "usage": {"prompt_tokens": None, "input_tokens": 5, "completion_tokens": 2}}
    gw = make_gateway(FixedBackend(answer))
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "x"}, headers=gw.auth))
    assert reply.status == 200
    line = json.loads(gw.logs[-1])
    assert (line["input_tokens"], line["output_tokens"]) == (5, 2)
