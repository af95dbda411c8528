"""One key's budget (tokens, US dollars) and open streams, kept in SQLite: the Durable Object's logic.

It is written against the SQL API of a SQLite-backed Durable Object (`ctx.storage.sql.exec(query,
*bindings)` returning a cursor with `toArray()`), so the same class runs inside the `TokenBudget`
Durable Object (src/entry.py), in-process for the local server and tests (over Python's sqlite3,
gateway/local/sql.py), and against that storage double in the tests.

Exactness: a Durable Object handles one call at a time and every method here is synchronous
(no await between reading and writing), so two reservations can never both see the same room.
A reservation charges the request's maximum possible tokens (and its maximum price, in
nano-dollars) to the current windows before the model is called; settling swaps that for the real
count. The windows are fixed and aligned to UTC minutes, days and calendar months, so "when would
this fit" has an exact answer: the end of the window that is full.

Windows (rows of `windows`, by name): `minute`, `day` and `month` count tokens; `usd_day` and
`usd_month` count nano-dollars (10^-9 USD: every price per million tokens with up to three decimals
is a whole number of them per token, so sums are exact). Each is charged whatever limits apply,
so the day's and the month's rows are also the key's totals.

Limits of 0 mean "not limited" (RPC carries plain numbers).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

__all__ = ["DAY_MS", "LEASE_TTL_MS", "MINUTE_MS", "SqlStorage", "TokenLedger", "month_start_ms", "rows_of"]

MINUTE_MS = 60_000
DAY_MS = 86_400_000
# A lease whose request never settled (its isolate died) stops holding a stream slot after this;
# its tokens stay charged to their windows. Longer than the longest upstream timeout (900 s).
LEASE_TTL_MS = 15 * MINUTE_MS

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS windows (name TEXT PRIMARY KEY, start INTEGER NOT NULL, used INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, tokens INTEGER NOT NULL, minute_start INTEGER NOT NULL,"
    " day_start INTEGER NOT NULL, stream INTEGER NOT NULL, expires INTEGER NOT NULL)",
    # A lease's reserved price, in its own table: objects made before dollars were counted have
    # a `leases` table without the column, and a new table needs no migration.
    "CREATE TABLE IF NOT EXISTS lease_costs (id TEXT PRIMARY KEY, usd INTEGER NOT NULL, expires INTEGER NOT NULL)",
)
# Which windows a limit applies to, in the order a refusal is decided: the longest wait first, so
# a request that cannot fit until next month is not told to come back next minute.
_LIMITED = (
    ("usd_month", "usd_per_month"),
    ("usd_day", "usd_per_day"),
    ("day", "tokens_per_day"),
    ("minute", "tokens_per_minute"),
)


def month_start_ms(now_ms: int) -> int:
    """The start of the UTC calendar month that `now_ms` is in."""
    moment = datetime.fromtimestamp(now_ms // 1000, UTC)
    return int(datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp()) * 1000


def _next_month_ms(start_ms: int) -> int:
    return month_start_ms(start_ms + 32 * DAY_MS)


def _bounds(now_ms: int) -> dict[str, tuple[int, int]]:
    """(start, end) of each window that `now_ms` is in."""
    minute, day, month = now_ms - now_ms % MINUTE_MS, now_ms - now_ms % DAY_MS, month_start_ms(now_ms)
    days, months = (day, day + DAY_MS), (month, _next_month_ms(month))
    return {"minute": (minute, minute + MINUTE_MS), "day": days, "month": months, "usd_day": days, "usd_month": months}


class SqlStorage(Protocol):
    """The part of a Durable Object's `ctx.storage.sql` this uses."""

    def exec(self, query: str, *bindings: Any) -> Any: ...


def rows_of(cursor: Any) -> list[dict[str, Any]]:
    """A cursor's rows as dicts, whether the SDK converted them already or they are JS proxies."""
    rows = cursor.toArray()
    if hasattr(rows, "to_py"):
        rows = rows.to_py()
    return [dict(row) if isinstance(row, dict) else dict(row.to_py()) for row in rows]


def _window(limit: int, used: int, end_ms: int, now_ms: int) -> dict[str, int] | None:
    if limit <= 0:
        return None
    return {"limit": limit, "remaining": max(0, limit - used), "reset_ms": end_ms - now_ms}


class TokenLedger:
    def __init__(self, sql: SqlStorage) -> None:
        self._sql = sql
        for statement in _SCHEMA:
            sql.exec(statement)

    def reserve(
        self,
        lease_id: str,
        tokens: int,
        stream: bool,
        per_minute: int,
        per_day: int,
        max_streams: int,
        now_ms: int,
        *,
        usd: int = 0,
        usd_per_day: int = 0,
        usd_per_month: int = 0,
    ) -> dict[str, Any]:
        """Charge `tokens` (and `usd` nano-dollars) now if every limited window has room (and a
        stream slot, for a stream)."""
        self._expire(now_ms)
        bounds = _bounds(now_ms)
        used = self._used_now(bounds)
        limits = {"minute": per_minute, "day": per_day, "usd_day": usd_per_day, "usd_month": usd_per_month}
        charges = {"minute": tokens, "day": tokens, "month": tokens, "usd_day": usd, "usd_month": usd}

        def verdict(admitted: bool, reason: str | None = None, retry_after_ms: int | None = None) -> dict[str, Any]:
            windows = {name: _window(limit, used[name], bounds[name][1], now_ms) for name, limit in limits.items()}
            return {"admitted": admitted, "reason": reason, "retry_after_ms": retry_after_ms, **windows}

        if (per_minute > 0 and tokens > per_minute) or (per_day > 0 and tokens > per_day):
            return verdict(False, "too_large")
        if (usd_per_day > 0 and usd > usd_per_day) or (usd_per_month > 0 and usd > usd_per_month):
            return verdict(False, "usd_too_large")
        if stream and max_streams > 0 and self._open_streams() >= max_streams:
            return verdict(False, "streams")
        for name, reason in _LIMITED:
            if limits[name] > 0 and used[name] + charges[name] > limits[name]:
                return verdict(False, reason, bounds[name][1] - now_ms)
        for name, charge in charges.items():
            used[name] += charge
            self._store(name, bounds[name][0], used[name])
        self._sql.exec(
            "INSERT OR REPLACE INTO leases (id, tokens, minute_start, day_start, stream, expires)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            lease_id,
            tokens,
            bounds["minute"][0],
            bounds["day"][0],
            1 if stream else 0,
            now_ms + LEASE_TTL_MS,
        )
        if usd:
            self._sql.exec(
                "INSERT OR REPLACE INTO lease_costs (id, usd, expires) VALUES (?, ?, ?)",
                lease_id,
                usd,
                now_ms + LEASE_TTL_MS,
            )
        return verdict(True)

    def settle(self, lease_id: str, tokens: int, usd: int = 0) -> dict[str, Any]:
        """Replace a lease's reserved tokens and price with `tokens` and `usd`, in the windows it was
        charged to.

        A window that has ended since is left alone: it was charged the maximum while it ran.
        """
        leases = rows_of(self._sql.exec("SELECT tokens, minute_start, day_start FROM leases WHERE id = ?", lease_id))
        if not leases:
            return {"settled": False}
        lease = leases[0]
        costs = rows_of(self._sql.exec("SELECT usd FROM lease_costs WHERE id = ?", lease_id))
        token_delta = tokens - int(lease["tokens"])
        usd_delta = usd - (int(costs[0]["usd"]) if costs else 0)
        day, month = int(lease["day_start"]), month_start_ms(int(lease["day_start"]))
        changes = (
            ("minute", int(lease["minute_start"]), token_delta),
            ("day", day, token_delta),
            ("month", month, token_delta),
            ("usd_day", day, usd_delta),
            ("usd_month", month, usd_delta),
        )
        for name, start, delta in changes:
            if delta:
                self._sql.exec(
                    "UPDATE windows SET used = MAX(0, used + ?) WHERE name = ? AND start = ?", delta, name, start
                )
        self._sql.exec("DELETE FROM leases WHERE id = ?", lease_id)
        if costs:
            self._sql.exec("DELETE FROM lease_costs WHERE id = ?", lease_id)
        return {"settled": True}

    def report(
        self, now_ms: int, per_minute: int, per_day: int, max_streams: int, usd_per_day: int, usd_per_month: int
    ) -> dict[str, Any]:
        """What the key has left in each window and has spent today and this month; changes nothing.

        Totals are what the windows hold: settled charges plus the reservations still open (shown
        apart as `reserved_*`, so that once nothing is open the totals are exactly what was charged).
        """
        bounds = _bounds(now_ms)
        used = self._used_now(bounds)
        leases = [row for row in self._leases() if int(row["expires"]) > now_ms]
        limits = {"minute": per_minute, "day": per_day, "usd_day": usd_per_day, "usd_month": usd_per_month}
        windows = {name: _window(limit, used[name], bounds[name][1], now_ms) for name, limit in limits.items()}
        today = [lease for lease in leases if lease["day_start"] == bounds["day"][0]]
        this_month = [lease for lease in leases if lease["month_start"] == bounds["month"][0]]
        return {
            **windows,
            "streams": _streams(max_streams, sum(int(lease["stream"]) for lease in leases)),
            "today": _total(used, "day", "usd_day", bounds, today),
            "this_month": _total(used, "month", "usd_month", bounds, this_month),
        }

    def snapshot(self, now_ms: int) -> dict[str, int]:
        """What is charged now and what is open: for tests, and an operator's look at a key."""
        leases = rows_of(self._sql.exec("SELECT COUNT(*) AS n, COALESCE(SUM(stream), 0) AS streams FROM leases"))[0]
        used = self._used_now(_bounds(now_ms))
        return {
            "minute_used": used["minute"],
            "day_used": used["day"],
            "open_leases": int(leases["n"]),
            "open_streams": int(leases["streams"]),
        }

    def _used_now(self, bounds: dict[str, tuple[int, int]]) -> dict[str, int]:
        """Every window's use now, in one read: a row whose start is not the window's is an ended one."""
        rows = rows_of(self._sql.exec("SELECT name, start, used FROM windows"))
        stored = {str(row["name"]): (int(row["start"]), int(row["used"])) for row in rows}
        return {name: _current(stored.get(name), start) for name, (start, _) in bounds.items()}

    def _leases(self) -> list[dict[str, Any]]:
        """The open leases, each with its reserved price and the month it was charged to."""
        leases = rows_of(self._sql.exec("SELECT id, tokens, day_start, stream, expires FROM leases"))
        costs = {str(row["id"]): int(row["usd"]) for row in rows_of(self._sql.exec("SELECT id, usd FROM lease_costs"))}
        for lease in leases:
            lease["usd"] = costs.get(str(lease["id"]), 0)
            lease["month_start"] = month_start_ms(int(lease["day_start"]))
        return leases

    def _expire(self, now_ms: int) -> None:
        self._sql.exec("DELETE FROM leases WHERE expires <= ?", now_ms)
        self._sql.exec("DELETE FROM lease_costs WHERE expires <= ?", now_ms)

    def _store(self, name: str, start: int, used: int) -> None:
        self._sql.exec("INSERT OR REPLACE INTO windows (name, start, used) VALUES (?, ?, ?)", name, start, used)

    def _open_streams(self) -> int:
        return int(rows_of(self._sql.exec("SELECT COUNT(*) AS n FROM leases WHERE stream = 1"))[0]["n"])


def _current(row: tuple[int, int] | None, start: int) -> int:
    if row is None or row[0] != start:
        return 0  # a new window: whatever the last one used has rolled off
    return row[1]


def _streams(limit: int, open_streams: int) -> dict[str, int | None]:
    if limit <= 0:
        return {"limit": None, "open": open_streams, "remaining": None}
    return {"limit": limit, "open": open_streams, "remaining": max(0, limit - open_streams)}


def _total(
    used: dict[str, int], tokens: str, usd: str, bounds: dict[str, tuple[int, int]], open_leases: list[dict[str, Any]]
) -> dict[str, int]:
    return {
        "start_ms": bounds[tokens][0],
        "tokens": used[tokens],
        "usd": used[usd],
        "reserved_tokens": sum(int(lease["tokens"]) for lease in open_leases),
        "reserved_usd": sum(int(lease["usd"]) for lease in open_leases),
    }
