"""The fallback model: only on "out of capacity" that outlasts the retries, only before the first
byte, never where the key or the request forbids it, and always said truthfully."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from gateway._asgi.http import CLIENT_GONE_KEY, Receive, Scope, Send
from gateway._catalog import NANO_USD
from gateway._errors import WorkersAIError
from gateway._limits.bindings import AnalyticsUsage
from gateway._limits.budget import max_nano_usd_for
from gateway._upstream.backend import UpstreamResult
from gateway.local.emulator import Emulator, Faults
from gateway.local.keygen import key_entry
from gateway.local.limits import local_guards
from tests.client import Reply, request, run
from tests.conftest import KEY, MakeGateway, tiers
from tests.limits.test_analytics import DatasetDouble

BIG, SMALL = "@cf/openai/gpt-oss-120b", "@cf/openai/gpt-oss-20b"
BOTH = {"MODELS": f"{BIG},{SMALL}", "FALLBACK_MODEL": SMALL, "RETRY_BASE_MS": "1"}
NATIVE = f"/ai/run/{BIG}"
PROMPT = {"prompt": "Fall back?", "max_tokens": 50}
CHAT = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}


class FullModel:
    """Workers AI with one model out of capacity for as long as the test runs; the emulator otherwise."""

    name = "full-model"

    def __init__(self, full: str = BIG, *, also: int = 0, faults: Faults | None = None) -> None:
        self.full, self.inner = full, Emulator(token_delay_ms=1, faults=faults or Faults())
        self.calls: list[str] = []
        self.options: list[dict[str, Any]] = []
        self.also = also  # the next calls to the other model fail too

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
        self.calls.append(model)
        self.options.append(options)
        if model == self.full or self.also > 0:
            self.also -= model != self.full
            raise WorkersAIError(3040, "Capacity temporarily exceeded, please try again.")
        return await self.inner.run(model, inputs, options)


def post(gw: Any, path: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    reply: Reply = run(request(gw.app, "POST", path, body=body, headers={**gw.auth, **(headers or {})}))
    return reply


def stored(gw: Any, response_id: str) -> dict[str, Any]:
    reply: Reply = run(request(gw.app, "GET", f"/v1/responses/{response_id}", headers=gw.auth))
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.json()
    return body


def test_lasting_capacity_errors_are_served_by_the_fallback_and_it_is_said_everywhere(
    make_gateway: MakeGateway,
) -> None:
    backend, dataset = FullModel(), DatasetDouble()
    gw = make_gateway(
        backend,
        guards=local_guards(usage=AnalyticsUsage(dataset)),
        **BOTH,
        TIERS=tiers(tokens_per_day=10**6, usd_per_day=5),
    )
    reply = post(gw, NATIVE, PROMPT)
    assert reply.status == 200
    assert backend.calls == [BIG, BIG, BIG, SMALL], "the first try, its two retries, then the fallback once"
    assert reply.headers["x-gateway-model"] == SMALL and reply.headers["x-gateway-fallback-from"] == BIG
    usage = reply.json()["result"]["usage"]
    small_price = (usage["prompt_tokens"] * 0.20 + usage["completion_tokens"] * 0.30) / 1_000_000
    line = json.loads(gw.logs[-1])
    assert (line["model"], line["fallback_from"]) == (SMALL, BIG)
    assert line["cost_usd"] == round(small_price, 8), "priced at the fallback's rates"
    assert line["usd_charged"] == round(small_price, 8)
    assert line["usd_reserved"] == max_nano_usd_for(PROMPT, (BIG,)) / NANO_USD, "reserved at the dearer model's"
    (point,) = dataset.points
    assert point["blobs"][1] == SMALL and point["doubles"][2] == round(small_price, 8)


def test_every_answer_names_its_model_even_without_a_fallback(make_gateway: MakeGateway) -> None:
    gw = make_gateway(**BOTH)
    reply = post(gw, NATIVE, PROMPT)
    assert reply.headers["x-gateway-model"] == BIG and "x-gateway-fallback-from" not in reply.headers
    assert "fallback_from" not in json.loads(gw.logs[-1])


@pytest.mark.parametrize(
    ("asked", "shown"), [("gpt-oss-120b", "gpt-oss-20b"), (BIG, SMALL), ("openai/gpt-oss-120b", "openai/gpt-oss-20b")]
)
def test_the_openai_model_field_names_the_fallback_in_the_clients_form(
    make_gateway: MakeGateway, asked: str, shown: str
) -> None:
    gw = make_gateway(FullModel(), **BOTH)
    assert post(gw, "/v1/chat/completions", {**CHAT, "model": asked}).json()["model"] == shown
    responses = post(gw, "/v1/responses", {"model": asked, "input": "hi"}).json()
    assert responses["model"] == shown
    assert stored(gw, responses["id"])["model"] == shown, "the stored response names the model that answered"
    assert post(gw, "/v1/completions", {"model": asked, "prompt": "hi"}).json()["model"] == shown


def test_streamed_answers_name_the_fallback_from_their_first_event(make_gateway: MakeGateway) -> None:
    gw = make_gateway(FullModel(), **BOTH)
    chat = post(gw, "/v1/chat/completions", {**CHAT, "stream": True})
    chunks = [json.loads(event) for event in chat.events() if event != "[DONE]"]
    assert chunks and {chunk["model"] for chunk in chunks} == {"gpt-oss-20b"}
    stream = post(gw, "/v1/responses", {"model": "gpt-oss-120b", "input": "hi", "stream": True})
    created = json.loads(stream.events()[0])
    assert created["type"] == "response.created" and created["response"]["model"] == "gpt-oss-20b"
    assert stored(gw, created["response"]["id"])["model"] == "gpt-oss-20b"


def test_capacity_that_returns_within_the_retries_needs_no_fallback(make_gateway: MakeGateway) -> None:
    backend = Emulator(token_delay_ms=0, faults=Faults(capacity=2))
    gw = make_gateway(backend, **BOTH)
    reply = post(gw, NATIVE, PROMPT)
    assert reply.headers["x-gateway-model"] == BIG
    assert [model for model, _, _ in backend.calls] == [BIG, BIG, BIG]


def test_a_failure_after_the_first_byte_is_never_retried_on_the_fallback(make_gateway: MakeGateway) -> None:
    backend = FullModel(full="none", faults=Faults(midstream=3))
    gw = make_gateway(backend, **BOTH)
    reply = post(gw, NATIVE, {"messages": [{"role": "user", "content": "hi"}], "stream": True})
    assert reply.status == 200 and reply.event_names()[-1] == "error"
    assert backend.calls == [BIG]


@pytest.mark.parametrize("value", ["off", "OFF", "none", "false", "0"])
def test_a_request_can_forbid_the_fallback(make_gateway: MakeGateway, value: str) -> None:
    backend = FullModel()
    gw = make_gateway(backend, **BOTH)
    reply = post(gw, NATIVE, PROMPT, {"x-gateway-fallback": value})
    assert reply.status == 503 and reply.json()["errors"][0]["code"] == 3040
    assert backend.calls == [BIG] * 3


def test_a_bad_fallback_header_is_a_400_naming_it(make_gateway: MakeGateway) -> None:
    gw = make_gateway(FullModel(), **BOTH)
    reply = post(gw, "/v1/chat/completions", CHAT, {"x-gateway-fallback": "maybe"})
    assert reply.status == 400 and "x-gateway-fallback header must be off" in reply.json()["error"]["message"]


def test_a_keys_model_scope_can_forbid_the_fallback(make_gateway: MakeGateway) -> None:
    backend = FullModel()
    scoped = json.dumps([{**key_entry("alice", KEY), "models": [BIG]}])
    gw = make_gateway(backend, keys=scoped, **BOTH)
    assert post(gw, NATIVE, PROMPT).status == 503
    assert SMALL not in backend.calls


def test_a_batch_is_never_moved_to_another_model(make_gateway: MakeGateway) -> None:
    backend = FullModel()
    gw = make_gateway(backend, **BOTH)
    assert post(gw, NATIVE, {"requests": [{"input": "a"}]}).status == 503
    assert post(gw, NATIVE, {"request_id": "abc"}).status == 503
    assert SMALL not in backend.calls


def test_when_the_fallback_is_full_too_the_503_says_so(make_gateway: MakeGateway) -> None:
    backend = FullModel(also=10)
    gw = make_gateway(backend, **BOTH)
    reply = post(gw, NATIVE, PROMPT)
    assert reply.status == 503 and int(reply.headers["retry-after"]) >= 1
    message = reply.json()["errors"][0]["message"]
    assert BIG in message and f"the fallback {SMALL}" in message
    assert backend.calls == [BIG] * 3 + [SMALL] * 3


def test_a_fallback_outside_models_is_a_configuration_problem(make_gateway: MakeGateway) -> None:
    gw = make_gateway(FullModel(), MODELS=BIG, FALLBACK_MODEL=SMALL)
    reply = post(gw, NATIVE, PROMPT)
    assert reply.status == 503
    assert "FALLBACK_MODEL must be one of the served MODELS" in reply.json()["errors"][0]["message"]


def test_the_fallbacks_call_carries_the_same_options_session_and_ai_gateway(make_gateway: MakeGateway) -> None:
    backend = FullModel()
    gw = make_gateway(backend, AI_GATEWAY_ID="team-gw", **BOTH)
    reply = post(gw, "/v1/chat/completions", {**CHAT, "prompt_cache_key": "c-1"})
    assert reply.status == 200 and reply.json()["model"] == "gpt-oss-20b"
    assert backend.calls[-1] == SMALL and backend.options[-1] == backend.options[0]
    assert set(backend.options[-1]) == {"extraHeaders", "gateway"}


class SlowFallback(FullModel):
    """The 120b out of capacity, and the fallback slow to answer; records its call being cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.cancelled = False

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
        if model == BIG:
            return await super().run(model, inputs, options)
        self.calls.append(model)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("the fallback's call outlived its client")


def test_a_client_that_leaves_while_the_fallback_works_cancels_the_fallbacks_call(make_gateway: MakeGateway) -> None:
    backend = SlowFallback()
    gw = make_gateway(backend, **BOTH)
    gone = asyncio.Event()  # what the local server's connection watch sets when the client hangs up

    async def watched(scope: Scope, receive: Receive, send: Send) -> None:
        await gw.app({**scope, CLIENT_GONE_KEY: gone}, receive, send)

    async def leave_soon() -> None:
        asyncio.get_running_loop().call_later(0.2, gone.set)
        await request(watched, "POST", NATIVE, body=PROMPT, headers=gw.auth, timeout=5)

    started = time.monotonic()
    asyncio.run(leave_soon())
    assert backend.calls == [BIG, BIG, BIG, SMALL] and backend.cancelled
    assert time.monotonic() - started < 5, "cancelled at once, not waited out"
    line = json.loads(gw.logs[-1])
    assert line["status"] == 499 and line["model"] == BIG  # nobody answered: no fallback named


MESSAGES = {"max_tokens": 200, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(("asked", "shown"), [("gpt-oss-120b", "gpt-oss-20b"), ("claude-sonnet-4-5", SMALL)])
def test_a_messages_answer_names_the_fallback_whole_and_streamed(
    make_gateway: MakeGateway, asked: str, shown: str
) -> None:
    # A `claude-*` name is answered under the served model's id, so the fallback's id stands for it.
    gw = make_gateway(FullModel(), **BOTH)
    whole = post(gw, "/v1/messages", {**MESSAGES, "model": asked})
    assert whole.status == 200 and whole.json()["model"] == shown
    assert (whole.headers["x-gateway-model"], whole.headers["x-gateway-fallback-from"]) == (SMALL, BIG)
    stream = post(gw, "/v1/messages", {**MESSAGES, "model": asked, "stream": True})
    start = json.loads(stream.events()[0])
    assert start["type"] == "message_start" and start["message"]["model"] == shown


def test_when_the_fallback_is_full_too_a_messages_client_is_told_it_is_overloaded(make_gateway: MakeGateway) -> None:
    gw = make_gateway(FullModel(also=10), **BOTH)
    reply = post(gw, "/v1/messages", {**MESSAGES, "model": "gpt-oss-120b"})
    assert reply.status == 529 and reply.json()["error"]["type"] == "overloaded_error"
    assert "for the fallback" in reply.json()["error"]["message"]
