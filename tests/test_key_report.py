"""`GET /v1/usage`: the calling key's own limits, what is left, and its totals from the budget object."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from gateway._limits.bindings import BindingRequestLimiter
from gateway._limits.guards import Guards
from gateway._upstream.backend import UpstreamResult
from gateway.local.emulator import Emulator, Faults
from gateway.local.keygen import key_entry
from gateway.local.limits import InProcessBudgets, InProcessRequestLimiter
from tests.client import Reply, request, run
from tests.conftest import FakeClock, Harness, MakeGateway

MODEL = "@cf/openai/gpt-oss-120b"
NATIVE = f"/ai/run/{MODEL}"
ALICE, BOB = "gw-alice-usage-key", "gw-bob-usage-key"
TIERS = json.dumps(
    {
        "default": {"requests": 50, "tokens_per_minute": 50_000, "tokens_per_day": 200_000, "max_streams": 3},
        "pro": {"tokens_per_day": 1_000_000, "usd_per_day": 2, "usd_per_month": 30},
        "plain": {"requests": 10},
    }
)
KEYS = json.dumps(
    [
        {**key_entry("alice", ALICE), "tier": "pro", "models": [MODEL], "expires_at": "2027-06-30T00:00:00Z"},
        {**key_entry("bob", BOB), "tier": "default"},
        {**key_entry("carol", "gw-carol-usage-key"), "tier": "plain"},
    ]
)
PROMPT = {"prompt": "Count my tokens", "max_tokens": 64}
STREAM = {"messages": [{"role": "user", "content": "Stream it"}], "stream": True, "max_tokens": 300}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def usage(gw: Harness, key: str) -> Any:
    reply: Reply = run(request(gw.app, "GET", "/v1/usage", headers=bearer(key)))
    assert reply.status == 200, reply.body
    return reply.json()


class Switch:
    """The emulator, or, while `failing` is set, Workers AI's input validation error."""

    name = "switch"

    def __init__(self) -> None:
        self.inner = Emulator(token_delay_ms=20)
        self.failing = Emulator(token_delay_ms=0, faults=Faults(error=5006))
        self.fail = False

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
        return await (self.failing if self.fail else self.inner).run(model, inputs, options)


def test_a_fresh_key_sees_its_own_limits_and_nothing_spent(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys=KEYS, TIERS=TIERS, MODELS=f"{MODEL},@cf/openai/gpt-oss-20b", clock=FakeClock())
    report = usage(gw, ALICE)
    assert report["object"] == "key.usage"
    assert report["key"] == {"name": "alice", "tier": "pro", "models": [MODEL], "expires_at": "2027-06-30T00:00:00Z"}
    assert report["limits"] == {
        "requests": None,
        "tokens_per_minute": None,
        "tokens_per_day": 1_000_000,
        "max_streams": None,
        "usd_per_day": 2.0,
        "usd_per_month": 30.0,
    }
    remaining = report["remaining"]
    assert remaining["requests"] is None and remaining["tokens_per_minute"] is None
    assert remaining["tokens_per_day"] == {"limit": 1_000_000, "remaining": 1_000_000, "reset_s": 16 * 3600}
    assert remaining["usd_per_day"] == {"limit": 2.0, "remaining": 2.0, "reset_s": 16 * 3600}
    assert remaining["usd_per_month"]["remaining"] == 30.0 and remaining["usd_per_month"]["reset_s"] == 400 * 3600
    assert remaining["streams"] == {"limit": None, "open": 0, "remaining": None}
    today = {"since": "2027-01-15T00:00:00Z", "tokens": 0, "usd": 0.0, "reserved_tokens": 0, "reserved_usd": 0.0}
    assert report["totals"] == {"today": today, "this_month": {**today, "since": "2027-01-01T00:00:00Z"}}
    bob = usage(gw, BOB)["key"]
    assert bob["models"] == [MODEL, "@cf/openai/gpt-oss-20b"] and bob["expires_at"] is None


def test_the_totals_agree_with_the_budget_object_after_normal_streamed_failed_and_aborted_requests(
    make_gateway: MakeGateway,
) -> None:
    clock, backend = FakeClock(), Switch()
    gw = make_gateway(backend, keys=KEYS, TIERS=TIERS, clock=clock)
    auth = bearer(ALICE)
    assert run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=auth)).status == 200
    assert run(request(gw.app, "POST", NATIVE, body=STREAM, headers=auth)).events()[-1] == "[DONE]"
    backend.fail = True
    assert run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=auth)).status == 400
    backend.fail = False
    run(request(gw.app, "POST", NATIVE, body=STREAM, headers=auth, disconnect_after=0.05))
    lines = [json.loads(line) for line in gw.logs if '"tokens_charged"' in line]
    assert [line["status"] for line in lines] == [200, 200, 400, 200]
    assert lines[3]["error"] and lines[3]["streamed"], "the client left mid-stream"
    report = usage(gw, ALICE)
    today = report["totals"]["today"]
    assert today["tokens"] == sum(line["tokens_charged"] for line in lines)
    assert today["usd"] == round(sum(line["usd_charged"] for line in lines), 9)
    assert (today["reserved_tokens"], today["reserved_usd"]) == (0, 0.0)
    assert lines[2]["tokens_charged"] == 0 and lines[3]["tokens_charged"] == lines[3]["tokens_reserved"]
    assert isinstance(gw.guards, Guards) and isinstance(gw.guards.tokens, InProcessBudgets)
    ledger = gw.guards.tokens.ledger(hashlib.sha256(ALICE.encode()).hexdigest())
    assert today["tokens"] == ledger.snapshot(int(clock.now * 1000))["day_used"]
    assert report["totals"]["this_month"]["tokens"] == today["tokens"]
    remaining = report["remaining"]
    assert remaining["tokens_per_day"]["remaining"] == 1_000_000 - today["tokens"]
    assert remaining["usd_per_day"]["remaining"] == round(2 - today["usd"], 9)


def test_an_open_stream_shows_as_open_and_reserved(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=20), keys=KEYS, TIERS=TIERS, clock=FakeClock())

    async def scenario() -> tuple[Reply, Reply]:
        stream = asyncio.ensure_future(request(gw.app, "POST", NATIVE, body=STREAM, headers=bearer(BOB)))
        while not gw.backend.streams:
            await asyncio.sleep(0.001)
        during = await request(gw.app, "GET", "/v1/usage", headers=bearer(BOB))
        return during, await stream

    during, stream = run(scenario())
    assert stream.status == 200
    report = during.json()
    assert report["remaining"]["streams"] == {"limit": 3, "open": 1, "remaining": 2}
    assert report["totals"]["today"]["reserved_tokens"] > 0
    assert report["totals"]["today"]["tokens"] == report["totals"]["today"]["reserved_tokens"]
    after = usage(gw, BOB)
    assert after["remaining"]["streams"]["open"] == 0 and after["totals"]["today"]["reserved_tokens"] == 0


def test_a_key_sees_only_its_own_figures(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys=KEYS, TIERS=TIERS, clock=FakeClock())
    for _ in range(3):
        assert run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=bearer(BOB))).status == 200
    alice, bob = usage(gw, ALICE), usage(gw, BOB)
    assert alice["key"]["name"] == "alice" and alice["totals"]["today"]["tokens"] == 0
    assert bob["key"]["name"] == "bob" and bob["totals"]["today"]["tokens"] > 0
    assert "bob" not in json.dumps(alice) and ALICE not in json.dumps(alice) and BOB not in json.dumps(bob)
    query = run(request(gw.app, "GET", "/v1/usage", headers=bearer(ALICE), query="key=bob"))
    assert query.json()["key"]["name"] == "alice", "no parameter picks another key"


def test_requests_left_are_shown_where_the_limiter_knows_them(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys=KEYS, TIERS=TIERS, clock=FakeClock())
    run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=bearer(BOB)))
    report = usage(gw, BOB)
    assert report["limits"]["requests"] == 50 and report["limits"]["period_s"] == 60
    assert report["remaining"]["requests"] == {"limit": 50, "remaining": 48, "reset_s": 60.0}  # this request counts


class RatelimitBinding:
    async def limit(self, options: dict[str, str]) -> dict[str, bool]:
        return {"success": True}


def test_the_rate_limiting_binding_does_not_say_what_is_left(make_gateway: MakeGateway) -> None:
    env = type("Env", (), {"RATE_LIMIT_PLAIN": RatelimitBinding()})()
    guards = Guards(requests=BindingRequestLimiter(env), tokens=InProcessBudgets())
    gw = make_gateway(keys=KEYS, TIERS=TIERS, guards=guards)
    report = usage(gw, "gw-carol-usage-key")
    assert report["remaining"]["requests"]["limit"] == 10 and report["remaining"]["requests"]["remaining"] is None
    assert report["totals"] is None, "a tier without budgets keeps no budget object"
    assert report["limits"]["tokens_per_day"] is None


def test_usage_needs_a_key(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys=KEYS, TIERS=TIERS)
    reply = run(request(gw.app, "GET", "/v1/usage"))
    assert reply.status == 401 and "An API key is required" in reply.json()["error"]["message"]


class BrokenReport(InProcessBudgets):
    async def report(self, key_id: str, tier: Any) -> dict[str, Any]:
        raise RuntimeError("Durable Object reset")


def test_a_failing_budget_object_fails_closed(make_gateway: MakeGateway) -> None:
    guards = Guards(requests=InProcessRequestLimiter(), tokens=BrokenReport())
    gw = make_gateway(keys=KEYS, TIERS=TIERS, guards=guards)
    reply = run(request(gw.app, "GET", "/v1/usage", headers=bearer(ALICE)))
    assert reply.status == 503 and reply.json()["error"]["code"] == "limiter_unavailable"
