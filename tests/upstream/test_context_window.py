"""The context window: a request that cannot fit gets a 400 before any model call, and the input
bound behind it is certain (never above the real token count), so nothing that fits is refused."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from gateway._catalog import CONTEXT_WINDOW, LONGEST_TOKEN_BYTES
from gateway._upstream.context_window import input_tokens_at_least
from tests.client import request, run
from tests.conftest import NATIVE, MakeGateway
from tests.doubles import FixedBackend

REPO = Path(__file__).resolve().parents[2]
CHAT_ANSWER = {
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1},
}


def _tokenizer(texts: list[str]) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is needed (npm ci installs js-tiktoken, the tokenizer's vocabulary)"
    done = subprocess.run(
        [node, str(Path(__file__).with_name("o200k.mjs"))],
        input=json.dumps(texts).encode(),
        capture_output=True,
        cwd=REPO,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _texts() -> list[str]:
    rng = random.Random(10)
    alphabets = [" ", "a", "Z", "0", "9", "-", "=", "\n", "\t", "é", "日本", "🙂", "'s", "http://", "________"]
    # Long runs of one character are where tokens are longest (a token is up to 128 spaces).
    texts = [" " * 300, "-" * 300, "=" * 299, "0" * 300, "日本語" * 100, "\n" * 300, "a" * 300]
    for _ in range(60):
        texts.append("".join(rng.choice(alphabets) * rng.randint(1, 40) for _ in range(rng.randint(1, 30))))
    return texts


def test_the_bound_is_never_above_the_real_token_count_of_gpt_oss_tokenizer() -> None:
    texts = _texts()
    facts = _tokenizer(texts)
    assert facts["longest_token_bytes"] == LONGEST_TOKEN_BYTES
    for text, real in zip(texts, facts["counts"], strict=True):
        assert input_tokens_at_least({"prompt": text}) <= real, text[:40]


def test_the_bound_counts_what_the_template_shows_verbatim_and_only_that() -> None:
    text = "x" * 1280  # 10 tokens at least
    assert input_tokens_at_least({"prompt": text, "tools": [{"description": text}]}) == 10  # prompt form: no tools
    messages = [
        {"role": "user", "content": [{"type": "text", "text": text}]},
        {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f", "arguments": text}}]},
        {"role": "tool", "tool_call_id": "c", "content": text},
    ]
    tools = [{"type": "function", "function": {"name": "f", "description": text, "parameters": {}}}]
    assert input_tokens_at_least({"messages": messages, "tools": tools}) == 40
    items = [{"type": "function_call_output", "call_id": "c", "output": text}, {"role": "user", "content": text}]
    assert input_tokens_at_least({"input": items, "instructions": text}) == 30
    assert input_tokens_at_least({"input": text}) == 10
    # What the model may never see is not counted: earlier reasoning, tools it may not call.
    reasoning = {"type": "reasoning", "content": [{"type": "reasoning_text", "text": text}]}
    assert input_tokens_at_least({"input": [reasoning, {"role": "user", "content": "hi"}]}) == 1
    assert input_tokens_at_least({"messages": messages[:1], "tools": tools, "tool_choice": "none"}) == 10


def test_a_native_body_that_cannot_fit_is_refused_before_any_model_call(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi", "max_tokens": CONTEXT_WINDOW}, headers=gw.auth))
    assert reply.status == 400
    (error,) = reply.json()["errors"]
    assert "maximum context length is 128000" in error["message"] and "at most 127999" in error["message"]
    assert error["source"]["pointer"] == "/max_tokens"
    assert gw.backend.calls == []


def test_the_boundary_is_exact_one_token_more_is_refused(make_gateway: MakeGateway) -> None:
    gw = make_gateway(FixedBackend({"response": "ok", "usage": {}}), MAX_BODY_BYTES="20000000")
    prompt = "x" * (LONGEST_TOKEN_BYTES * 100_000)  # at least 100,000 tokens
    fits = run(request(gw.app, "POST", NATIVE, body={"prompt": prompt, "max_tokens": 28_000}, headers=gw.auth))
    over = run(request(gw.app, "POST", NATIVE, body={"prompt": prompt, "max_tokens": 28_001}, headers=gw.auth))
    assert (fits.status, over.status) == (200, 400)
    assert len(gw.backend.calls) == 1


@pytest.mark.parametrize(
    ("route", "field"),
    [
        ("/v1/chat/completions", "max_tokens"),
        ("/v1/chat/completions", "max_completion_tokens"),
        ("/v1/responses", "max_output_tokens"),
        ("/v1/completions", "max_tokens"),
    ],
)
def test_an_openai_client_gets_context_length_exceeded_naming_its_field(
    make_gateway: MakeGateway, route: str, field: str
) -> None:
    gw = make_gateway()
    forms: dict[str, dict[str, Any]] = {
        "/v1/chat/completions": {"messages": [{"role": "user", "content": "hi"}]},
        "/v1/responses": {"input": "hi"},
        "/v1/completions": {"prompt": "hi"},
    }
    body = {"model": "gpt-oss-120b", **forms[route], field: CONTEXT_WINDOW}
    reply = run(request(gw.app, "POST", route, body=body, headers=gw.auth))
    assert reply.status == 400
    error = reply.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "context_length_exceeded", field)
    assert f"`{field}` asks for up to 128000" in error["message"]
    assert gw.backend.calls == []


def test_the_gateways_own_default_cap_shrinks_to_fit_instead_of_refusing(make_gateway: MakeGateway) -> None:
    gw = make_gateway(FixedBackend(CHAT_ANSWER), MAX_BODY_BYTES="20000000")
    text = "y" * (LONGEST_TOKEN_BYTES * 125_000)  # leaves room for 3,000 tokens, under the default 8,192
    body = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": text}]}
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth))
    assert reply.status == 200
    assert gw.backend.calls[-1][1]["max_tokens"] == 3_000


def test_each_batch_request_must_fit_on_its_own(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    body = {"requests": [{"input": "a"}, {"input": "b", "max_output_tokens": CONTEXT_WINDOW}]}
    reply = run(request(gw.app, "POST", NATIVE, body=body, headers=gw.auth))
    assert reply.status == 400
    assert reply.json()["errors"][0]["source"]["pointer"] == "/requests/1/max_output_tokens"


@pytest.mark.parametrize("route", ["/v1/chat/completions", "/v1/responses", "/v1/completions"])
def test_a_request_that_fits_is_never_refused(make_gateway: MakeGateway, route: str) -> None:
    gw = make_gateway()
    base: dict[str, Any] = {"model": "gpt-oss-120b"}
    if route.endswith("chat/completions"):
        body = {**base, "messages": [{"role": "user", "content": "hi"}], "max_tokens": CONTEXT_WINDOW - 1}
    elif route.endswith("responses"):
        body = {**base, "input": "hi", "max_output_tokens": CONTEXT_WINDOW - 1}
    else:
        body = {**base, "prompt": "hi", "max_tokens": CONTEXT_WINDOW - 1}
    assert run(request(gw.app, "POST", route, body=body, headers=gw.auth)).status == 200
