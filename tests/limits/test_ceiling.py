"""The account's ceiling: requests a minute to Workers AI across every key, counted once per model call."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from gateway._config import read_settings
from gateway._limits.bindings import BindingRequestLimiter
from gateway._limits.guards import Guards
from gateway.local.keygen import key_entry
from gateway.local.limits import InProcessBudgets, InProcessRequestLimiter
from tests.client import Reply, request, run
from tests.conftest import NATIVE, FakeClock, MakeGateway, tiers

BODY = {"prompt": "hi"}
ALICE, BOB = "gw-alice-ceiling-key", "gw-bob-ceiling-key"
TWO_KEYS = json.dumps([key_entry("alice", ALICE), key_entry("bob", BOB)])


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def test_the_keys_together_are_refused_past_the_ceiling_with_a_service_busy_429(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(keys=TWO_KEYS, clock=clock, TIERS=tiers(requests=10), ACCOUNT_REQUESTS_PER_MINUTE="2")
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=bearer(ALICE))).status == 200
    clock.advance(20.5)
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=bearer(BOB))).status == 200
    refused = run(request(gw.app, "POST", NATIVE, body=BODY, headers=bearer(ALICE)))
    assert refused.status == 429
    error = refused.json()["errors"][0]
    assert error["message"].startswith("The service is busy: all keys together")
    assert "not this key's own limit" in error["message"]
    assert refused.headers["retry-after"] == "40"  # the rest of the minute, rounded up
    assert refused.headers["x-ratelimit-remaining-requests"] == "8", "the key's own window is its own"
    assert json.loads(gw.logs[-1])["error"].startswith("The service is busy")
    assert len(gw.backend.calls) == 2
    clock.advance(39.5)
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=bearer(BOB))).status == 200


def test_the_openai_dialect_names_the_busy_service_in_its_envelope(make_gateway: MakeGateway) -> None:
    gw = make_gateway(clock=FakeClock(), ACCOUNT_REQUESTS_PER_MINUTE="1")
    body = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}
    assert run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth)).status == 200
    refused = run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth))
    assert refused.status == 429
    assert refused.json()["error"]["code"] == "service_busy"
    assert refused.json()["error"]["type"] == "rate_limit_error"


def test_only_model_calls_count(make_gateway: MakeGateway) -> None:
    gw = make_gateway(clock=FakeClock(), ACCOUNT_REQUESTS_PER_MINUTE="1")
    for _ in range(3):
        assert run(request(gw.app, "GET", "/v1/models", headers=gw.auth)).status == 200
        assert run(request(gw.app, "POST", NATIVE, body={"prompt": ""}, headers=gw.auth)).status == 400
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 200
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 429


def test_n_parallel_calls_against_a_ceiling_of_m_reach_the_model_exactly_m_times(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys=TWO_KEYS, clock=FakeClock(), ACCOUNT_REQUESTS_PER_MINUTE="5")

    async def burst() -> list[Reply]:
        calls = [request(gw.app, "POST", NATIVE, body=BODY, headers=bearer(key)) for key in [ALICE, BOB] * 6]
        return list(await asyncio.gather(*calls))

    assert sorted(reply.status for reply in run(burst())) == [200] * 5 + [429] * 7
    assert len(gw.backend.calls) == 5


def test_without_the_variable_there_is_no_ceiling(make_gateway: MakeGateway) -> None:
    gw = make_gateway(clock=FakeClock())
    for _ in range(5):
        assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 200


def test_a_ceiling_without_its_binding_fails_closed_naming_it(make_gateway: MakeGateway) -> None:
    guards = Guards(
        requests=InProcessRequestLimiter(),
        tokens=InProcessBudgets(),
        ceiling=BindingRequestLimiter(object(), binding_for=lambda tier: "ACCOUNT_RATE_LIMIT"),
    )
    gw = make_gateway(guards=guards, ACCOUNT_REQUESTS_PER_MINUTE="300")
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 503 and reply.json()["errors"][0]["message"].startswith("The gateway cannot check")
    assert "ACCOUNT_RATE_LIMIT is not declared" in json.loads(gw.logs[-1])["limiter_failures"][0]
    assert gw.backend.calls == []
    open_gw = make_gateway(guards=guards, ACCOUNT_REQUESTS_PER_MINUTE="300", LIMITS_FAIL_OPEN="true")
    assert run(request(open_gw.app, "POST", NATIVE, body=BODY, headers=open_gw.auth)).status == 200


def test_guards_without_a_ceiling_limiter_fail_closed_too(make_gateway: MakeGateway) -> None:
    guards = Guards(requests=InProcessRequestLimiter(), tokens=InProcessBudgets())
    gw = make_gateway(guards=guards, ACCOUNT_REQUESTS_PER_MINUTE="300")
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 503


def test_the_ceiling_variable_is_checked() -> None:
    for bad in ("0", "12.5", "many", "-3"):
        problems = read_settings(SimpleNamespace(ACCOUNT_REQUESTS_PER_MINUTE=bad)).problems
        assert any("ACCOUNT_REQUESTS_PER_MINUTE must be a whole number" in p for p in problems), bad
    assert read_settings(SimpleNamespace(ACCOUNT_REQUESTS_PER_MINUTE="300")).account_requests_per_minute == 300


def test_a_request_its_own_budget_refuses_never_uses_up_the_ceiling(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(keys=TWO_KEYS, clock=clock, TIERS=tiers(tokens_per_minute=800), ACCOUNT_REQUESTS_PER_MINUTE="2")
    too_big = {"prompt": "hi", "max_tokens": 500}
    assert run(request(gw.app, "POST", NATIVE, body=too_big, headers=bearer(ALICE))).status == 200
    for _ in range(3):  # alice is over her minute budget: 429s of her own, not the service's
        refused = run(request(gw.app, "POST", NATIVE, body=too_big, headers=bearer(ALICE)))
        assert refused.status == 429 and "left this minute" in refused.json()["errors"][0]["message"]
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=bearer(BOB))).status == 200, "bob still fits"


def test_a_ceiling_refusal_refunds_the_reservation(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(clock=clock, TIERS=tiers(tokens_per_minute=100_000), ACCOUNT_REQUESTS_PER_MINUTE="1")
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 200
    refused = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert refused.status == 429
    line = json.loads(gw.logs[-1])
    assert line["tokens_reserved"] > 0 and line["tokens_charged"] == 0
