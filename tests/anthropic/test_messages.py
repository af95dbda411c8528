"""Messages through the official anthropic SDK, and what reaches Workers AI under it."""

from __future__ import annotations

import json
from typing import Any

import pytest

import anthropic
from gateway._catalog import CONTEXT_WINDOW
from tests.anthropic.conftest import WEATHER, MakeAnthropic
from tests.client import request, run
from tests.conftest import MakeGateway, tiers
from tests.doubles import FixedBackend

MODEL = "gpt-oss-120b"
SERVED = "@cf/openai/gpt-oss-120b"
HELLO: Any = [{"role": "user", "content": "Hello there"}]


def chat_answer(content: str, *, reasoning: str = "", finish: str = "stop", usage: dict[str, Any] | None = None) -> Any:
    """Workers AI's messages-form answer."""
    message = {"role": "assistant", "content": content, "reasoning_content": reasoning, "tool_calls": []}
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage or {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29},
    }


def sent(gw: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = gw.backend.calls[-1][1]
    return inputs


def test_a_plain_message(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    reply = run(client.messages.create(model=MODEL, max_tokens=1024, messages=HELLO))
    assert (reply.type, reply.role, reply.model, reply.stop_reason) == ("message", "assistant", MODEL, "end_turn")
    assert [block.type for block in reply.content] == ["text"]  # no thinking was asked for
    assert "Hello there" in reply.content[0].text  # type: ignore[union-attr]
    assert reply.id.startswith("msg_") and reply._request_id == json.loads(gw.logs[-1])["request_id"]
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    assert sent(gw)["messages"] == [{"role": "user", "content": "Hello there"}]
    assert sent(gw)["max_tokens"] == 1024 and "reasoning_effort" not in sent(gw)  # Workers AI's default


@pytest.mark.parametrize(
    ("thinking", "output_config", "effort", "blocks"),
    [
        ({"type": "enabled", "budget_tokens": 2000}, None, "low", ["thinking", "text"]),
        ({"type": "enabled", "budget_tokens": 10000}, None, "medium", ["thinking", "text"]),
        ({"type": "enabled", "budget_tokens": 31999}, None, "high", ["thinking", "text"]),
        ({"type": "disabled"}, None, "low", ["text"]),
        ({"type": "adaptive"}, None, None, ["thinking", "text"]),
        ({"type": "adaptive", "display": "omitted"}, {"effort": "high"}, "high", ["thinking", "text"]),
        (None, {"effort": "max"}, "high", ["text"]),
        (None, {"effort": "low"}, "low", ["text"]),
    ],
)
def test_thinking_and_effort_choose_the_reasoning_effort_and_the_blocks(
    make_anthropic: MakeAnthropic, thinking: Any, output_config: Any, effort: str | None, blocks: list[str]
) -> None:
    client, gw = make_anthropic()
    extra: dict[str, Any] = {"output_config": output_config} if output_config else {}
    if thinking:
        extra["thinking"] = thinking
    reply = run(client.messages.create(model=MODEL, max_tokens=20000, messages=HELLO, **extra))
    assert sent(gw).get("reasoning_effort") == effort
    assert [block.type for block in reply.content] == blocks
    if "thinking" in blocks:
        block = reply.content[0]
        assert block.type == "thinking" and block.signature
        omitted = (thinking or {}).get("display") == "omitted"
        assert (block.thinking == "") is omitted
        assert omitted or "Reasoning effort is" in block.thinking  # the model's reasoning, whole


def test_system_text_blocks_and_a_mid_conversation_system_turn_keep_their_places(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    run(
        client.messages.create(
            model=MODEL,
            max_tokens=100,
            system=[
                {"type": "text", "text": "You are terse."},
                {"type": "text", "text": "Answer in French.", "cache_control": {"type": "ephemeral"}},
            ],
            messages=[
                {"role": "user", "content": [{"type": "text", "text": "<reminder/>"}, {"type": "text", "text": "hi"}]},
                {"role": "system", "content": [{"type": "text", "text": "# Environment"}]},  # type: ignore[list-item]
                {"role": "assistant", "content": [{"type": "text", "text": "Salut."}]},
                {"role": "user", "content": "again"},
            ],
        )
    )
    assert sent(gw)["messages"] == [
        {"role": "system", "content": "You are terse.\nAnswer in French."},
        {"role": "user", "content": "<reminder/>\nhi"},
        {"role": "system", "content": "# Environment"},
        {"role": "assistant", "content": "Salut."},
        {"role": "user", "content": "again"},
    ]


def test_a_tool_loop(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    messages: list[Any] = [{"role": "user", "content": "What is the get_weather in Paris?"}]
    first = run(client.messages.create(model=MODEL, max_tokens=1024, messages=messages, tools=[WEATHER]))
    (call,) = first.content
    assert first.stop_reason == "tool_use"
    assert call.type == "tool_use" and call.name == "get_weather" and call.input == {"city": "Paris"}
    messages += [
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 24C"}]},
    ]
    second = run(client.messages.create(model=MODEL, max_tokens=1024, messages=messages, tools=[WEATHER]))
    assert second.stop_reason == "end_turn" and "sunny, 24C" in second.content[0].text  # type: ignore[union-attr]
    assert sent(gw)["messages"][1:] == [
        {
            "role": "assistant",
            "content": "",  # never null: the model page's schema requires a string
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 24C"},
    ]
    assert sent(gw)["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": WEATHER["input_schema"],
                "description": "Weather in a city",
            },
        }
    ]


def test_tool_results_come_first_as_blocks_with_errors_marked(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    assistant: Any = [
        {"type": "thinking", "thinking": "I should look", "signature": "sig"},
        {"type": "text", "text": "Looking."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
    ]
    user: Any = [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "rain"}]},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "no such city", "is_error": True},
        {"type": "text", "text": "<system-reminder>be brief</system-reminder>"},
    ]
    run(
        client.messages.create(
            model=MODEL,
            max_tokens=100,
            tools=[WEATHER],
            messages=[
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": assistant},
                {"role": "user", "content": user},
            ],
        )
    )
    assert sent(gw)["messages"][1:] == [
        {
            "role": "assistant",
            "content": "Looking.",  # the earlier thinking is not sent back
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "rain"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "Error: no such city"},
        {"role": "user", "content": "<system-reminder>be brief</system-reminder>"},
    ]


@pytest.mark.parametrize(
    ("tool_choice", "expected", "calls"),
    [
        ({"type": "auto"}, "auto", 0),
        ({"type": "any"}, "required", 1),
        ({"type": "tool", "name": "get_weather"}, {"type": "function", "function": {"name": "get_weather"}}, 1),
        ({"type": "none"}, "none", 0),
    ],
)
def test_tool_choice(make_anthropic: MakeAnthropic, tool_choice: Any, expected: Any, calls: int) -> None:
    client, gw = make_anthropic()
    reply = run(
        client.messages.create(model=MODEL, max_tokens=100, messages=HELLO, tools=[WEATHER], tool_choice=tool_choice)
    )
    assert sent(gw)["tool_choice"] == expected
    assert len([block for block in reply.content if block.type == "tool_use"]) == calls


def test_disable_parallel_tool_use_keeps_the_first_call(make_anthropic: MakeAnthropic) -> None:
    calls = [
        {"id": f"c{i}", "type": "function", "function": {"name": "get_weather", "arguments": json.dumps({"city": c})}}
        for i, c in enumerate(["Oslo", "Rome"])
    ]
    answer = chat_answer("", finish="tool_calls")
    answer["choices"][0]["message"]["tool_calls"] = calls
    client, _ = make_anthropic(FixedBackend(answer))
    choice: Any = {"type": "auto", "disable_parallel_tool_use": True}
    reply = run(client.messages.create(model=MODEL, max_tokens=99, messages=HELLO, tools=[WEATHER], tool_choice=choice))
    assert [(b.type, b.input) for b in reply.content] == [("tool_use", {"city": "Oslo"})]  # type: ignore[union-attr]
    both = run(client.messages.create(model=MODEL, max_tokens=99, messages=HELLO, tools=[WEATHER]))
    assert [b.id for b in both.content] == ["c0", "c1"]  # type: ignore[union-attr]


def test_a_tool_call_leaked_as_json_text_becomes_a_tool_use_block(make_anthropic: MakeAnthropic) -> None:
    leaked = chat_answer('{"name": "get_weather", "arguments": {"city": "Lima"}}')
    client, _ = make_anthropic(FixedBackend(leaked))
    reply = run(client.messages.create(model=MODEL, max_tokens=99, messages=HELLO, tools=[WEATHER]))
    assert reply.stop_reason == "tool_use"
    assert [(b.type, b.name, b.input) for b in reply.content] == [("tool_use", "get_weather", {"city": "Lima"})]  # type: ignore[union-attr]
    plain = run(client.messages.create(model=MODEL, max_tokens=99, messages=HELLO))  # no tools: it stays text
    assert plain.content[0].type == "text"


def test_stop_sequences_cut_the_text_and_say_which(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic(FixedBackend(chat_answer("one, two END three")))
    reply = run(client.messages.create(model=MODEL, max_tokens=99, messages=HELLO, stop_sequences=["STOP", "END"]))
    assert (reply.stop_reason, reply.stop_sequence, reply.content[0].text) == ("stop_sequence", "END", "one, two ")  # type: ignore[union-attr]
    assert "stop" not in sent(gw) and "stop_sequences" not in sent(gw)  # Workers AI's gpt-oss takes none


def test_the_output_limit_is_max_tokens(make_anthropic: MakeAnthropic) -> None:
    client, _ = make_anthropic()
    reply = run(client.messages.create(model=MODEL, max_tokens=5, messages=HELLO))
    assert reply.stop_reason == "max_tokens" and reply.usage.output_tokens == 5


def test_max_tokens_is_lowered_to_what_the_context_window_leaves(make_gateway: MakeGateway) -> None:
    gw = make_gateway()

    def cap(messages: Any) -> int:
        body = {"model": MODEL, "max_tokens": 128000, "messages": messages}  # Claude Code's default
        assert run(request(gw.app, "POST", "/v1/messages", body=body, headers=gw.auth)).status == 200
        return int(sent(gw)["max_tokens"])

    assert CONTEXT_WINDOW - 100 < cap(HELLO) < CONTEXT_WINDOW
    assert cap([{"role": "user", "content": "word " * 400_000}]) == 1024  # 2 MB: over the window by the estimate


def test_max_tokens_is_lowered_to_what_the_keys_token_budget_can_ever_admit(make_gateway: MakeGateway) -> None:
    # The shipped default tier; Claude Code's default model asks for 128,000 output tokens.
    gw = make_gateway(TIERS=tiers(tokens_per_minute=100_000, tokens_per_day=2_000_000))
    body = {"model": "claude-opus-5-5", "max_tokens": 128_000, "messages": HELLO, "stream": True}
    reply = run(request(gw.app, "POST", "/v1/messages", body=body, headers=gw.auth))
    assert reply.status == 200, reply.body  # not a 400 "more than this key's budget allows at all"
    assert 99_000 < json.loads(gw.logs[-1])["tokens_reserved"] <= 100_000
    assert 99_000 < sent(gw)["max_tokens"] < 100_000
    small = {**body, "max_tokens": 4000}
    assert run(request(gw.app, "POST", "/v1/messages", body=small, headers=gw.auth)).status == 200
    assert sent(gw)["max_tokens"] == 4000  # what fits is sent as asked


@pytest.mark.parametrize(
    ("fallback", "lowered_to"),
    [("on", (20_000, 27_000)), ("off", (60_000, 67_000))],  # priced as the 120b, or as the 20b
)
def test_max_tokens_is_lowered_to_what_the_keys_dollar_budget_can_ever_admit(
    make_gateway: MakeGateway, fallback: str, lowered_to: tuple[int, int]
) -> None:
    # $0.02 a day pays for about 26,000 output tokens of the 120b, 66,000 of the 20b: Claude Code's
    # 128,000 is lowered, at the price of the dearer of the model asked for and the fallback that
    # may answer for it.
    models = {"MODELS": "@cf/openai/gpt-oss-20b,@cf/openai/gpt-oss-120b", "FALLBACK_MODEL": "@cf/openai/gpt-oss-120b"}
    gw = make_gateway(TIERS=json.dumps({"default": {"usd_per_day": 0.02}}), **models)
    body = {"model": "gpt-oss-20b", "max_tokens": 128_000, "messages": HELLO}
    headers = {**gw.auth, "x-gateway-fallback": fallback}
    reply = run(request(gw.app, "POST", "/v1/messages", body=body, headers=headers))
    assert reply.status == 200, reply.body  # not a 400 "more than this key's budget allows at all"
    assert 0.0199 < json.loads(gw.logs[-1])["usd_reserved"] <= 0.02
    low, high = lowered_to
    assert low < sent(gw)["max_tokens"] < high


def test_cached_tokens_are_reported_as_cache_reads(make_anthropic: MakeAnthropic) -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 7, "prompt_tokens_details": {"cached_tokens": 64}}
    client, _ = make_anthropic(FixedBackend(chat_answer("ok", usage=usage)))
    reply = run(client.messages.create(model=MODEL, max_tokens=99, messages=HELLO))
    assert (reply.usage.input_tokens, reply.usage.cache_read_input_tokens, reply.usage.cache_creation_input_tokens) == (
        36,
        64,
        0,
    )
    uncached, _ = make_anthropic(FixedBackend(chat_answer("ok")))
    plain = run(uncached.messages.create(model=MODEL, max_tokens=99, messages=HELLO))
    assert plain.usage.input_tokens == 20 and plain.usage.cache_read_input_tokens is None


@pytest.mark.parametrize(
    ("name", "variables", "served", "answered_as"),
    [
        ("gpt-oss-120b", {}, SERVED, "gpt-oss-120b"),
        ("@cf/openai/gpt-oss-120b", {}, SERVED, "@cf/openai/gpt-oss-120b"),
        ("claude-sonnet-5-5", {}, SERVED, SERVED),  # Claude Code's --model sonnet
        ("claude-opus-5-5", {}, SERVED, SERVED),  # its default model
        (
            "claude-haiku-4-5",
            {
                "MODELS": f"{SERVED},@cf/openai/gpt-oss-20b",
                "ANTHROPIC_MODEL_MAP": '{"claude-haiku-*": "gpt-oss-20b", "claude-*": "gpt-oss-120b"}',
            },
            "@cf/openai/gpt-oss-20b",
            "@cf/openai/gpt-oss-20b",
        ),
        ("my-agent", {"ANTHROPIC_MODEL_MAP": '{"my-agent": "openai/gpt-oss-120b"}'}, SERVED, SERVED),
    ],
)
def test_model_names_and_the_model_that_answered(
    make_anthropic: MakeAnthropic, name: str, variables: dict[str, str], served: str, answered_as: str
) -> None:
    client, gw = make_anthropic(**variables)
    reply = run(client.messages.create(model=name, max_tokens=99, messages=HELLO))
    assert gw.backend.calls[-1][0] == served
    assert reply.model == answered_as  # a claude-* name never claims Claude answered
    assert json.loads(gw.logs[-1])["model"] == served


def test_claude_names_can_be_turned_off(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic(ANTHROPIC_MODEL_MAP="{}")
    with pytest.raises(anthropic.NotFoundError, match="claude-opus-5-5"):
        run(client.messages.create(model="claude-opus-5-5", max_tokens=99, messages=HELLO))
    assert gw.backend.calls == []


@pytest.mark.parametrize(
    "raw",
    ['{"claude-*": "gpt-5"}', "[1]", "{not json", '{"claude-*": 3}'],
)
def test_a_bad_model_map_fails_closed_naming_it(make_gateway: MakeGateway, raw: str) -> None:
    gw = make_gateway(ANTHROPIC_MODEL_MAP=raw)
    body = {"model": MODEL, "max_tokens": 9, "messages": HELLO}
    reply = run(request(gw.app, "POST", "/v1/messages", body=body, headers=gw.auth))
    assert reply.status == 503 and "ANTHROPIC_MODEL_MAP" in reply.json()["error"]["message"]


def test_metadata_user_id_goes_on_the_log_line_not_upstream(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    user = '{"device_id":"abc","session_id":"s-1"}'  # what Claude Code sends
    run(client.messages.create(model=MODEL, max_tokens=99, messages=HELLO, metadata={"user_id": user}))
    assert json.loads(gw.logs[-1])["user"] == user
    assert "metadata" not in sent(gw) and user not in json.dumps(sent(gw))


def test_structured_output_asks_workers_ai_for_json_mode(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    schema: Any = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    reply = run(
        client.messages.create(
            model=MODEL,
            max_tokens=99,
            messages=[{"role": "user", "content": "Describe Ada"}],
            output_config={"format": {"type": "json_schema", "schema": schema}},
        )
    )
    assert sent(gw)["response_format"] == {"type": "json_schema", "json_schema": schema}
    assert json.loads(reply.content[0].text) == {"name": "Ada"}  # type: ignore[union-attr]


def test_images_are_left_out_with_a_note_and_named(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    result = {"type": "tool_result", "tool_use_id": "t1", "content": [image, {"type": "text", "text": "a chart"}]}
    body = {
        "model": MODEL,
        "max_tokens": 99,
        "messages": [
            {"role": "user", "content": [image, {"type": "text", "text": "what is this?"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read", "input": {}}]},
            {"role": "user", "content": [result]},
        ],
    }
    reply = run(request(gw.app, "POST", "/v1/messages", body=body, headers=gw.auth))
    assert reply.status == 200
    assert reply.headers["x-gateway-ignored"] == "messages[0].content[0], messages[2].content[0].content[0]"
    messages = sent(gw)["messages"]
    assert messages[0]["content"] == "[An image left out: gpt-oss reads text only]\nwhat is this?"
    assert messages[2]["content"] == "[An image left out: gpt-oss reads text only]\na chart"


def test_text_documents_are_read(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    document: Any = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "Page one."}}
    run(client.messages.create(model=MODEL, max_tokens=9, messages=[{"role": "user", "content": [document]}]))
    assert sent(gw)["messages"] == [{"role": "user", "content": "Page one."}]


def test_deferred_tools_are_offered_once_tool_search_loads_them(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    fetch: Any = {"name": "WebFetch", "input_schema": {"type": "object"}, "defer_loading": True}
    run(client.messages.create(model=MODEL, max_tokens=9, messages=HELLO, tools=[WEATHER, fetch]))
    assert [tool["function"]["name"] for tool in sent(gw)["tools"]] == ["get_weather"]
    loaded: Any = [
        {"role": "user", "content": "fetch it"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "ToolSearch", "input": {"query": "select:WebFetch"}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [{"type": "tool_reference", "tool_name": "WebFetch"}],
                }
            ],
        },
    ]
    run(client.messages.create(model=MODEL, max_tokens=9, messages=loaded, tools=[WEATHER, fetch]))
    assert [tool["function"]["name"] for tool in sent(gw)["tools"]] == ["get_weather", "WebFetch"]
    assert sent(gw)["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "t1",
        "content": "Tool WebFetch is now available.",
    }


def test_count_tokens_is_an_estimate_from_the_size_of_what_would_be_sent(make_anthropic: MakeAnthropic) -> None:
    client, gw = make_anthropic()
    small = run(client.messages.count_tokens(model=MODEL, messages=HELLO))
    sent_json = json.dumps(
        {"messages": [{"role": "user", "content": "Hello there"}], "tools": []}, separators=(",", ":")
    )
    assert small.input_tokens == -(-len(sent_json) // 4)
    bigger = run(client.messages.count_tokens(model=MODEL, messages=HELLO, tools=[WEATHER], system="Be brief."))
    assert bigger.input_tokens > small.input_tokens
    assert gw.backend.calls == []  # no model call, nothing charged
    assert json.loads(gw.logs[-1])["model"] == SERVED


def test_sampling_fields_reach_workers_ai(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    body = {"model": MODEL, "max_tokens": 99, "messages": HELLO, "temperature": 0.3, "top_p": 0.9, "top_k": 40}
    assert run(request(gw.app, "POST", "/v1/messages", body=body, headers=gw.auth)).status == 200
    assert {name: sent(gw)[name] for name in ("temperature", "top_p", "top_k")} == {
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
    }


def test_prompts_are_logged_only_when_turned_on(make_gateway: MakeGateway) -> None:
    body = {"model": MODEL, "max_tokens": 99, "messages": [{"role": "user", "content": "secret plans"}]}
    quiet = make_gateway()
    run(request(quiet.app, "POST", "/v1/messages", body=body, headers=quiet.auth))
    assert "secret plans" not in quiet.logs[-1]
    loud = make_gateway(LOG_PROMPTS="true")
    run(request(loud.app, "POST", "/v1/messages", body=body, headers=loud.auth))
    line = json.loads(loud.logs[-1])
    assert line["request_body"] == body
    assert "secret plans" in line["result"]["content"][0]["text"] and line["result"]["type"] == "message"


def test_the_beta_query_claude_code_adds_reaches_the_same_routes(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    body = {"model": MODEL, "max_tokens": 99, "messages": HELLO}
    counted = run(request(gw.app, "POST", "/v1/messages/count_tokens", body=body, headers=gw.auth, query="beta=true"))
    assert counted.status == 200 and counted.json()["input_tokens"] > 0
    answered = run(request(gw.app, "POST", "/v1/messages", body=body, headers=gw.auth, query="beta=true"))
    assert answered.status == 200 and answered.json()["type"] == "message"


def test_claude_codes_session_keeps_its_calls_on_one_prefix_cache(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    system = "You are Claude Code, with a long system prompt. " * 20
    body = {"model": MODEL, "max_tokens": 99, "system": system, "messages": HELLO}

    def post(headers: dict[str, str], **extra: Any) -> Any:
        reply = run(request(gw.app, "POST", "/v1/messages", body={**body, **extra}, headers={**gw.auth, **headers}))
        assert reply.status == 200, reply.body
        return reply.json()

    session = {"x-claude-code-session-id": "cf87952c-0000"}
    cold = post(session)
    sent_as = gw.backend.calls[-1][2]["extraHeaders"]["x-session-affinity"]
    assert sent_as.startswith("ses_") and "cf87952c" not in sent_as  # a hash, not the client's text
    warm = post(session, messages=[{"role": "user", "content": "And again"}])
    assert gw.backend.calls[-1][2]["extraHeaders"]["x-session-affinity"] == sent_as
    assert "cache_read_input_tokens" not in cold["usage"]
    assert warm["usage"]["cache_read_input_tokens"] > 0 and warm["usage"]["cache_creation_input_tokens"] == 0
    post({}, metadata={"user_id": "user-7"})  # the Anthropic SDK's own way to name a user
    assert gw.backend.calls[-1][2]["extraHeaders"]["x-session-affinity"] not in (sent_as, None)
    post({"x-session-affinity": "mine", **session})  # the client's own header comes first
    assert gw.backend.calls[-1][2]["extraHeaders"]["x-session-affinity"] != sent_as
    post({})
    assert gw.backend.calls[-1][2] == {}  # no session named: no affinity
