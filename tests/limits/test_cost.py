"""One price for a request, wherever it is counted: the budget's settlement (and `GET /v1/usage`'s
totals, which come from it), the log line and the Analytics Engine data point all price input
tokens read from the prefix cache at the model's cached rate."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._catalog import NANO_USD, PRICES_PER_MILLION, price_nano_usd
from gateway._limits.bindings import AnalyticsUsage
from gateway.local.limits import local_guards
from tests.client import Reply, request, run
from tests.conftest import MODEL, NATIVE, FakeClock, MakeGateway
from tests.doubles import FixedBackend, sse
from tests.limits.test_analytics import DatasetDouble

USAGE = {"prompt_tokens": 1000, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 800}}
# As if Workers AI published a cached rate for gpt-oss-120b (it publishes none today): $0.05 per million.
CACHED_RATE = (0.35, 0.75, 0.05)
PRICE = 200 * 350 + 800 * 50 + 10 * 750  # nano-dollars: uncached input, cached input, output
PRICE_WITHOUT_THE_CACHED_RATE = 1000 * 350 + 10 * 750
TIERS = json.dumps({"default": {"usd_per_day": 1, "usd_per_month": 10}})

WHOLE = (NATIVE, {"prompt": "hi"}, {"response": "Hello", "usage": USAGE})
CHUNK = {"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "Hello"}}]}
STREAMED = (
    "/v1/chat/completions",
    {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}], "stream": True},
    sse(CHUNK, {"object": "chat.completion.chunk", "choices": [], "usage": USAGE}),
)


def test_cached_tokens_cost_the_cached_rate_where_one_is_published(monkeypatch: pytest.MonkeyPatch) -> None:
    # The gpt-oss pages publish no cached rate: cached tokens cost the input rate.
    assert price_nano_usd(MODEL, 1000, 10, cached_tokens=600) == price_nano_usd(MODEL, 1000, 10) == 357_500
    monkeypatch.setitem(PRICES_PER_MILLION, "@cf/example/cached", (1.0, 2.0, 0.25))
    assert price_nano_usd("@cf/example/cached", 1_000_000, 0, cached_tokens=600_000) == 550_000_000
    assert price_nano_usd("@cf/example/cached", 100, 0, cached_tokens=500) == 25_000, "never more cached than input"
    assert price_nano_usd("@cf/example/unpriced", 100, 0) is None and price_nano_usd(MODEL, None, None) is None


def test_every_rate_is_a_whole_number_of_nano_dollars_a_token() -> None:
    # What makes dollar sums exact (the ledger counts nano-dollars): at most three decimals a million.
    for rates in PRICES_PER_MILLION.values():
        for rate in (rate for rate in rates if rate is not None):
            assert abs(rate * 1000 - round(rate * 1000)) < 1e-9, rates


@pytest.mark.parametrize(("path", "body", "answer"), [WHOLE, STREAMED], ids=["whole", "streamed"])
def test_the_settlement_the_log_the_data_point_and_v1_usage_price_cached_tokens_alike(
    make_gateway: MakeGateway, monkeypatch: pytest.MonkeyPatch, path: str, body: dict[str, Any], answer: Any
) -> None:
    monkeypatch.setitem(PRICES_PER_MILLION, MODEL, CACHED_RATE)
    dataset, clock = DatasetDouble(), FakeClock()
    guards = local_guards(clock, usage=AnalyticsUsage(dataset))
    gw = make_gateway(FixedBackend(answer), guards=guards, clock=clock, TIERS=TIERS)
    reply: Reply = run(request(gw.app, "POST", path, body=body, headers=gw.auth))
    assert reply.status == 200, reply.body
    line = json.loads(gw.logs[-1])
    assert line["cached_tokens"] == 800
    assert line["cost_usd"] == PRICE / NANO_USD, "the log line"
    assert line["usd_charged"] == PRICE / NANO_USD, "the budget's settlement"
    assert dataset.points[-1]["doubles"][2] == PRICE / NANO_USD, "the Analytics Engine point"
    totals = run(request(gw.app, "GET", "/v1/usage", headers=gw.auth)).json()["totals"]
    assert totals["today"]["usd"] == totals["this_month"]["usd"] == PRICE / NANO_USD, "GET /v1/usage"
    assert totals["today"]["reserved_usd"] == 0
    assert PRICE != PRICE_WITHOUT_THE_CACHED_RATE  # so a place that forgets cached tokens fails above
