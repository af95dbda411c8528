"""Prefix-cache affinity (`x-session-affinity`) and cached tokens, in both dialects' usage and the log."""

from __future__ import annotations

import json
from typing import Any

from gateway.local.emulator import Emulator
from gateway.local.keygen import key_entry
from tests.client import Reply, request, run
from tests.conftest import KEY, MakeGateway
from tests.openai.conftest import MakeClient

MODEL = "gpt-oss-120b"
LONG = "Here is a long system prompt that the agent sends on every turn. " * 20


def _chat(gw: Any, body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    full = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], **body}
    reply: Reply = run(
        request(gw.app, "POST", "/v1/chat/completions", body=full, headers={**gw.auth, **(headers or {})})
    )
    return reply


def _affinity(gw: Any) -> str | None:
    headers = gw.backend.calls[-1][2].get("extraHeaders") or {}
    value: str | None = headers.get("x-session-affinity")
    return value


def test_prompt_cache_key_routes_by_a_per_key_hash_of_it(make_gateway: MakeGateway) -> None:
    other_key = "gw-another-key-9876543210"
    keys = json.dumps([key_entry("tester", KEY), key_entry("other", other_key)])
    gw = make_gateway(keys=keys)
    reply = _chat(gw, {"prompt_cache_key": "conversation-7"})
    assert reply.status == 200 and "x-gateway-ignored" not in reply.headers
    first = _affinity(gw)
    assert first is not None and first.startswith("ses_") and "conversation-7" not in first
    _chat(gw, {"prompt_cache_key": "conversation-7"})
    assert _affinity(gw) == first, "the same session reaches the same instance"
    _chat(gw, {"prompt_cache_key": "conversation-8"})
    assert _affinity(gw) != first
    _chat(gw, {"prompt_cache_key": "conversation-7"}, {"authorization": f"Bearer {other_key}"})
    assert _affinity(gw) not in (first, None), "another key never shares a session by naming it"


def test_a_clients_own_affinity_header_counts_and_no_session_sends_none(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    _chat(gw, {}, {"x-session-affinity": "ses_mine"})
    by_header = _affinity(gw)
    assert by_header is not None and by_header != "ses_mine"
    _chat(gw, {"prompt_cache_key": "ses_mine"})
    assert _affinity(gw) == by_header, "either way of naming a session names the same one"
    _chat(gw, {})
    assert gw.backend.calls[-1][2] == {}
    run(
        request(
            gw.app,
            "POST",
            "/v1/completions",
            body={"model": MODEL, "prompt": "x"},
            headers={**gw.auth, "x-session-affinity": "s"},
        )
    )
    assert _affinity(gw) is not None


def test_cached_tokens_are_reported_in_chat_usage_the_log_and_the_cost(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    messages = [{"role": "system", "content": LONG}, {"role": "user", "content": "first"}]
    cold = _chat(gw, {"messages": messages, "prompt_cache_key": "s1"}).json()["usage"]
    assert cold["prompt_tokens_details"] == {"cached_tokens": 0}
    warm = _chat(gw, {"messages": [*messages[:1], {"role": "user", "content": "second"}], "prompt_cache_key": "s1"})
    usage = warm.json()["usage"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    assert 0 < cached < usage["prompt_tokens"] and cached % 16 == 0
    line = json.loads(gw.logs[-1])
    assert line["cached_tokens"] == cached
    # gpt-oss publishes no cached rate: cached tokens are priced as input.
    expected = (usage["prompt_tokens"] * 0.35 + usage["completion_tokens"] * 0.75) / 1_000_000
    assert line["cost_usd"] == round(expected, 8)


def test_streamed_chat_and_completions_report_cached_tokens(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0))
    body = {
        "messages": [{"role": "user", "content": LONG}],
        "prompt_cache_key": "s2",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    _chat(gw, body)
    events = _chat(gw, body).events()
    usage = json.loads(events[-2])["usage"]
    assert usage["prompt_tokens_details"]["cached_tokens"] > 0
    completion = {"model": MODEL, "prompt": LONG}
    headers = {**gw.auth, "x-session-affinity": "s3"}
    run(request(gw.app, "POST", "/v1/completions", body=completion, headers=headers))
    reply = run(request(gw.app, "POST", "/v1/completions", body=completion, headers=headers))
    assert reply.json()["usage"]["prompt_tokens_details"]["cached_tokens"] > 0


def test_the_sdk_reads_cached_tokens(make_client: MakeClient) -> None:
    client, _ = make_client()
    messages: Any = [{"role": "user", "content": LONG}]
    run(client.chat.completions.create(model=MODEL, messages=messages, prompt_cache_key="s4"))
    reply = run(client.chat.completions.create(model=MODEL, messages=messages, prompt_cache_key="s4"))
    assert reply.usage.prompt_tokens_details.cached_tokens > 0
