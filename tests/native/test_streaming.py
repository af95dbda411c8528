"""Streaming, asserted at the ASGI-message level with timing: not only what arrives, but when."""

from __future__ import annotations

import itertools
import json

from gateway.local.emulator import Emulator, Faults
from tests.client import request, run
from tests.conftest import NATIVE, MakeGateway
from tests.doubles import FixedBackend, ScriptedStream

CHAT = {"messages": [{"role": "user", "content": "Tell me about streams"}], "stream": True}


def test_events_reach_the_client_as_the_upstream_produces_them(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=50))
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth))
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    times = [at for at, _ in reply.chunks]
    produced = len(gw.backend.streams[-1].events)
    assert len(reply.chunks) == produced  # one send per upstream event, nothing batched
    assert times[0] < 0.1  # the first event is out long before the last is produced
    assert times[-1] > (produced - 1) * 0.05 * 0.8
    gaps = [later - earlier for earlier, later in itertools.pairwise(times[1:])]
    assert sorted(gaps)[len(gaps) // 2] > 0.03  # spaced like the upstream, not released in a burst
    assert reply.events()[-1] == "[DONE]"


def test_a_client_that_disconnects_cancels_the_upstream_read(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=50))
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth, disconnect_after=0.12))
    stream = gw.backend.streams[-1]
    assert stream.cancelled
    assert 1 <= stream.sent < len(stream.events)
    assert reply.chunks[-1][0] < 0.5  # the gateway stopped sending within a token or two
    assert json.loads(gw.logs[-1])["error"] == "client disconnected"


def test_a_send_that_fails_counts_as_a_disconnect(make_gateway: MakeGateway) -> None:
    # The Workers ASGI adapter reports a cancelled body this way, not with http.disconnect.
    gw = make_gateway(Emulator(token_delay_ms=50))
    run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth, send_fails_after=0.12))
    stream = gw.backend.streams[-1]
    assert stream.cancelled and stream.sent < len(stream.events)


def test_a_failure_mid_stream_ends_with_an_error_event_and_no_done(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=1, faults=Faults(midstream=5)))
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth))
    assert reply.status == 200  # the status went out with the first byte
    assert reply.complete
    events = reply.events()
    assert len(events) == 6 and "[DONE]" not in events
    assert reply.event_names() == ["error"]
    error = json.loads(events[-1])
    assert error["success"] is False and "stream failed" in error["errors"][0]["message"]
    assert json.loads(gw.logs[-1])["error"]


def test_a_stream_that_ends_without_done_is_reported_not_passed_off(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=1, faults=Faults(truncate=4)))
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth))
    assert reply.event_names() == ["error"]
    assert "before it was complete" in json.loads(reply.events()[-1])["errors"][0]["message"]


def test_an_upstream_that_stalls_mid_stream_is_cut_by_the_idle_timeout(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=400), STREAM_IDLE_TIMEOUT_S="0.1")
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth))
    assert reply.event_names() == ["error"]
    assert reply.chunks[-1][0] < 0.35
    assert "sent nothing for 0.1 s" in reply.events()[-1]
    assert gw.backend.streams[-1].cancelled


def test_a_json_answer_to_a_stream_request_still_gives_a_well_formed_stream(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(json_to_stream=True)))
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth))
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = reply.events()
    assert events[-1] == "[DONE]"
    chunk = json.loads(events[0])
    assert chunk["object"] == "chat.completion.chunk"
    assert "Tell me about streams" in chunk["choices"][0]["delta"]["content"]
    assert chunk["choices"][0]["finish_reason"] == "stop"
    assert chunk["usage"]["completion_tokens"] > 0


def test_a_json_answer_to_a_prompt_stream_uses_the_prompt_frames(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(json_to_stream=True)))
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi", "stream": True}, headers=gw.auth))
    events = reply.events()
    assert "hi" in json.loads(events[0])["response"]
    assert json.loads(events[1])["usage"]["total_tokens"] > 0
    assert events[-1] == "[DONE]"


def test_a_streamed_responses_body_is_asked_whole_and_streamed_not_emptied(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "POST", NATIVE, body={"input": "What is up?", "stream": True}, headers=gw.auth))
    assert "stream" not in gw.backend.calls[-1][1]
    events = reply.events()
    assert json.loads(events[0])["object"] == "response"
    assert "What is up?" in events[0]
    assert events[-1] == "[DONE]"


def test_the_emulator_reproduces_the_empty_responses_stream_quirk() -> None:
    async def read() -> list[bytes]:
        stream = await Emulator(token_delay_ms=0).run("@cf/openai/gpt-oss-120b", {"input": "x", "stream": True}, {})
        return [chunk async for chunk in stream]  # type: ignore[union-attr]

    assert run(read()) == [b'data: {"response":""}\n\n', b"data: [DONE]\n\n"]


def test_usage_in_a_stream_reaches_the_log_line(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth))
    line = json.loads(gw.logs[-1])
    assert line["streamed"] is True and line["output_tokens"] > 0 and line["ttfb_ms"] is not None


def test_a_multibyte_character_split_across_chunks_arrives_intact(make_gateway: MakeGateway) -> None:
    event = 'data: {"response":"naïve café 😀"}\n\n'.encode()
    split = event.index("😀".encode()) + 2  # inside the four-byte emoji
    stream = ScriptedStream([event[:split], event[split:], b"data: [DONE]\n\n"])
    gw = make_gateway(FixedBackend(stream))
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "x", "stream": True}, headers=gw.auth))
    assert json.loads(reply.events()[0])["response"] == "naïve café 😀"
    assert reply.events()[-1] == "[DONE]"
    assert stream.closed


def test_an_event_split_across_chunks_is_sent_once_whole(make_gateway: MakeGateway) -> None:
    stream = ScriptedStream([b'data: {"respo', b'nse":"a"}\n', b"\n", b'data: {"response":"b"}\n\ndata: [DONE]\n\n'])
    gw = make_gateway(FixedBackend(stream))
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "x", "stream": True}, headers=gw.auth))
    assert [chunk for _, chunk in reply.chunks] == [
        b'data: {"response":"a"}\n\n',
        b'data: {"response":"b"}\n\ndata: [DONE]\n\n',
    ]


def test_a_json_body_arriving_as_a_stream_becomes_an_event_stream(make_gateway: MakeGateway) -> None:
    # The binding hands back the raw body of every stream request; a JSON answer then arrives as
    # a stream of JSON bytes, which must not be relayed as torn SSE.
    body = json.dumps({"response": "Hello!", "usage": {"prompt_tokens": 3, "completion_tokens": 2}}).encode()
    stream = ScriptedStream([b"  ", body[:10], body[10:]])
    gw = make_gateway(FixedBackend(stream))
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "x", "stream": True}, headers=gw.auth))
    assert reply.event_names() == []
    assert json.loads(reply.events()[0])["response"] == "Hello!"
    assert reply.events()[-1] == "[DONE]"
    assert stream.closed
