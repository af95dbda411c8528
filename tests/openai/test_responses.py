"""The Responses API through the official SDK, and OpenAI's event grammar checked event by event."""

from __future__ import annotations

import json
from typing import Any

from gateway.local.emulator import Emulator, Faults
from tests.client import request, run
from tests.conftest import MakeGateway
from tests.openai.conftest import MakeClient

MODEL = "gpt-oss-120b"
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def test_plain(make_client: MakeClient) -> None:
    client, gw = make_client()
    reply = run(client.responses.create(model=MODEL, input="Hello there"))
    assert reply.object == "response" and reply.status == "completed" and reply.id.startswith("resp_")
    assert "Hello there" in reply.output_text
    assert [item.type for item in reply.output] == ["reasoning", "message"]
    assert reply.usage is not None and reply.usage.output_tokens_details.reasoning_tokens > 0
    assert reply.usage.total_tokens == reply.usage.input_tokens + reply.usage.output_tokens
    assert gw.backend.calls[-1][1]["messages"] == [{"role": "user", "content": "Hello there"}]


def test_instructions_become_the_system_message(make_client: MakeClient) -> None:
    client, gw = make_client()
    reply = run(client.responses.create(model=MODEL, input="Hi", instructions="Answer in one word."))
    assert gw.backend.calls[-1][1]["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert reply.instructions == "Answer in one word."


def test_each_reasoning_effort_reaches_the_model(make_client: MakeClient) -> None:
    client, gw = make_client()
    for effort in ("low", "medium", "high"):
        reply = run(client.responses.create(model=MODEL, input="x", reasoning={"effort": effort}))
        assert gw.backend.calls[-1][1]["reasoning_effort"] == effort
        assert f"effort is {effort}" in reply.output[0].content[0].text  # type: ignore[union-attr]


def test_a_tool_round_trip_with_function_call_output(make_client: MakeClient) -> None:
    client, gw = make_client()
    first = run(client.responses.create(model=MODEL, input="What is the get_weather in Lisbon?", tools=[WEATHER]))
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Lisbon"}
    follow_up: list[Any] = [
        {"role": "user", "content": "What is the get_weather in Lisbon?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "rainy, 12C"},
    ]
    second = run(client.responses.create(model=MODEL, input=follow_up, tools=[WEATHER]))
    assert "rainy, 12C" in second.output_text
    sent = gw.backend.calls[-1][1]
    assert sent["messages"][1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {"id": call.call_id, "type": "function", "function": {"name": "get_weather", "arguments": call.arguments}}
        ],
    }
    assert sent["messages"][2] == {"role": "tool", "tool_call_id": call.call_id, "content": "rainy, 12C"}
    assert sent["tools"] == [
        {"type": "function", "function": {k: WEATHER[k] for k in ("name", "description", "parameters")}}
    ]


def test_json_schema_output(make_client: MakeClient) -> None:
    client, gw = make_client()
    schema: Any = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    reply = run(
        client.responses.create(
            model=MODEL,
            input="Capital of Peru?",
            text={"format": {"type": "json_schema", "name": "place", "schema": schema}},
        )
    )
    assert set(json.loads(reply.output_text)) == {"city"}
    # Workers AI's JSON Mode takes the schema itself, not OpenAI's {name, schema, strict}.
    assert gw.backend.calls[-1][1]["response_format"] == {"type": "json_schema", "json_schema": schema}


def test_echoed_function_tools_carry_strict_description_and_parameters(make_client: MakeClient) -> None:
    client, _ = make_client()
    tools: Any = [{"type": "function", "name": "f"}]
    raw = run(client.responses.with_raw_response.create(model=MODEL, input="hi", tools=tools))
    echoed = raw.http_response.json()["tools"][0]
    assert echoed == {"type": "function", "name": "f", "strict": None, "description": None, "parameters": None}


def test_the_typed_stream_helper_event_by_event(make_client: MakeClient) -> None:
    client, _ = make_client()

    async def collect() -> tuple[list[Any], Any]:
        async with client.responses.stream(model=MODEL, input="Stream me") as stream:
            events = [event async for event in stream]
            return events, await stream.get_final_response()

    events, final = run(collect())
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = [e.type for e in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    text_deltas = [e for e in events if e.type == "response.output_text.delta"]
    assert len(text_deltas) > 5  # token by token, not one synthesized blob
    assert text_deltas[-1].snapshot == final.output_text
    assert "Stream me" in final.output_text and final.status == "completed"
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == final.output_text


def grammar(make_gateway: MakeGateway, body: dict[str, Any], backend: Any = None) -> list[dict[str, Any]]:
    gw = make_gateway(backend)
    reply = run(
        request(gw.app, "POST", "/v1/responses", body={"model": MODEL, "stream": True, **body}, headers=gw.auth)
    )
    assert reply.event_names() == [json.loads(data)["type"] for data in reply.events()]  # `event:` matches `type`
    return [json.loads(data) for data in reply.events()]


def collapse(kinds: list[str]) -> list[str]:
    """Event types with runs of the same delta folded into one."""
    out: list[str] = []
    for kind in kinds:
        if not (kind.endswith(".delta") and out and out[-1] == kind):
            out.append(kind)
    return out


def test_the_event_grammar_for_a_text_answer(make_gateway: MakeGateway) -> None:
    events = grammar(make_gateway, {"input": "hello"})
    assert collapse([e["type"] for e in events]) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_text.delta",
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    completed = events[-1]["response"]
    assert [item["type"] for item in completed["output"]] == ["reasoning", "message"]
    assert completed["usage"]["output_tokens"] > 0
    message_ids = {e["item_id"] for e in events if e["type"] == "response.output_text.delta"}
    assert message_ids == {completed["output"][1]["id"]}


def test_the_event_grammar_for_a_tool_call(make_gateway: MakeGateway) -> None:
    events = grammar(make_gateway, {"input": "call get_weather for Kyiv", "tools": [WEATHER]})
    kinds = collapse([e["type"] for e in events])
    assert kinds[-5:] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    done = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert json.loads(done["arguments"]) == {"city": "Kyiv"} and done["name"] == "get_weather"


def test_a_reasoning_summary_streams_live_in_openais_order(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=20))
    body = {"model": MODEL, "stream": True, "input": "x", "reasoning": {"summary": "auto"}}
    reply = run(request(gw.app, "POST", "/v1/responses", body=body, headers=gw.auth))
    events = [json.loads(data) for data in reply.events()]
    item_id = events[2]["item"]["id"]
    kinds = [e["type"] for e in events if item_id in (e.get("item_id"), e.get("item", {}).get("id"))]
    assert kinds[:3] == [
        "response.output_item.added",
        "response.content_part.added",
        "response.reasoning_summary_part.added",
    ]
    middle = kinds[3:-5]
    assert middle == ["response.reasoning_text.delta", "response.reasoning_summary_text.delta"] * (len(middle) // 2)
    assert len(middle) > 10, "token by token"
    assert kinds[-5:] == [
        "response.reasoning_text.done",
        "response.content_part.done",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
    ]
    summary = [e for e in events if e["type"] == "response.reasoning_summary_text.delta"]
    text = [e for e in events if e["type"] == "response.reasoning_text.delta"]
    assert [e["delta"] for e in summary] == [e["delta"] for e in text]
    assert {e["summary_index"] for e in summary} == {0}
    done = next(e for e in events if e["type"] == "response.reasoning_summary_text.done")
    assert done["text"] == "".join(e["delta"] for e in summary)
    assert events[-1]["response"]["output"][0]["summary"] == [{"type": "summary_text", "text": done["text"]}]
    # Live: the first summary delta leaves long before the reasoning ends, not as one delta after it.
    first = next(t for t, chunk in reply.chunks if b"reasoning_summary_text.delta" in chunk)
    ended = next(t for t, chunk in reply.chunks if b"reasoning_text.done" in chunk)
    assert ended - first > 0.15, (first, ended)


def test_max_output_tokens_reached_is_response_incomplete(make_gateway: MakeGateway) -> None:
    events = grammar(make_gateway, {"input": "x", "max_output_tokens": 5})
    assert events[-1]["type"] == "response.incomplete"
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_a_failure_mid_stream_is_response_failed(make_gateway: MakeGateway) -> None:
    events = grammar(make_gateway, {"input": "x"}, Emulator(token_delay_ms=0, faults=Faults(midstream=6)))
    assert events[-1]["type"] == "response.failed"
    assert events[-1]["response"]["status"] == "failed"
    assert "stream failed" in events[-1]["response"]["error"]["message"]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))


def test_a_json_answer_to_a_stream_request_is_synthesized_into_the_grammar(make_gateway: MakeGateway) -> None:
    events = grammar(
        make_gateway, {"input": "hi there"}, Emulator(token_delay_ms=0, faults=Faults(json_to_stream=True))
    )
    assert events[-1]["type"] == "response.completed"
    assert "hi there" in events[-1]["response"]["output"][1]["content"][0]["text"]


def test_metadata_and_user_are_echoed(make_client: MakeClient) -> None:
    client, _ = make_client()
    reply = run(client.responses.create(model=MODEL, input="x", metadata={"team": "a"}, user="u-9"))
    assert reply.metadata == {"team": "a"} and reply.user == "u-9"
