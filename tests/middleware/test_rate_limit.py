"""Request limits per key: exact admission under concurrency, exact retry-after, headers, failure policy."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

from gateway._limits.bindings import BindingRequestLimiter
from gateway._limits.guards import Guards, RequestVerdict
from gateway._policy import Tier
from gateway.local.limits import InProcessBudgets, InProcessRequestLimiter
from tests.client import Reply, request, run
from tests.conftest import NATIVE, FakeClock, MakeGateway, tiers

BODY = {"prompt": "hi"}


async def _burst(app: Any, headers: dict[str, str], count: int) -> list[Reply]:
    return list(await asyncio.gather(*(request(app, "POST", NATIVE, body=BODY, headers=headers) for _ in range(count))))


def test_n_parallel_requests_against_a_limit_of_m_admit_exactly_m(make_gateway: MakeGateway) -> None:
    gw = make_gateway(TIERS=tiers(requests=7, period=60), clock=FakeClock())
    replies = run(_burst(gw.app, gw.auth, 20))
    assert sorted(reply.status for reply in replies) == [200] * 7 + [429] * 13
    assert len(gw.backend.calls) == 7


def test_a_429_says_when_the_request_would_be_admitted_and_it_is(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(TIERS=tiers(requests=2, period=60), clock=clock)
    run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    clock.advance(17.2)
    run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    refused = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert refused.status == 429
    # The window started at the minute; 42.8 s are left of it, not the window's 60.
    assert refused.headers["retry-after"] == "43"
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.headers["x-ratelimit-reset-requests"] == "42.8s"
    assert refused.json()["errors"][0]["message"].startswith("This key has made its 2 requests per 60 s")
    clock.advance(42.7)
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 429
    clock.advance(0.1)
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 200


def test_every_answer_carries_the_request_headers_even_an_error(make_gateway: MakeGateway) -> None:
    gw = make_gateway(TIERS=tiers(requests=5, period=10), clock=FakeClock(now=1_800_000_003.5))
    ok = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    bad = run(request(gw.app, "POST", NATIVE, body={"prompt": ""}, headers=gw.auth))
    assert ok.status == 200 and bad.status == 400
    assert ok.headers["x-ratelimit-limit-requests"] == "5"
    assert ok.headers["x-ratelimit-remaining-requests"] == "4"
    assert ok.headers["x-ratelimit-reset-requests"] == "6.5s"
    assert bad.headers["x-ratelimit-remaining-requests"] == "3"


def test_keys_are_limited_separately(make_gateway: MakeGateway) -> None:
    from gateway.local.keygen import key_entry

    keys = json.dumps([key_entry("a", "key-a-0123456789"), key_entry("b", "key-b-0123456789")])
    gw = make_gateway(keys=keys, TIERS=tiers(requests=1), clock=FakeClock())
    first = run(request(gw.app, "POST", NATIVE, body=BODY, headers={"x-api-key": "key-a-0123456789"}))
    other = run(request(gw.app, "POST", NATIVE, body=BODY, headers={"x-api-key": "key-b-0123456789"}))
    again = run(request(gw.app, "POST", NATIVE, body=BODY, headers={"x-api-key": "key-a-0123456789"}))
    assert (first.status, other.status, again.status) == (200, 200, 429)


def test_without_tiers_nothing_is_limited_and_no_headers_are_invented(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 200
    assert not [name for name in reply.headers if name.startswith("x-ratelimit-")]


class BrokenLimiter:
    async def admit(self, key_id: str, tier: Tier) -> RequestVerdict:
        raise RuntimeError("binding exploded")


def _broken_guards() -> Guards:
    return Guards(requests=BrokenLimiter(), tokens=InProcessBudgets())


def test_a_failing_limiter_fails_closed_with_a_clear_503_and_a_log(make_gateway: MakeGateway) -> None:
    gw = make_gateway(TIERS=tiers(requests=5), guards=_broken_guards())
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 503
    assert "refuses the request rather than serve it unmetered" in reply.json()["errors"][0]["message"]
    assert reply.headers["retry-after"] == "1"
    assert gw.backend.calls == []
    assert "binding exploded" in json.loads(gw.logs[-1])["limiter_failures"][0]


def test_fail_open_serves_and_logs_the_failure(make_gateway: MakeGateway) -> None:
    gw = make_gateway(TIERS=tiers(requests=5), LIMITS_FAIL_OPEN="true", guards=_broken_guards())
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 200
    assert json.loads(gw.logs[-1])["limiter_failures"] == [
        "the request limiter for tier 'default' failed: RuntimeError: binding exploded (failed open)"
    ]


class RatelimitDouble:
    """The Rate Limiting binding: `limit({key})` → `{success}`, from a script of outcomes."""

    def __init__(self, outcomes: list[bool]) -> None:
        self.outcomes = outcomes
        self.calls: list[Any] = []

    async def limit(self, options: dict[str, str]) -> dict[str, bool]:
        self.calls.append(options)
        return {"success": self.outcomes.pop(0)}


def test_the_binding_limiter_uses_the_tiers_binding_keyed_by_hash(make_gateway: MakeGateway) -> None:
    binding = RatelimitDouble([True, False])
    guards = Guards(
        requests=BindingRequestLimiter(SimpleNamespace(RATE_LIMIT_DEFAULT=binding)), tokens=InProcessBudgets()
    )
    gw = make_gateway(TIERS=tiers(requests=100), guards=guards)
    ok = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    refused = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert (ok.status, refused.status) == (200, 429)
    assert ok.headers["x-ratelimit-limit-requests"] == "100"
    assert "x-ratelimit-remaining-requests" not in ok.headers  # the binding does not say
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert len(binding.calls) == 2 and binding.calls[0]["key"] not in (gw.key, "tester")
    assert len(binding.calls[0]["key"]) == 64  # the key's SHA-256


def test_a_tier_whose_binding_is_missing_fails_closed_naming_it(make_gateway: MakeGateway) -> None:
    guards = Guards(requests=BindingRequestLimiter(SimpleNamespace()), tokens=InProcessBudgets())
    gw = make_gateway(TIERS=json.dumps({"default": {"requests": 5}}), guards=guards)
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 503
    assert "RATE_LIMIT_DEFAULT is not declared" in json.loads(gw.logs[-1])["limiter_failures"][0]


def test_the_in_process_limiter_starts_a_new_window_on_the_period() -> None:
    clock = FakeClock()
    limiter = InProcessRequestLimiter(clock)
    tier = Tier("default", requests=1, period=10)
    assert run(limiter.admit("k", tier)).admitted
    verdict = run(limiter.admit("k", tier))
    assert not verdict.admitted and verdict.retry_after_s == 10
    clock.advance(10)
    assert run(limiter.admit("k", tier)).admitted
