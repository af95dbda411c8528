"""Tool calls gpt-oss leaks as harmony markup in `content` reach OpenAI clients as tool calls,
streamed and whole, and the chat format's control tokens never reach a client's text."""

from __future__ import annotations

import json
from typing import Any

from tests.client import request, run
from tests.conftest import MakeGateway
from tests.doubles import FixedBackend, ScriptedStream, sse

LEAK = 'Checking.<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Oslo"}<|call|>'
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "c"}}},
        },
    }
]
CHAT = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "Weather in Oslo?"}], "tools": TOOLS}


def _whole(content: str) -> dict[str, Any]:
    message = {"role": "assistant", "content": content, "tool_calls": []}
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 9},
    }


def _streamed(content: str, size: int) -> ScriptedStream:
    pieces = [content[i : i + size] for i in range(0, len(content), size)]
    chunks: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]} for piece in pieces
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 5}})
    return ScriptedStream([sse(*chunks)])


def test_a_whole_chat_answer_gets_the_call_and_clean_text(make_gateway: MakeGateway) -> None:
    gw = make_gateway(FixedBackend(_whole(LEAK)))
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=CHAT, headers=gw.auth))
    choice = reply.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Checking."
    (call,) = choice["message"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Oslo"}'}


def test_a_streamed_chat_answer_gets_the_call_and_no_control_token(make_gateway: MakeGateway) -> None:
    for size in (1, 4, len(LEAK)):
        gw = make_gateway(FixedBackend(_streamed(LEAK, size)))
        reply = run(request(gw.app, "POST", "/v1/chat/completions", body={**CHAT, "stream": True}, headers=gw.auth))
        chunks = [json.loads(e) for e in reply.events() if e != "[DONE]"]
        deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
        text = "".join(d.get("content") or "" for d in deltas)
        assert text == "Checking." and "<|" not in reply.body.decode()
        calls = [call for d in deltas for call in d.get("tool_calls", [])]
        assert calls[0]["function"]["name"] == "get_weather"
        assert "".join(c["function"]["arguments"] for c in calls) == '{"city": "Oslo"}'
        assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_responses_get_a_function_call_item_streamed_and_whole(make_gateway: MakeGateway) -> None:
    body = {
        "model": "gpt-oss-120b",
        "input": "Weather in Oslo?",
        "tools": [{"type": "function", "name": "get_weather"}],
    }
    whole = make_gateway(FixedBackend(_whole(LEAK)))
    output = run(request(whole.app, "POST", "/v1/responses", body=body, headers=whole.auth)).json()["output"]
    assert [item["type"] for item in output] == ["message", "function_call"]
    assert output[0]["content"][0]["text"] == "Checking." and output[1]["arguments"] == '{"city": "Oslo"}'
    streamed = make_gateway(FixedBackend(_streamed(LEAK, 3)))
    reply = run(request(streamed.app, "POST", "/v1/responses", body={**body, "stream": True}, headers=streamed.auth))
    assert "<|" not in reply.body.decode()
    done = json.loads(reply.events()[-1])["response"]["output"]
    assert [item["type"] for item in done] == ["message", "function_call"]


def test_markup_without_tools_is_stripped_from_chat_and_completions(make_gateway: MakeGateway) -> None:
    leaked = "<|channel|>final<|message|>Hello there<|end|>"
    gw = make_gateway(FixedBackend(_whole(leaked)))
    chat = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=chat, headers=gw.auth))
    assert reply.json()["choices"][0]["message"]["content"] == "Hello there"
    prompt = make_gateway(FixedBackend({"response": leaked, "usage": {}}))
    body = {"model": "gpt-oss-120b", "prompt": "hi"}
    assert (
        run(request(prompt.app, "POST", "/v1/completions", body=body, headers=prompt.auth)).json()["choices"][0]["text"]
        == "Hello there"
    )
