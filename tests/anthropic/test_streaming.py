"""Messages streams: Anthropic's event grammar through the SDK's `messages.stream` helper, and at the
ASGI-message level with timing (pings while the model is quiet, failures, hangups)."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest

import anthropic
from gateway._errors import WorkersAIError
from gateway.local.emulator import Emulator, Faults
from tests.anthropic.conftest import HELPER_RUNS, MakeAnthropic
from tests.client import Reply, request, run
from tests.conftest import MakeGateway, tiers

MODEL = "gpt-oss-120b"
HELLO: Any = [{"role": "user", "content": "Tell me about streams"}]
WEATHER: Any = {
    "name": "get_weather",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def body(**extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 1024, "messages": HELLO, "stream": True, **extra}


def events(reply: Reply) -> list[tuple[str, dict[str, Any], float]]:
    """(event name, data, seconds since the request) for each event, in order."""
    out = []
    for at, chunk in reply.chunks:
        for block in chunk.decode().split("\n\n"):
            lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
            if "event" in lines:
                out.append((lines["event"], json.loads(lines["data"]), at))
    return out


def kinds(reply: Reply) -> list[str]:
    """Each event's name, with its delta's type: `content_block_delta/text_delta`."""
    return [
        name + (f"/{data['delta']['type']}" if name == "content_block_delta" else "") for name, data, _ in events(reply)
    ]


def collapse(names: list[str]) -> list[str]:
    """Runs of the same event as one."""
    return [name for i, name in enumerate(names) if i == 0 or names[i - 1] != name]


def test_the_stream_helper_sees_anthropics_grammar_event_by_event(make_anthropic: MakeAnthropic) -> None:
    client, _ = make_anthropic()

    async def go() -> tuple[list[Any], anthropic.types.Message]:
        thinking: Any = {"type": "enabled", "budget_tokens": 2048}
        async with client.messages.stream(model=MODEL, max_tokens=4096, messages=HELLO, thinking=thinking) as stream:
            seen = [event async for event in stream]
            return seen, await stream.get_final_message()

    seen, final = run(go())
    # The helper yields each raw `content_block_delta` followed by what it means (`thinking`, `text`...).
    names = [event.type for event in seen if event.type != "content_block_delta"]
    assert [event.type for event in seen].count("content_block_delta") == len(
        [name for name in names if name in ("thinking", "signature", "text")]
    )
    assert collapse(names) == HELPER_RUNS
    thinking = "".join(event.thinking for event in seen if event.type == "thinking")
    text = "".join(event.text for event in seen if event.type == "text")
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == thinking and "Reasoning effort is low" in thinking  # type: ignore[union-attr]
    assert final.content[1].text == text and "Tell me about streams" in text  # type: ignore[union-attr]
    assert final.content[0].signature  # type: ignore[union-attr]
    assert final.stop_reason == "end_turn" and final.usage.output_tokens > 0 and final.usage.input_tokens > 0


def test_a_streamed_tool_call_arrives_as_input_json_deltas(make_anthropic: MakeAnthropic) -> None:
    client, _ = make_anthropic()

    async def go() -> tuple[list[Any], anthropic.types.Message]:
        messages: Any = [{"role": "user", "content": "the get_weather in Oslo"}]
        async with client.messages.stream(model=MODEL, max_tokens=999, messages=messages, tools=[WEATHER]) as stream:
            seen = [event async for event in stream]
            return seen, await stream.get_final_message()

    seen, final = run(go())
    assert "input_json" in [event.type for event in seen]
    (call,) = final.content
    assert call.type == "tool_use" and call.input == {"city": "Oslo"} and final.stop_reason == "tool_use"


def test_deltas_leave_as_the_model_produces_them(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=50))
    reply = run(request(gw.app, "POST", "/v1/messages", body=body(), headers=gw.auth))
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/event-stream")
    texts = [at for name, data, at in events(reply) if name == "content_block_delta"]
    # The first text is out long before the model ends (the text runs to about 20 tokens, 50 ms each);
    # measured from the end rather than the start, since reasoning comes first and load only delays it.
    assert events(reply)[-1][2] - texts[0] > 0.25
    gaps = sorted(later - earlier for earlier, later in itertools.pairwise(texts))
    assert gaps[len(gaps) // 2] > 0.03  # spaced like the upstream, not released in a burst
    assert kinds(reply)[-2:] == ["message_delta", "message_stop"]
    assert "ping" not in kinds(reply)  # never quiet for STREAM_PING_S (5 s)


def test_pings_keep_the_stream_alive_while_the_model_is_slow_to_start(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(slow_first_token_ms=600)), STREAM_PING_S="0.1")
    reply = run(request(gw.app, "POST", "/v1/messages", body=body(), headers=gw.auth))
    seen = events(reply)
    assert seen[0][0] == "message_start" and 0.08 < seen[0][2] < 0.3  # opened at the first interval
    assert seen[0][1]["message"]["usage"]["input_tokens"] > 0  # the estimate, until the count is known
    first_block = next(i for i, (name, _, _) in enumerate(seen) if name == "content_block_start")
    pings = [at for name, _, at in seen[:first_block] if name == "ping"]
    assert len(pings) >= 4 and pings[0] < 0.3 and seen[first_block][2] > 0.55
    assert max(later - earlier for earlier, later in itertools.pairwise(pings)) < 0.2
    assert kinds(reply)[-1] == "message_stop"


def test_pings_fill_the_silence_while_thinking_is_not_shown(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=60), STREAM_PING_S="0.05")
    reply = run(request(gw.app, "POST", "/v1/messages", body=body(), headers=gw.auth))  # no thinking asked for
    names = kinds(reply)
    first_block = names.index("content_block_start")
    assert names[0] == "message_start" and names[first_block + 1] == "content_block_delta/text_delta"
    assert names[1:first_block].count("ping") >= 5  # the reasoning, sent as nothing but pings
    assert "content_block_delta/thinking_delta" not in names


def test_omitted_thinking_streams_a_thinking_block_with_only_its_signature(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    thinking = {"type": "adaptive", "display": "omitted"}  # what Claude Code sends
    reply = run(request(gw.app, "POST", "/v1/messages", body=body(thinking=thinking), headers=gw.auth))
    assert collapse(kinds(reply))[:5] == [
        "message_start",
        "content_block_start",
        "content_block_delta/signature_delta",
        "content_block_stop",
        "content_block_start",
    ]
    start = events(reply)[1][1]
    assert start["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}


def test_an_early_failure_keeps_its_status(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(capacity=9)), CAPACITY_RETRIES="0")
    reply = run(request(gw.app, "POST", "/v1/messages", body=body(), headers=gw.auth))
    assert reply.status == 529 and reply.headers["retry-after"] == "2"
    assert reply.json()["error"]["type"] == "overloaded_error"
    # A budget that cannot hold the input and 1,024 output tokens: refused before the stream opens.
    budget = make_gateway(TIERS=tiers(tokens_per_minute=1000))
    over = run(request(budget.app, "POST", "/v1/messages", body=body(max_tokens=2000), headers=budget.auth))
    assert over.status == 400 and over.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in over.json()["error"]["message"]


class SlowFailure:
    """An upstream that fails only after the stream has had to open."""

    name = "slow-failure"

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> Any:
        await asyncio.sleep(0.3)
        raise WorkersAIError(5006, "input validation failed")


def test_a_failure_after_the_stream_opened_is_an_error_event(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic(SlowFailure(), STREAM_PING_S="0.05")

    async def go() -> list[str]:
        seen: list[str] = []
        async with client.messages.stream(model=MODEL, max_tokens=99, messages=HELLO) as stream:
            async for event in stream:
                seen.append(event.type)
        return seen

    with pytest.raises(anthropic.APIStatusError) as caught:
        run(go())
    assert caught.value.type == "invalid_request_error" and "Workers AI error 5006" in str(caught.value.api_message)
    assert json.loads(gw.logs[-1])["status"] == 200


def test_a_failure_mid_stream_ends_with_an_error_event_and_no_message_stop(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic(Emulator(token_delay_ms=1, faults=Faults(midstream=8)))
    reply = run(request(gw.app, "POST", "/v1/messages", body=body(), headers=gw.auth))
    names = kinds(reply)
    assert names[-1] == "error" and "message_stop" not in names
    assert events(reply)[-1][1] == {
        "type": "error",
        "error": {"type": "api_error", "message": events(reply)[-1][1]["error"]["message"]},
    }

    async def go() -> None:
        async with client.messages.stream(model=MODEL, max_tokens=99, messages=HELLO) as stream:
            async for _ in stream:
                pass

    with pytest.raises(anthropic.APIStatusError) as caught:
        run(go())
    assert caught.value.type == "api_error" and "stream failed" in str(caught.value.api_message)


def test_a_client_that_leaves_cancels_the_upstream_read(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=50))
    run(request(gw.app, "POST", "/v1/messages", body=body(), headers=gw.auth, disconnect_after=0.12))
    stream = gw.backend.streams[-1]
    assert stream.cancelled and 1 <= stream.sent < len(stream.events)
    assert json.loads(gw.logs[-1])["error"] == "client disconnected"


def test_a_client_that_leaves_during_a_slow_start_stops_the_model_call(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(slow_first_token_ms=400)), STREAM_PING_S="0.05")
    reply = run(request(gw.app, "POST", "/v1/messages", body=body(), headers=gw.auth, disconnect_after=0.05))
    assert reply.chunks[-1][0] < 0.3  # only message_start and a ping or two went out
    stream = gw.backend.streams[-1]
    assert stream.cancelled and stream.sent == 0


def test_a_json_answer_to_a_stream_request_still_streams_the_whole_grammar(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(json_to_stream=True)))
    reply = run(request(gw.app, "POST", "/v1/messages", body=body(), headers=gw.auth))
    assert collapse(kinds(reply)) == [
        "message_start",
        "content_block_start",
        "content_block_delta/text_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
