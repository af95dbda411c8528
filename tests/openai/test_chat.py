"""Chat Completions through the official openai SDK, and the wire format under it."""

from __future__ import annotations

import json
from typing import Any

import pytest

import openai
from gateway.local.emulator import Emulator, Faults
from tests.client import request, run
from tests.conftest import MakeGateway
from tests.doubles import FixedBackend, sse
from tests.openai.conftest import MakeClient

MODEL = "gpt-oss-120b"
WEATHER: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_plain_completion(make_client: MakeClient) -> None:
    client, gw = make_client()
    reply = run(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hello there"}]))
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and reply.model == MODEL
    assert "Hello there" in (choice.message.content or "") and choice.finish_reason == "stop"
    assert choice.message.reasoning_content  # type: ignore[attr-defined]
    assert (
        reply.usage is not None
        and reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    )
    assert reply.usage.completion_tokens_details.reasoning_tokens > 0  # type: ignore[union-attr]
    sent = gw.backend.calls[-1][1]
    assert sent["max_tokens"] == 8192  # never Workers AI's 256 when the client names no limit


def test_system_and_developer_messages_reach_the_model_as_system(make_client: MakeClient) -> None:
    client, gw = make_client()
    run(
        client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "developer", "content": "Use French."},
                {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]},
            ],
        )
    )
    assert gw.backend.calls[-1][1]["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Use French."},
        {"role": "user", "content": "Hi\nthere"},
    ]


def test_fields_are_translated_to_the_messages_form(make_client: MakeClient) -> None:
    client, gw = make_client()
    run(
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "x"}],
            temperature=0.2,
            top_p=0.9,
            seed=7,
            frequency_penalty=0.5,
            presence_penalty=-0.5,
            max_completion_tokens=300,
            reasoning_effort="high",
            user="u-1",
        )
    )
    sent = gw.backend.calls[-1][1]
    assert {
        k: sent[k]
        for k in (
            "temperature",
            "top_p",
            "seed",
            "frequency_penalty",
            "presence_penalty",
            "max_tokens",
            "reasoning_effort",
        )
    } == {
        "temperature": 0.2,
        "top_p": 0.9,
        "seed": 7,
        "frequency_penalty": 0.5,
        "presence_penalty": -0.5,
        "max_tokens": 300,
        "reasoning_effort": "high",
    }
    assert "user" not in sent and json.loads(gw.logs[-1])["user"] == "u-1"


def test_a_tool_round_trip(make_client: MakeClient) -> None:
    client, _ = make_client()
    messages: list[Any] = [{"role": "user", "content": "What is the get_weather in Paris?"}]
    first = run(client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER]))
    call = first.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Paris"}
    messages += [
        first.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24C"},
    ]
    second = run(client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER]))
    assert "sunny, 24C" in (second.choices[0].message.content or "")
    assert second.choices[0].finish_reason == "stop"


def test_json_schema_output(make_client: MakeClient) -> None:
    client, gw = make_client()
    schema: Any = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "year": {"type": "integer"}},
        "required": ["name", "year"],
    }
    reply = run(
        client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Who wrote about Ada?"}],
            response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}},
        )
    )
    assert set(json.loads(reply.choices[0].message.content or "")) == {"name", "year"}
    # Workers AI's JSON Mode takes the schema itself, not OpenAI's {name, schema, strict}.
    assert gw.backend.calls[-1][1]["response_format"] == {"type": "json_schema", "json_schema": schema}


def test_streaming_with_include_usage(make_client: MakeClient) -> None:
    client, _ = make_client()

    async def collect() -> list[Any]:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Stream it"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        return [chunk async for chunk in stream]

    chunks = run(collect())
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(chunk.id == chunks[0].id for chunk in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "Stream it" in text
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    assert all(c.usage is None for c in chunks[:-1])


def test_the_stream_helper_accumulates_a_tool_call(make_client: MakeClient) -> None:
    client, _ = make_client()

    async def final() -> Any:
        async with client.chat.completions.stream(
            model=MODEL, messages=[{"role": "user", "content": "get_weather for Oslo"}], tools=[WEATHER]
        ) as stream:
            async for _ in stream:
                pass
            return await stream.get_final_completion()

    completion = run(final())
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather" and json.loads(call.function.arguments) == {"city": "Oslo"}


def chunks_of(reply: Any) -> list[dict[str, Any]]:
    return [json.loads(data) for data in reply.events() if data != "[DONE]"]


def test_stream_grammar_role_first_then_deltas_finish_usage_done(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0))
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "x"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth))
    chunks = chunks_of(reply)
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert all("reasoning_content" in d for d in deltas[1:4])
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][-1] == "stop"
    assert deltas[-1] == {}
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert reply.events()[-1] == "[DONE]"


def test_a_leaked_tool_call_in_content_is_recovered(make_gateway: MakeGateway) -> None:
    leaked = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "tool_calls": [],
                    "content": '{"name": "get_weather", "arguments": {"city": "Rome"}}',
                },
            }
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 9},
    }
    gw = make_gateway(FixedBackend(leaked))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "weather?"}], "tools": [WEATHER]}
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth)).json()
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    assert choice["message"]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Rome"}'}
    without_tools = run(
        request(
            gw.app,
            "POST",
            "/v1/chat/completions",
            headers=gw.auth,
            body={"model": MODEL, "messages": [{"role": "user", "content": "x"}]},
        )
    ).json()
    assert without_tools["choices"][0]["message"]["content"].startswith('{"name"')  # only recovered when offered


def test_a_leaked_tool_call_is_recovered_in_a_stream_too(make_gateway: MakeGateway) -> None:
    events: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": piece}}]}
        for piece in ['{"name": "get_', 'weather", "arguments"', ': {"city": "Rome"}}']
    ]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"completion_tokens": 9}})
    gw = make_gateway(FixedBackend(sse(*events)))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "weather?"}], "tools": [WEATHER], "stream": True}
    chunks = chunks_of(run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth)))
    calls = [d["tool_calls"][0] for c in chunks for d in [c["choices"][0]["delta"]] if "tool_calls" in d]
    assert calls[0]["function"]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    assert all("content" not in c["choices"][0]["delta"] or c["choices"][0]["delta"]["content"] == "" for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_stop_sequences_are_cut_by_the_gateway_even_across_chunks(make_gateway: MakeGateway) -> None:
    events: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": piece}}]} for piece in ["one two ", "EN", "D three"]
    ]
    events.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    gw = make_gateway(FixedBackend(sse(*events)))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "count"}], "stop": ["END"], "stream": True}
    chunks = chunks_of(run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth)))
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == "one two "
    whole = make_gateway(Emulator(token_delay_ms=0))
    reply = run(
        request(
            whole.app,
            "POST",
            "/v1/chat/completions",
            headers=whole.auth,
            body={"model": MODEL, "messages": [{"role": "user", "content": "abc"}], "stop": "emulator"},
        )
    )
    assert reply.json()["choices"][0]["message"]["content"] == "This is the gateway's offline "


def test_max_tokens_reached_is_finish_reason_length(make_client: MakeClient) -> None:
    client, _ = make_client()
    reply = run(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "x"}], max_tokens=5))
    assert reply.choices[0].finish_reason == "length"


def test_a_failure_mid_stream_raises_in_the_sdk(make_client: MakeClient) -> None:
    client, _ = make_client(Emulator(token_delay_ms=0, faults=Faults(midstream=4)))

    async def consume() -> None:
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "x"}], stream=True
        )
        async for _ in stream:
            pass

    with pytest.raises(openai.APIError, match="stream failed"):
        run(consume())


def test_a_json_answer_to_a_stream_request_still_streams_chunks(make_client: MakeClient) -> None:
    client, _ = make_client(Emulator(token_delay_ms=0, faults=Faults(json_to_stream=True)))

    async def collect() -> list[Any]:
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hey"}], stream=True
        )
        return [chunk async for chunk in stream]

    chunks = run(collect())
    assert "hey" in "".join(c.choices[0].delta.content or "" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize(
    "calls",
    [
        [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}],
        [{"name": "get_weather", "arguments": {"city": "Oslo"}}],  # the flat shape the prompt form has used
    ],
)
def test_tool_call_arguments_always_reach_the_client_as_a_json_string(
    make_gateway: MakeGateway, calls: list[dict[str, Any]]
) -> None:
    answer = {
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "tool_calls": calls}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
    }
    gw = make_gateway(FixedBackend(answer))
    body = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "tools": [WEATHER]}
    chat = run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth)).json()
    call = chat["choices"][0]["message"]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'} and call["id"]
    tools = [{"type": "function", "name": "get_weather", "parameters": WEATHER["function"]["parameters"]}]
    resp = run(
        request(gw.app, "POST", "/v1/responses", headers=gw.auth, body={"model": MODEL, "input": "x", "tools": tools})
    ).json()
    item = next(i for i in resp["output"] if i["type"] == "function_call")
    assert item["arguments"] == '{"city": "Oslo"}' and item["name"] == "get_weather"


def test_a_custom_tool_is_left_out_and_named_and_forcing_it_is_refused(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    function: dict[str, Any] = {
        "type": "function",
        "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
    }
    custom = {"type": "custom", "custom": {"name": "patch", "description": "free-form"}}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "tools": [function, custom]}
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth))
    assert reply.status == 200 and reply.headers["x-gateway-ignored"] == "tools.custom"
    # The function tool goes as the model's input schema wants it (an empty description added).
    assert gw.backend.calls[-1][1]["tools"] == [{**function, "function": {**function["function"], "description": ""}}]
    forced = {**body, "tool_choice": {"type": "custom", "custom": {"name": "patch"}}}
    refused = run(request(gw.app, "POST", "/v1/chat/completions", body=forced, headers=gw.auth))
    assert refused.status == 400 and refused.json()["error"]["param"].startswith("tool_choice")
