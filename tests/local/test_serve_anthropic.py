"""The official anthropic SDK against a running `gateway serve` (the emulator behind it): create, the
`messages.stream` helper event by event, a tool loop, thinking blocks, and the error classes."""

from __future__ import annotations

from typing import Any

import pytest

import anthropic
from tests.anthropic.conftest import HELPER_RUNS, WEATHER
from tests.conftest import tiers
from tests.local.conftest import MakeServer, Server

MODEL = "gpt-oss-120b"
HELLO: Any = [{"role": "user", "content": "ping"}]


def client_of(server: Server, key: str | None = None) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.url, api_key=key or server.key, max_retries=0)


def test_create_and_thinking_blocks(server: Server) -> None:
    client = client_of(server)
    reply = client.messages.create(model=MODEL, max_tokens=2048, messages=HELLO)
    assert reply.model == MODEL and reply.stop_reason == "end_turn" and "ping" in reply.content[0].text  # type: ignore[union-attr]
    thought = client.messages.create(
        model="claude-sonnet-5-5", max_tokens=2048, messages=HELLO, thinking={"type": "enabled", "budget_tokens": 10000}
    )
    assert thought.model == "@cf/openai/gpt-oss-120b"  # the model that answered, not the name asked for
    assert [block.type for block in thought.content] == ["thinking", "text"]
    assert "Reasoning effort is medium" in thought.content[0].thinking  # type: ignore[union-attr]
    assert client.messages.count_tokens(model=MODEL, messages=HELLO).input_tokens > 0


def test_the_stream_helper_event_by_event(server: Server) -> None:
    client = client_of(server)
    thinking: Any = {"type": "adaptive"}
    with client.messages.stream(model=MODEL, max_tokens=2048, messages=HELLO, thinking=thinking) as stream:
        seen = [event.type for event in stream if event.type != "content_block_delta"]
        final = stream.get_final_message()
    runs = [name for i, name in enumerate(seen) if i == 0 or seen[i - 1] != name]
    assert runs == HELPER_RUNS
    assert seen.count("text") > 5  # token by token, as the emulator streams
    assert final.stop_reason == "end_turn" and "ping" in final.content[1].text  # type: ignore[union-attr]


def test_a_tool_loop(server: Server) -> None:
    client = client_of(server)
    messages: Any = [{"role": "user", "content": "What is the get_weather in Paris?"}]
    with client.messages.stream(model=MODEL, max_tokens=2048, messages=messages, tools=[WEATHER]) as stream:
        first = stream.get_final_message()
    (call,) = first.content
    assert first.stop_reason == "tool_use" and call.input == {"city": "Paris"}  # type: ignore[union-attr]
    messages += [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 24C"}]},  # type: ignore[union-attr]
    ]
    second = client.messages.create(model=MODEL, max_tokens=2048, messages=messages, tools=[WEATHER])
    assert second.stop_reason == "end_turn" and "sunny, 24C" in second.content[0].text  # type: ignore[union-attr]


def test_request_errors(server: Server) -> None:
    with pytest.raises(anthropic.AuthenticationError):
        client_of(server, key="nope").messages.create(model=MODEL, max_tokens=9, messages=HELLO)
    with pytest.raises(anthropic.NotFoundError):
        client_of(server).messages.create(model="gpt-5", max_tokens=9, messages=HELLO)
    with pytest.raises(anthropic.BadRequestError) as caught:
        client_of(server).messages.create(model=MODEL, max_tokens=9, messages=HELLO, extra_body={"temperature": 1.5})
    assert caught.value.type == "invalid_request_error" and "temperature" in str(caught.value.api_message)


def test_upstream_and_limit_errors(make_server: MakeServer) -> None:
    overloaded = make_server(EMULATOR_FAULTS="capacity=99", CAPACITY_RETRIES="0")
    with pytest.raises(anthropic.OverloadedError) as caught:
        client_of(overloaded).messages.create(model=MODEL, max_tokens=9, messages=HELLO)
    assert caught.value.response.headers["retry-after"] == "2"
    limited = make_server(TIERS=tiers(requests=1, period=60))
    client_of(limited).messages.create(model=MODEL, max_tokens=9, messages=HELLO)
    with pytest.raises(anthropic.RateLimitError):
        client_of(limited).messages.create(model=MODEL, max_tokens=9, messages=HELLO)
    broken = make_server(EMULATOR_FAULTS="midstream=6")
    with (
        pytest.raises(anthropic.APIStatusError) as mid,
        client_of(broken).messages.stream(model=MODEL, max_tokens=99, messages=HELLO) as stream,
    ):
        for _ in stream:
            pass
    assert (mid.value.status_code, mid.value.type) == (200, "api_error")  # an error event, after the 200
