"""One key's token budget and open streams, kept in SQLite: the Durable Object's logic.

It is written against the SQL API of a SQLite-backed Durable Object (`ctx.storage.sql.exec(query,
*bindings)` returning a cursor with `toArray()`), so the same class runs inside the `TokenBudget`
Durable Object (src/entry.py), in-process for the local server and tests (over Python's sqlite3,
gateway/local/sql.py), and against that storage double in the tests.

Exactness: a Durable Object handles one call at a time and every method here is synchronous
(no await between reading and writing), so two reservations can never both see the same room.
A reservation charges the request's maximum possible tokens to the current minute and day windows
before the model is called; settling swaps that for the real count. The windows are fixed and
aligned to UTC minutes and days, so "when would this fit" has an exact answer: the end of the
window that is full.

Limits of 0 mean "not limited" (RPC carries plain numbers).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["DAY_MS", "LEASE_TTL_MS", "MINUTE_MS", "SqlStorage", "TokenLedger", "rows_of"]

MINUTE_MS = 60_000
DAY_MS = 86_400_000
# A lease whose request never settled (its isolate died) stops holding a stream slot after this;
# its tokens stay charged to their windows. Longer than the longest upstream timeout (900 s).
LEASE_TTL_MS = 15 * MINUTE_MS

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS windows (name TEXT PRIMARY KEY, start INTEGER NOT NULL, used INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS leases (id TEXT PRIMARY KEY, tokens INTEGER NOT NULL, minute_start INTEGER NOT NULL,"
    " day_start INTEGER NOT NULL, stream INTEGER NOT NULL, expires INTEGER NOT NULL)",
)


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
        self, lease_id: str, tokens: int, stream: bool, per_minute: int, per_day: int, max_streams: int, now_ms: int
    ) -> dict[str, Any]:
        """Charge `tokens` now if both windows have room (and a stream slot, for a stream)."""
        self._sql.exec("DELETE FROM leases WHERE expires <= ?", now_ms)
        minute_start, day_start = now_ms - now_ms % MINUTE_MS, now_ms - now_ms % DAY_MS
        minute_used = self._used("minute", minute_start)
        day_used = self._used("day", day_start)

        def verdict(admitted: bool, reason: str | None = None, retry_after_ms: int | None = None) -> dict[str, Any]:
            return {
                "admitted": admitted,
                "reason": reason,
                "retry_after_ms": retry_after_ms,
                "minute": _window(per_minute, minute_used, minute_start + MINUTE_MS, now_ms),
                "day": _window(per_day, day_used, day_start + DAY_MS, now_ms),
            }

        if (per_minute > 0 and tokens > per_minute) or (per_day > 0 and tokens > per_day):
            return verdict(False, "too_large")
        if stream and max_streams > 0 and self._open_streams() >= max_streams:
            return verdict(False, "streams")
        if per_day > 0 and day_used + tokens > per_day:
            return verdict(False, "tokens_per_day", day_start + DAY_MS - now_ms)
        if per_minute > 0 and minute_used + tokens > per_minute:
            return verdict(False, "tokens_per_minute", minute_start + MINUTE_MS - now_ms)
        minute_used += tokens
        day_used += tokens
        self._store("minute", minute_start, minute_used)
        self._store("day", day_start, day_used)
        self._sql.exec(
            "INSERT OR REPLACE INTO leases (id, tokens, minute_start, day_start, stream, expires)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            lease_id,
            tokens,
            minute_start,
            day_start,
            1 if stream else 0,
            now_ms + LEASE_TTL_MS,
        )
        return verdict(True)

    def settle(self, lease_id: str, tokens: int) -> dict[str, Any]:
        """Replace a lease's reserved tokens with `tokens`, in the windows it was charged to.

        A window that has ended since is left alone: it was charged the maximum while it ran.
        """
        leases = rows_of(self._sql.exec("SELECT tokens, minute_start, day_start FROM leases WHERE id = ?", lease_id))
        if not leases:
            return {"settled": False}
        lease = leases[0]
        delta = tokens - int(lease["tokens"])
        for name, start in (("minute", int(lease["minute_start"])), ("day", int(lease["day_start"]))):
            self._sql.exec(
                "UPDATE windows SET used = MAX(0, used + ?) WHERE name = ? AND start = ?", delta, name, start
            )
        self._sql.exec("DELETE FROM leases WHERE id = ?", lease_id)
        return {"settled": True}

    def snapshot(self, now_ms: int) -> dict[str, int]:
        """What is charged now and what is open: for tests, and an operator's look at a key."""
        leases = rows_of(self._sql.exec("SELECT COUNT(*) AS n, COALESCE(SUM(stream), 0) AS streams FROM leases"))[0]
        return {
            "minute_used": self._used("minute", now_ms - now_ms % MINUTE_MS),
            "day_used": self._used("day", now_ms - now_ms % DAY_MS),
            "open_leases": int(leases["n"]),
            "open_streams": int(leases["streams"]),
        }

    def _used(self, name: str, start: int) -> int:
        rows = rows_of(self._sql.exec("SELECT start, used FROM windows WHERE name = ?", name))
        if not rows or int(rows[0]["start"]) != start:
            return 0  # a new window: whatever the last one used has rolled off
        return int(rows[0]["used"])

    def _store(self, name: str, start: int, used: int) -> None:
        self._sql.exec("INSERT OR REPLACE INTO windows (name, start, used) VALUES (?, ?, ?)", name, start, used)

    def _open_streams(self) -> int:
        return int(rows_of(self._sql.exec("SELECT COUNT(*) AS n FROM leases WHERE stream = 1"))[0]["n"])
