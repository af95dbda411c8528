"""The TokenBudget Durable Object's logic, against a double of its storage API (`ctx.storage.sql`).

The double (gateway/local/sql.py) is Python's sqlite3 behind the runtime's calls: `exec(query,
*bindings)` returning a cursor with `toArray()`/`one()`/`raw()`; the Durable Object's storage is
SQLite too, so the SQL itself is exercised for real.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

import pytest

from gateway._limits.ledger import DAY_MS, LEASE_TTL_MS, MINUTE_MS, TokenLedger, month_start_ms, rows_of
from gateway.local.sql import SqliteStorageSql

T0 = 1_800_000_000_000  # ms, the start of a minute
LIMITS = {"per_minute": 1000, "per_day": 5000, "max_streams": 2}


def reserve(ledger: TokenLedger, lease: str, tokens: int, now: int, stream: bool = False, **limits: int) -> Any:
    merged = {**LIMITS, **limits}
    return ledger.reserve(lease, tokens, stream, merged["per_minute"], merged["per_day"], merged["max_streams"], now)


@pytest.fixture
def ledger() -> TokenLedger:
    return TokenLedger(SqliteStorageSql())


def test_a_reservation_is_charged_and_reported(ledger: TokenLedger) -> None:
    answer = reserve(ledger, "a", 300, T0 + 15_000)
    assert answer["admitted"] is True
    assert answer["minute"] == {"limit": 1000, "remaining": 700, "reset_ms": 45_000}
    assert answer["day"]["remaining"] == 4700
    assert ledger.snapshot(T0 + 15_000) == {"minute_used": 300, "day_used": 300, "open_leases": 1, "open_streams": 0}


def test_the_minute_refuses_exactly_past_its_limit_and_says_when_it_resets(ledger: TokenLedger) -> None:
    assert reserve(ledger, "a", 600, T0)["admitted"]
    assert reserve(ledger, "b", 400, T0 + 1)["admitted"]  # exactly to the limit
    refused = reserve(ledger, "c", 1, T0 + 20_250)
    assert refused == {
        "admitted": False,
        "reason": "tokens_per_minute",
        "retry_after_ms": 39_750,
        "minute": {"limit": 1000, "remaining": 0, "reset_ms": 39_750},
        "day": {"limit": 5000, "remaining": 4000, "reset_ms": DAY_MS - (T0 % DAY_MS) - 20_250},
        "usd_day": None,  # no dollar budget in these limits
        "usd_month": None,
    }
    assert ledger.snapshot(T0 + 20_250)["open_leases"] == 2  # the refusal charged nothing
    assert reserve(ledger, "c", 1, T0 + MINUTE_MS)["admitted"]  # the new minute has room


def test_the_day_refuses_until_utc_midnight(ledger: TokenLedger) -> None:
    for minute in range(5):
        assert reserve(ledger, f"m{minute}", 1000, T0 + minute * MINUTE_MS)["admitted"]
    refused = reserve(ledger, "late", 10, T0 + 5 * MINUTE_MS)
    midnight = T0 - T0 % DAY_MS + DAY_MS
    assert refused["reason"] == "tokens_per_day"
    assert refused["retry_after_ms"] == midnight - (T0 + 5 * MINUTE_MS)
    assert reserve(ledger, "late", 10, midnight)["admitted"]


def test_a_request_larger_than_the_budget_is_refused_without_a_wait(ledger: TokenLedger) -> None:
    answer = reserve(ledger, "huge", 1001, T0)
    assert answer["admitted"] is False and answer["reason"] == "too_large" and answer["retry_after_ms"] is None


def test_settling_replaces_the_reservation_with_the_real_count(ledger: TokenLedger) -> None:
    reserve(ledger, "a", 800, T0)
    assert ledger.settle("a", 120) == {"settled": True}
    assert ledger.snapshot(T0) == {"minute_used": 120, "day_used": 120, "open_leases": 0, "open_streams": 0}
    assert ledger.settle("a", 120) == {"settled": False}  # settling twice changes nothing
    assert ledger.snapshot(T0)["minute_used"] == 120


def test_a_refund_gives_everything_back(ledger: TokenLedger) -> None:
    reserve(ledger, "a", 800, T0)
    ledger.settle("a", 0)
    assert reserve(ledger, "b", 1000, T0 + 1)["admitted"]


def test_settling_after_the_minute_ended_leaves_the_new_minute_alone(ledger: TokenLedger) -> None:
    reserve(ledger, "a", 800, T0 + 59_000)
    reserve(ledger, "b", 500, T0 + MINUTE_MS + 1)
    ledger.settle("a", 100)
    snapshot = ledger.snapshot(T0 + MINUTE_MS + 2)
    assert snapshot["minute_used"] == 500  # the new minute keeps its own charge
    assert snapshot["day_used"] == 600  # the day still runs: 800 became 100


def test_open_streams_are_capped_and_freed_by_settling(ledger: TokenLedger) -> None:
    assert reserve(ledger, "s1", 10, T0, stream=True)["admitted"]
    assert reserve(ledger, "s2", 10, T0, stream=True)["admitted"]
    refused = reserve(ledger, "s3", 10, T0, stream=True)
    assert refused["reason"] == "streams" and refused["retry_after_ms"] is None
    assert reserve(ledger, "plain", 10, T0)["admitted"]  # the cap is on streams only
    ledger.settle("s1", 5)
    assert reserve(ledger, "s3", 10, T0, stream=True)["admitted"]


def test_a_lease_never_settled_stops_holding_its_stream_after_its_ttl(ledger: TokenLedger) -> None:
    reserve(ledger, "s1", 10, T0, stream=True)
    reserve(ledger, "s2", 10, T0, stream=True)
    assert not reserve(ledger, "s3", 10, T0 + LEASE_TTL_MS - 1, stream=True)["admitted"]
    answer = reserve(ledger, "s3", 10, T0 + LEASE_TTL_MS, stream=True)
    assert answer["admitted"]
    assert ledger.snapshot(T0 + LEASE_TTL_MS)["day_used"] == 30  # expired leases stay charged


def test_a_lease_never_settled_lets_go_of_its_price_with_its_ttl() -> None:
    storage = SqliteStorageSql()
    ledger = TokenLedger(storage)
    ledger.reserve("lost", 10, True, 0, 0, 0, T0, usd=500)
    assert ledger.report(T0 + LEASE_TTL_MS - 1, 0, 0, 0, 0, 0)["today"]["reserved_usd"] == 500
    assert ledger.report(T0 + LEASE_TTL_MS, 0, 0, 0, 0, 0)["today"]["reserved_usd"] == 0  # expired: not open
    ledger.reserve("next", 1, False, 0, 0, 0, T0 + LEASE_TTL_MS)
    assert rows_of(storage.exec("SELECT id FROM lease_costs")) == [], "its row goes with the lease"
    assert ledger.report(T0 + LEASE_TTL_MS, 0, 0, 0, 0, 0)["today"]["usd"] == 500, "the price stays charged"


def test_zero_limits_mean_unlimited(ledger: TokenLedger) -> None:
    for index in range(5):
        assert reserve(ledger, f"s{index}", 10**9, T0, stream=True, per_minute=0, per_day=0, max_streams=0)["admitted"]


def test_state_survives_a_new_ledger_on_the_same_storage() -> None:
    # A Durable Object is rebuilt after eviction; its storage is what remains.
    storage = SqliteStorageSql()
    reserve(TokenLedger(storage), "a", 900, T0)
    assert reserve(TokenLedger(storage), "b", 200, T0 + 1)["reason"] == "tokens_per_minute"


class _JsRow:
    def __init__(self, row: dict[str, Any]) -> None:
        self._row = row

    def to_py(self) -> dict[str, Any]:
        return self._row


class _JsCursor:
    def toArray(self) -> list[_JsRow]:
        return [_JsRow({"n": 3})]


def test_rows_read_js_proxies_as_well_as_converted_dicts() -> None:
    assert rows_of(_JsCursor()) == [{"n": 3}]
    assert rows_of(SqliteStorageSql().exec("SELECT 3 AS n")) == [{"n": 3}]


def test_the_storage_double_answers_like_the_runtime() -> None:
    sql = SqliteStorageSql()
    sql.exec("CREATE TABLE t (a INTEGER, b TEXT)")
    written = sql.exec("INSERT INTO t VALUES (?, ?), (?, ?)", 1, "x", 2, "y")
    assert written.rowsWritten == 2
    cursor = sql.exec("SELECT a, b FROM t ORDER BY a")
    assert cursor.columnNames == ["a", "b"] and cursor.toArray() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert list(sql.exec("SELECT a, b FROM t").raw()) == [[1, "x"], [2, "y"]]
    with pytest.raises(ValueError, match="exactly one"):
        sql.exec("SELECT a FROM t").one()


class _Storage:
    def __init__(self) -> None:
        self.sql = SqliteStorageSql()


def test_the_durable_object_class_serves_the_ledger_over_its_rpc_methods(monkeypatch: pytest.MonkeyPatch) -> None:
    # The SDK's `workers` module needs the Workers runtime; a stand-in with its DurableObject
    # base class (constructed as Cls(ctx, env)) lets the class itself run here.
    fake = types.ModuleType("workers")

    class DurableObject:
        def __init__(self, ctx: Any, env: Any) -> None:
            self.ctx, self.env = ctx, env

    fake.DurableObject = DurableObject  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "workers", fake)
    monkeypatch.delitem(sys.modules, "gateway.durable", raising=False)
    durable = importlib.import_module("gateway.durable")
    budget = durable.TokenBudget(types.SimpleNamespace(storage=_Storage()), types.SimpleNamespace())
    import asyncio

    first = asyncio.run(budget.reserve("lease-1", 60, False, 100, 0, 0))
    second = asyncio.run(budget.reserve("lease-2", 60, False, 100, 0, 0))
    assert first["admitted"] is True and second["reason"] == "tokens_per_minute"
    assert asyncio.run(budget.settle("lease-1", 10)) == {"settled": True}
    assert asyncio.run(budget.reserve("lease-2", 60, False, 100, 0, 0))["admitted"] is True
    # Dollars ride along as trailing whole nano-dollars; the report reads without charging.
    priced = asyncio.run(budget.reserve("lease-3", 5, False, 100, 0, 0, 700, 1000, 0))
    assert priced["admitted"] is True and priced["usd_day"]["remaining"] == 300
    assert asyncio.run(budget.settle("lease-3", 5, 250)) == {"settled": True}
    report = asyncio.run(budget.report(100, 0, 0, 1000, 0))
    assert report["usd_day"]["remaining"] == 750 and report["today"]["usd"] == 250
    assert report["today"]["tokens"] == 10 + 60 + 5 and report["today"]["reserved_tokens"] == 60
    monkeypatch.delitem(sys.modules, "gateway.durable")


# --- dollars (nano-dollars in the ledger) and what a key can see of itself -------------

MONTH_START = 1_798_761_600_000  # 2027-01-01T00:00:00Z, the month T0 is in
NEXT_MONTH = 1_801_440_000_000  # 2027-02-01T00:00:00Z
USD = 1_000_000_000  # one dollar in nano-dollars


@pytest.mark.parametrize(
    ("now_ms", "start_ms"),
    [(T0, MONTH_START), (MONTH_START, MONTH_START), (MONTH_START - 1, 1_796_083_200_000)],  # Dec 2026
)
def test_months_are_utc_calendar_months(now_ms: int, start_ms: int) -> None:
    assert month_start_ms(now_ms) == start_ms


def dollars(ledger: TokenLedger, lease: str, usd: int, now: int, **limits: int) -> Any:
    return ledger.reserve(lease, 10, False, 0, 0, 0, now, usd=usd, **limits)


def test_a_day_of_dollars_refuses_past_its_limit_until_utc_midnight(ledger: TokenLedger) -> None:
    assert dollars(ledger, "a", 3 * USD, T0, usd_per_day=5 * USD)["admitted"]
    refused = dollars(ledger, "b", 2 * USD + 1, T0 + 1000, usd_per_day=5 * USD)
    midnight = T0 - T0 % DAY_MS + DAY_MS
    assert refused["reason"] == "usd_per_day" and refused["retry_after_ms"] == midnight - T0 - 1000
    assert refused["usd_day"] == {"limit": 5 * USD, "remaining": 2 * USD, "reset_ms": midnight - T0 - 1000}
    assert dollars(ledger, "b", 2 * USD, T0 + 1000, usd_per_day=5 * USD)["admitted"]  # exactly to the limit
    assert dollars(ledger, "c", 1, midnight, usd_per_day=5 * USD)["admitted"]


def test_a_month_of_dollars_spans_days_and_refuses_until_the_next_month(ledger: TokenLedger) -> None:
    limits = {"usd_per_day": 4 * USD, "usd_per_month": 6 * USD}
    assert dollars(ledger, "a", 4 * USD, T0, **limits)["admitted"]
    assert dollars(ledger, "b", 2 * USD, T0 + DAY_MS, **limits)["admitted"]  # a new day, the same month
    refused = dollars(ledger, "c", 1, T0 + DAY_MS + 5, **limits)
    assert refused["reason"] == "usd_per_month"  # the month decides: waiting for midnight would not help
    assert refused["retry_after_ms"] == NEXT_MONTH - (T0 + DAY_MS + 5)
    assert dollars(ledger, "c", 1, NEXT_MONTH, **limits)["admitted"]


def test_a_price_larger_than_the_dollar_budget_is_refused_without_a_wait(ledger: TokenLedger) -> None:
    answer = dollars(ledger, "huge", USD + 1, T0, usd_per_day=USD)
    assert answer["reason"] == "usd_too_large" and answer["retry_after_ms"] is None


def test_settling_replaces_the_reserved_price_with_the_real_one() -> None:
    storage = SqliteStorageSql()
    ledger = TokenLedger(storage)
    dollars(ledger, "a", 3 * USD, T0, usd_per_day=5 * USD)
    assert rows_of(storage.exec("SELECT id, usd FROM lease_costs")) == [{"id": "a", "usd": 3 * USD}]
    assert ledger.settle("a", 7, usd=USD // 2) == {"settled": True}
    report = ledger.report(T0 + 1, 0, 0, 0, 5 * USD, 0)
    assert report["usd_day"]["remaining"] == 5 * USD - USD // 2
    assert report["today"] == {
        "start_ms": T0 - T0 % DAY_MS,
        "tokens": 7,
        "usd": USD // 2,
        "reserved_tokens": 0,
        "reserved_usd": 0,
    }
    assert rows_of(storage.exec("SELECT id FROM lease_costs")) == [], "the lease's price is gone with the lease"


def test_the_report_shows_open_reservations_apart_and_changes_nothing(ledger: TokenLedger) -> None:
    reserve(ledger, "done", 100, T0)
    ledger.settle("done", 40, 120)
    ledger.reserve("open", 300, True, 1000, 5000, 2, T0 + 5, usd=900)
    before = ledger.snapshot(T0 + 10)
    report = ledger.report(T0 + 10, 1000, 5000, 2, 0, 0)
    assert ledger.snapshot(T0 + 10) == before
    assert report["minute"] == {"limit": 1000, "remaining": 660, "reset_ms": MINUTE_MS - 10}
    assert report["day"]["remaining"] == 4660 and report["usd_day"] is None and report["usd_month"] is None
    assert report["streams"] == {"limit": 2, "open": 1, "remaining": 1}
    assert report["today"]["tokens"] == 340 and report["today"]["reserved_tokens"] == 300
    assert report["today"]["usd"] == 1020 and report["today"]["reserved_usd"] == 900
    assert report["this_month"] == {**report["today"], "start_ms": MONTH_START}


def test_the_month_total_keeps_what_earlier_days_charged(ledger: TokenLedger) -> None:
    dollars(ledger, "a", 500, T0)
    ledger.settle("a", 10, 200)
    dollars(ledger, "b", 500, T0 + DAY_MS)
    ledger.settle("b", 10, 300)
    report = ledger.report(T0 + DAY_MS + 1, 0, 0, 0, 0, 0)
    assert (report["today"]["usd"], report["this_month"]["usd"]) == (300, 500)
    assert (report["today"]["tokens"], report["this_month"]["tokens"]) == (10, 20)
    assert report["streams"] == {"limit": None, "open": 0, "remaining": None}
