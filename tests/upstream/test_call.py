"""Calling the upstream: capacity retries before the first byte, and timeouts for hangs."""

from __future__ import annotations

import json
import time

from gateway.local.emulator import Emulator, Faults
from tests.client import request, run
from tests.conftest import NATIVE, MakeGateway

CHAT = {"messages": [{"role": "user", "content": "hi"}]}


def test_capacity_errors_are_retried_before_the_first_byte(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(capacity=2)), CAPACITY_RETRIES="2", RETRY_BASE_MS="10")
    reply = run(request(gw.app, "POST", NATIVE, body={**CHAT, "stream": True}, headers=gw.auth))
    assert reply.status == 200
    assert reply.events()[-1] == "[DONE]"
    assert len(gw.backend.calls) == 3


def test_capacity_that_does_not_return_is_a_503_with_retry_after(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(capacity=10)), CAPACITY_RETRIES="2", RETRY_BASE_MS="10")
    started = time.perf_counter()
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth))
    assert reply.status == 503
    assert int(reply.headers["retry-after"]) >= 1
    assert reply.json()["errors"][0]["code"] == 3040
    assert "after 3 attempts" in reply.json()["errors"][0]["message"]
    assert len(gw.backend.calls) == 3  # bounded: the first try and two retries
    assert time.perf_counter() - started < 1.0


def test_no_retries_when_configured_off(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(capacity=1)), CAPACITY_RETRIES="0")
    assert run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth)).status == 503
    assert len(gw.backend.calls) == 1


def test_other_errors_are_not_retried(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(error=5006)))
    assert run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth)).status == 400
    assert len(gw.backend.calls) == 1


def test_an_upstream_that_hangs_is_cut_with_a_504(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(faults=Faults(hang=True)), UPSTREAM_TIMEOUT_S="0.2")
    started = time.perf_counter()
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth))
    elapsed = time.perf_counter() - started
    assert reply.status == 504
    assert "did not answer within" in reply.json()["errors"][0]["message"]
    assert 0.15 < elapsed < 1.0


def test_a_slow_first_token_within_the_timeout_still_streams(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=1, faults=Faults(slow_first_token_ms=200)), STREAM_IDLE_TIMEOUT_S="1")
    reply = run(request(gw.app, "POST", NATIVE, body={**CHAT, "stream": True}, headers=gw.auth))
    assert reply.chunks[0][0] >= 0.19
    assert reply.events()[-1] == "[DONE]"


class ExplodingBackend:
    name = "exploding"

    async def run(self, model: str, inputs: dict, options: dict) -> dict:  # type: ignore[type-arg]
        raise RuntimeError("socket went away")


def test_a_backend_that_fails_unexpectedly_is_a_502_naming_the_failure(make_gateway: MakeGateway) -> None:
    gw = make_gateway(ExplodingBackend())
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT, headers=gw.auth))
    assert reply.status == 502
    assert "socket went away" in reply.json()["errors"][0]["message"]
    assert json.loads(gw.logs[-1])["status"] == 502
