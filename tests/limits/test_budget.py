"""Token budgets through the gateway: reserve the maximum, settle the real count, never overshoot."""

from __future__ import annotations

import asyncio
import hashlib
import json
from types import SimpleNamespace
from typing import Any

import pytest

from gateway._catalog import NANO_USD, WORKERS_AI_DEFAULT_MAX_TOKENS
from gateway._config import SETTINGS_KEY, read_settings
from gateway._limits.bindings import DurableBudgets
from gateway._limits.budget import (
    TEMPLATE_OVERHEAD_TOKENS,
    format_usd,
    max_nano_usd_for,
    max_tokens_for,
    output_room,
)
from gateway._limits.guards import KEY_KEY, BudgetVerdict, Guards
from gateway._limits.ledger import TokenLedger
from gateway._policy import Tier
from gateway._upstream.backend import UpstreamResult
from gateway.local.emulator import Emulator, Faults
from gateway.local.keygen import key_entry
from gateway.local.limits import InProcessBudgets, InProcessRequestLimiter
from gateway.local.sql import SqliteStorageSql
from tests.client import Reply, request, run
from tests.conftest import KEY, MODEL, NATIVE, FakeClock, Harness, MakeGateway, tiers

KEY_ID = hashlib.sha256(KEY.encode()).hexdigest()
PROMPT = {"prompt": "Count the tokens", "max_tokens": 100}
PROMPT_MAX = max_tokens_for(PROMPT)
CHAT_STREAM = {"messages": [{"role": "user", "content": "Stream it"}], "stream": True, "max_tokens": 400}


def _bytes(inputs: dict[str, Any]) -> int:
    return len(json.dumps(inputs, ensure_ascii=False, separators=(",", ":")).encode())


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        (PROMPT, _bytes(PROMPT) + TEMPLATE_OVERHEAD_TOKENS + 100),
        ({"prompt": "hi"}, _bytes({"prompt": "hi"}) + TEMPLATE_OVERHEAD_TOKENS + WORKERS_AI_DEFAULT_MAX_TOKENS),
        ({"input": "hi", "max_output_tokens": 50}, _bytes({"input": "hi", "max_output_tokens": 50}) + 256 + 50),
        ({"messages": [{"role": "user", "content": "é"}]}, 45 + 256 + 256),  # 44 characters, é is two bytes
        (
            {"requests": [{"prompt": "a", "max_tokens": 1}, {"prompt": "b", "max_tokens": 2}]},
            (29 + 256 + 1) + (29 + 256 + 2),
        ),
        ({"request_id": "abc"}, 0),
    ],
)
def test_the_most_a_call_can_use_is_an_upper_bound_from_its_inputs(inputs: dict[str, Any], expected: int) -> None:
    assert max_tokens_for(inputs) == expected


@pytest.mark.parametrize(
    ("limits", "room"),
    [
        ({}, None),
        ({"max_streams": 2}, None),  # a budget object, but no token budget
        ({"tokens_per_minute": 5000}, 5000 - PROMPT_MAX + 100),
        ({"tokens_per_minute": 5000, "tokens_per_day": 3000}, 3000 - PROMPT_MAX + 100),  # the smaller one
        ({"tokens_per_minute": 300}, 300 - PROMPT_MAX + 100),  # not even the input fits: negative
    ],
)
def test_the_output_room_is_what_the_smallest_budget_leaves_after_the_input(
    limits: dict[str, int], room: int | None
) -> None:
    env = SimpleNamespace(GATEWAY_KEYS=json.dumps([key_entry("tester", KEY)]), TIERS=tiers(**limits) if limits else "")
    settings = read_settings(env)
    scope = {SETTINGS_KEY: settings, KEY_KEY: settings.keys[0]}
    assert output_room(scope, PROMPT) == room
    assert output_room({SETTINGS_KEY: settings}, PROMPT) is None  # no key: nothing to fit


ASKED = {"prompt": "Count the tokens", "max_tokens": 100_000}  # as Messages asks: more than fits
ASKED_INPUT = max_tokens_for(ASKED) - 100_000


@pytest.mark.parametrize(
    ("limits", "models", "room"),
    [
        ({"usd_per_day": 0.01}, (), None),  # no model to price: no dollar room
        ({"usd_per_day": 0.01}, (MODEL,), (10_000_000 - ASKED_INPUT * 350) // 750),
        ({"usd_per_day": 0.01, "usd_per_month": 0.005}, (MODEL,), (5_000_000 - ASKED_INPUT * 350) // 750),
        # The dearer of the models that may answer bounds it: the 120b, not the 20b ($0.20 / $0.30).
        ({"usd_per_day": 0.01}, (MODEL, "@cf/openai/gpt-oss-20b"), (10_000_000 - ASKED_INPUT * 350) // 750),
        ({"usd_per_day": 0.01}, ("@cf/openai/gpt-oss-20b",), (10_000_000 - ASKED_INPUT * 200) // 300),
        ({"usd_per_day": 1, "tokens_per_minute": 3000}, (MODEL,), 3000 - ASKED_INPUT),  # tokens the smaller
    ],
)
def test_the_output_room_is_what_the_dollar_budgets_pay_for_after_the_input(
    limits: dict[str, float], models: tuple[str, ...], room: int | None
) -> None:
    env = SimpleNamespace(GATEWAY_KEYS=json.dumps([key_entry("tester", KEY)]), TIERS=json.dumps({"default": limits}))
    settings = read_settings(env)
    scope = {SETTINGS_KEY: settings, KEY_KEY: settings.keys[0]}
    assert output_room(scope, ASKED, models) == room
    usd_limit = min(limits.get("usd_per_day", 1e9), limits.get("usd_per_month", 1e9)) * NANO_USD
    if room is not None and models:  # the reservation at that cap fits (a shorter number, a shorter input)
        assert max_nano_usd_for({**ASKED, "max_tokens": room}, models) <= usd_limit


def _ledger(gw: Harness) -> TokenLedger:
    assert gw.guards is not None and isinstance(gw.guards.tokens, InProcessBudgets)
    return gw.guards.tokens.ledger(KEY_ID)


def _charged(gw: Harness, clock: FakeClock) -> int:
    return _ledger(gw).snapshot(int(clock.now * 1000))["minute_used"]


class GatedBackend:
    """The emulator, but every call waits at a gate: calls in flight stay in flight until opened."""

    name = "gated"

    def __init__(self) -> None:
        self.inner = Emulator(token_delay_ms=0)
        self.gate = asyncio.Event()
        self.waiting = 0

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
        self.waiting += 1
        await self.gate.wait()
        return await self.inner.run(model, inputs, options)


async def _parallel(gw: Harness, backend: GatedBackend, body: dict[str, Any], count: int, admitted: int) -> list[Reply]:
    tasks = [asyncio.ensure_future(request(gw.app, "POST", NATIVE, body=body, headers=gw.auth)) for _ in range(count)]
    while backend.waiting < admitted or sum(task.done() for task in tasks) < count - admitted:
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.01)  # anything else that would get in has had the chance
    backend.gate.set()
    return list(await asyncio.gather(*tasks))


def test_n_parallel_requests_against_a_budget_for_m_admit_exactly_m(make_gateway: MakeGateway) -> None:
    clock, backend = FakeClock(), GatedBackend()
    gw = make_gateway(backend, TIERS=tiers(tokens_per_minute=PROMPT_MAX * 5), clock=clock)
    replies = run(_parallel(gw, backend, PROMPT, 12, admitted=5))
    assert sorted(reply.status for reply in replies) == [200] * 5 + [429] * 7
    assert backend.waiting == 5  # the refused never reached the model
    refused = next(reply for reply in replies if reply.status == 429)
    assert refused.json()["errors"][0]["message"].startswith(f"This request may use up to {PROMPT_MAX} tokens")
    assert refused.headers["retry-after"] == "60"  # the minute started when the clock did


def test_a_normal_answer_is_charged_its_real_usage(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(TIERS=tiers(tokens_per_minute=10_000), clock=clock)
    reply = run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth))
    usage = reply.json()["result"]["usage"]
    log = json.loads(gw.logs[-1])
    assert log["tokens_reserved"] == PROMPT_MAX
    assert log["tokens_charged"] == usage["prompt_tokens"] + usage["completion_tokens"] == _charged(gw, clock)
    assert reply.headers["x-ratelimit-limit-tokens"] == "10000"
    assert reply.headers["x-ratelimit-remaining-tokens"] == str(10_000 - PROMPT_MAX)  # as reserved at the start
    assert reply.headers["x-ratelimit-reset-tokens"] == "1m0s"
    assert _ledger(gw).snapshot(int(clock.now * 1000))["open_leases"] == 0


def test_a_streamed_answer_is_charged_the_usage_its_last_event_reports(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(Emulator(token_delay_ms=1), TIERS=tiers(tokens_per_minute=10_000, max_streams=1), clock=clock)
    reply = run(request(gw.app, "POST", NATIVE, body=CHAT_STREAM, headers=gw.auth))
    usage = next(json.loads(e)["usage"] for e in reversed(reply.events()) if e != "[DONE]" and '"usage"' in e)
    assert _charged(gw, clock) == usage["prompt_tokens"] + usage["completion_tokens"]
    assert json.loads(gw.logs[-1])["tokens_charged"] == _charged(gw, clock)
    assert _ledger(gw).snapshot(int(clock.now * 1000))["open_streams"] == 0


def test_a_stream_the_client_aborts_keeps_its_whole_reservation(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(Emulator(token_delay_ms=30), TIERS=tiers(tokens_per_minute=10_000), clock=clock)
    run(request(gw.app, "POST", NATIVE, body=CHAT_STREAM, headers=gw.auth, disconnect_after=0.05))
    assert gw.backend.streams[-1].cancelled
    assert _charged(gw, clock) == max_tokens_for(CHAT_STREAM)
    assert _ledger(gw).snapshot(int(clock.now * 1000))["open_streams"] == 0


@pytest.mark.parametrize(
    ("faults", "body"),
    [(Faults(error=5006), PROMPT), (Faults(capacity=5), PROMPT), (Faults(midstream=3), CHAT_STREAM)],
    ids=["error", "capacity", "midstream"],
)
def test_a_failed_call_is_refunded(make_gateway: MakeGateway, faults: Faults, body: dict[str, Any]) -> None:
    clock = FakeClock()
    backend = Emulator(token_delay_ms=0, faults=faults)
    gw = make_gateway(backend, TIERS=tiers(tokens_per_minute=10_000), clock=clock, RETRY_BASE_MS="0")
    reply = run(request(gw.app, "POST", NATIVE, body=body, headers=gw.auth))
    assert reply.status >= 400 or reply.event_names() == ["error"]
    assert _charged(gw, clock) == 0
    assert json.loads(gw.logs[-1])["tokens_charged"] == 0


def test_the_day_budget_refuses_until_midnight_with_its_own_headers(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(TIERS=tiers(tokens_per_day=PROMPT_MAX), clock=clock)
    ok = run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth))
    assert ok.headers["x-ratelimit-limit-tokens-day"] == str(PROMPT_MAX)
    assert ok.headers["x-ratelimit-reset-tokens-day"] == "16h0m0s"
    assert "x-ratelimit-limit-tokens" not in ok.headers  # no per-minute budget in this tier
    assert 0 < _charged_day(gw, clock) < PROMPT_MAX  # settled to the real usage: room, but not enough
    clock.advance(3600)
    refused = run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth))
    assert refused.status == 429
    assert refused.headers["retry-after"] == str(15 * 3600)  # the clock started 16 h before midnight
    assert refused.headers["x-ratelimit-remaining-tokens-day"] == str(PROMPT_MAX - _charged_day(gw, clock))
    clock.advance(15 * 3600)
    assert run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth)).status == 200


def _charged_day(gw: Harness, clock: FakeClock) -> int:
    return _ledger(gw).snapshot(int(clock.now * 1000))["day_used"]


def test_a_request_that_can_never_fit_is_a_400_naming_max_tokens(make_gateway: MakeGateway) -> None:
    gw = make_gateway(TIERS=tiers(tokens_per_minute=1000), clock=FakeClock())
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi", "max_tokens": 5000}, headers=gw.auth))
    assert reply.status == 400
    error = reply.json()["errors"][0]
    assert error["source"] == {"pointer": "/max_tokens"} and "budget of 1000 tokens" in error["message"]
    assert "retry-after" not in reply.headers


def test_open_streams_are_capped_per_key(make_gateway: MakeGateway) -> None:
    async def scenario(gw: Harness) -> tuple[Reply, Reply, Reply]:
        first = asyncio.ensure_future(request(gw.app, "POST", NATIVE, body=CHAT_STREAM, headers=gw.auth))
        while not gw.backend.streams:
            await asyncio.sleep(0.001)
        second = await request(gw.app, "POST", NATIVE, body=CHAT_STREAM, headers=gw.auth)
        plain = await request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth)
        await first
        return await first, second, plain

    gw = make_gateway(Emulator(token_delay_ms=5), TIERS=tiers(max_streams=1), clock=FakeClock())
    first, second, plain = run(scenario(gw))
    assert (first.status, second.status, plain.status) == (200, 429, 200)
    assert "already has 1 open streams" in second.json()["errors"][0]["message"]
    assert second.headers["retry-after"] == "1"
    assert run(request(gw.app, "POST", NATIVE, body=CHAT_STREAM, headers=gw.auth)).status == 200


class BrokenBudgets:
    async def reserve(
        self, key_id: str, lease_id: str, tokens: int, stream: bool, tier: Tier, usd: int
    ) -> BudgetVerdict:
        raise RuntimeError("Durable Object reset")

    async def settle(self, key_id: str, lease_id: str, tokens: int, usd: int) -> None:
        raise AssertionError("nothing was reserved")

    async def report(self, key_id: str, tier: Tier) -> dict[str, Any]:
        raise RuntimeError("Durable Object reset")


@pytest.mark.parametrize(("fail_open", "status"), [("false", 503), ("true", 200)])
def test_a_failing_budget_object_fails_closed_unless_told_otherwise(
    make_gateway: MakeGateway, fail_open: str, status: int
) -> None:
    guards = Guards(requests=InProcessRequestLimiter(), tokens=BrokenBudgets())
    gw = make_gateway(TIERS=tiers(tokens_per_minute=1000), LIMITS_FAIL_OPEN=fail_open, guards=guards)
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi"}, headers=gw.auth))
    assert reply.status == status
    assert "Durable Object reset" in json.loads(gw.logs[-1])["limiter_failures"][0]
    assert len(gw.backend.calls) == (status == 200)


class BudgetStub:
    """A Durable Object stub as the SDK presents it: RPC methods answering plain dicts."""

    def __init__(self, ledger: TokenLedger, clock: FakeClock) -> None:
        self.ledger, self.clock = ledger, clock

    async def reserve(self, lease_id: str, tokens: int, stream: bool, *limits: int) -> Any:
        per_minute, per_day, streams, usd, usd_per_day, usd_per_month = limits
        now_ms = int(self.clock.now * 1000)
        return self.ledger.reserve(
            lease_id,
            tokens,
            stream,
            per_minute,
            per_day,
            streams,
            now_ms,
            usd=usd,
            usd_per_day=usd_per_day,
            usd_per_month=usd_per_month,
        )

    async def settle(self, lease_id: str, tokens: int, usd: int) -> Any:
        return self.ledger.settle(lease_id, tokens, usd)

    async def report(self, *limits: int) -> Any:
        return self.ledger.report(int(self.clock.now * 1000), *limits)


class BudgetNamespace:
    """`env.TOKEN_BUDGETS`: `idFromName` then `get`, one object (and storage) per name."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.objects: dict[str, BudgetStub] = {}

    def idFromName(self, name: str) -> str:
        return f"id:{name}"

    def get(self, object_id: str) -> BudgetStub:
        if object_id not in self.objects:
            self.objects[object_id] = BudgetStub(TokenLedger(SqliteStorageSql()), self.clock)
        return self.objects[object_id]


def test_the_worker_reaches_one_durable_object_per_key_over_rpc(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    namespace = BudgetNamespace(clock)
    guards = Guards(requests=InProcessRequestLimiter(clock), tokens=DurableBudgets(namespace))
    gw = make_gateway(TIERS=tiers(tokens_per_minute=PROMPT_MAX), guards=guards)
    ok = run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth))
    assert ok.status == 200 and list(namespace.objects) == [f"id:{KEY_ID}"]
    usage = ok.json()["result"]["usage"]
    charged = namespace.objects[f"id:{KEY_ID}"].ledger.snapshot(int(clock.now * 1000))["minute_used"]
    assert charged == usage["prompt_tokens"] + usage["completion_tokens"]


def test_a_missing_budget_binding_fails_closed(make_gateway: MakeGateway) -> None:
    guards = Guards(requests=InProcessRequestLimiter(), tokens=DurableBudgets(SimpleNamespace().__dict__.get("x")))
    gw = make_gateway(TIERS=tiers(tokens_per_minute=1000), guards=guards)
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi"}, headers=gw.auth))
    assert reply.status == 503
    assert "TOKEN_BUDGETS is not declared" in json.loads(gw.logs[-1])["limiter_failures"][0]


# --- budgets in dollars ----------------------------------------------------------------

PROMPT_MAX_USD = max_nano_usd_for(PROMPT, (MODEL,))  # nano-dollars, at the 120b's list price


def _usd_tiers(**limits: float) -> str:
    return json.dumps({"default": limits})


def _today(gw: Harness, clock: FakeClock) -> dict[str, int]:
    return _ledger(gw).report(int(clock.now * 1000), 0, 0, 0, 0, 0)["today"]  # type: ignore[no-any-return]


def test_the_most_a_call_can_cost_is_its_token_bounds_at_the_dearest_models_list_price() -> None:
    (input_bound, output_cap) = (PROMPT_MAX - 100, 100)
    assert input_bound * 350 + output_cap * 750 == PROMPT_MAX_USD  # $0.35 and $0.75 per million tokens
    assert max_nano_usd_for(PROMPT, (MODEL, "@cf/openai/gpt-oss-20b")) == PROMPT_MAX_USD
    assert max_nano_usd_for(PROMPT, ("@cf/openai/gpt-oss-20b",)) == input_bound * 200 + output_cap * 300
    assert max_nano_usd_for({"request_id": "abc"}, (MODEL,)) == 0


@pytest.mark.parametrize(("nano", "text"), [(5 * NANO_USD, "5"), (4_999_999_650, "4.99999965"), (35_000, "0.000035")])
def test_dollar_amounts_are_written_exactly(nano: int, text: str) -> None:
    assert format_usd(nano) == text


def test_an_answer_is_charged_its_price_with_usd_headers(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(TIERS=_usd_tiers(usd_per_day=1, usd_per_month=20), clock=clock)
    reply = run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth))
    usage = reply.json()["result"]["usage"]
    price = usage["prompt_tokens"] * 350 + usage["completion_tokens"] * 750
    assert reply.headers["x-ratelimit-limit-usd-day"] == "1"
    assert reply.headers["x-ratelimit-remaining-usd-day"] == format_usd(NANO_USD - PROMPT_MAX_USD)  # as reserved
    assert reply.headers["x-ratelimit-reset-usd-day"] == "16h0m0s"
    assert reply.headers["x-ratelimit-limit-usd-month"] == "20"
    assert reply.headers["x-ratelimit-reset-usd-month"] == "400h0m0s"  # to 2027-02-01T00:00:00Z
    log = json.loads(gw.logs[-1])
    assert log["usd_reserved"] == PROMPT_MAX_USD / NANO_USD and log["usd_charged"] == price / NANO_USD
    assert log["usd_charged"] == log["cost_usd"]
    assert _today(gw, clock)["usd"] == price
    assert "x-ratelimit-limit-tokens" not in reply.headers  # no token budget in this tier


def test_n_parallel_requests_against_a_dollar_budget_for_m_admit_exactly_m(make_gateway: MakeGateway) -> None:
    clock, backend = FakeClock(), GatedBackend()
    gw = make_gateway(backend, TIERS=_usd_tiers(usd_per_day=PROMPT_MAX_USD * 5 / NANO_USD), clock=clock)
    replies = run(_parallel(gw, backend, PROMPT, 12, admitted=5))
    assert sorted(reply.status for reply in replies) == [200] * 5 + [429] * 7
    assert backend.waiting == 5  # the refused never reached the model
    refused = next(reply for reply in replies if reply.status == 429)
    error = refused.json()["errors"][0]
    assert "may cost up to $" in error["message"] and "left this day" in error["message"]
    assert refused.headers["retry-after"] == str(16 * 3600)  # until UTC midnight
    assert refused.headers["x-ratelimit-remaining-usd-day"] == "0"
    assert _today(gw, clock)["usd"] <= PROMPT_MAX_USD * 5  # settled below the limit: never over it


def test_a_request_whose_price_can_never_fit_is_a_400_naming_max_tokens(make_gateway: MakeGateway) -> None:
    gw = make_gateway(TIERS=_usd_tiers(usd_per_month=0.001), clock=FakeClock())
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi", "max_tokens": 5000}, headers=gw.auth))
    assert reply.status == 400
    error = reply.json()["errors"][0]
    assert error["source"] == {"pointer": "/max_tokens"}
    assert "budget of $0.001 a month" in error["message"]
    assert gw.backend.calls == []


def test_the_month_refuses_until_the_first_of_next_month(make_gateway: MakeGateway) -> None:
    probe = make_gateway(TIERS=_usd_tiers(usd_per_month=1))
    run(request(probe.app, "POST", NATIVE, body=PROMPT, headers=probe.auth))
    price = round(json.loads(probe.logs[-1])["usd_charged"] * NANO_USD)  # the emulator's answer is always the same
    clock = FakeClock()  # 2027-01-15T08:00:00Z
    # Room for one reservation, and after its settled price, not quite for a second one.
    gw = make_gateway(TIERS=_usd_tiers(usd_per_month=(PROMPT_MAX_USD + price - 10) / NANO_USD), clock=clock)
    assert run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth)).status == 200
    refused = run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth))
    assert refused.status == 429 and "left this month" in refused.json()["errors"][0]["message"]
    assert refused.headers["retry-after"] == str((16 * 24 + 16) * 3600)  # to 2027-02-01T00:00:00Z
    clock.advance((16 * 24 + 16) * 3600)
    assert run(request(gw.app, "POST", NATIVE, body=PROMPT, headers=gw.auth)).status == 200


def test_an_aborted_stream_keeps_its_price_and_a_failed_call_is_refunded(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(Emulator(token_delay_ms=30), TIERS=_usd_tiers(usd_per_day=5), clock=clock)
    run(request(gw.app, "POST", NATIVE, body=CHAT_STREAM, headers=gw.auth, disconnect_after=0.05))
    assert _today(gw, clock)["usd"] == max_nano_usd_for(CHAT_STREAM, (MODEL,))
    clock2 = FakeClock()
    failing = make_gateway(
        Emulator(token_delay_ms=0, faults=Faults(error=5006)), TIERS=_usd_tiers(usd_per_day=5), clock=clock2
    )
    assert run(request(failing.app, "POST", NATIVE, body=PROMPT, headers=failing.auth)).status == 400
    assert _today(failing, clock2)["usd"] == 0 and json.loads(failing.logs[-1])["usd_charged"] == 0
