"""One key's stored responses in SQLite: the `StoredResponses` Durable Object's logic.

Like `TokenLedger`, it is written against a SQLite-backed Durable Object's `ctx.storage.sql`, so
the same class runs in the Durable Object (one per key: a key's responses live in its own
database, so no query can reach another key's), in-process for the local server over Python's
sqlite3, and under tests against the storage doubles. Every method is synchronous: a Durable
Object runs one at a time, and writes with no await between them are committed together.

A response is stored as its object (`responses.body`) and its items, one row each: the items of
its `input`, then those of its `output`. A conversation is the chain of `previous_id` links: the
context of a response is, oldest first, every response's input and output items. Values cross
the RPC boundary as JSON text, so nothing is converted item by item.

Retention: every row carries the time it expires; reads treat an expired response as gone, and
`purge` (run from the Durable Object's alarm, and before each save) deletes them.
"""

from __future__ import annotations

import json
from typing import Any

from .._limits.ledger import SqlStorage, rows_of

__all__ = ["MAX_CHAIN", "ResponseArchive"]

# The most responses a `previous_response_id` chain may hold; longer is refused, not truncated.
MAX_CHAIN = 1000

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS responses (id TEXT PRIMARY KEY, previous_id TEXT, session TEXT,"
    " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS items (response_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL,"
    " kind TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (response_id, seq))",
    "CREATE INDEX IF NOT EXISTS items_by_id ON items (id)",
    "CREATE INDEX IF NOT EXISTS responses_by_expiry ON responses (expires_ms)",
)


class ResponseArchive:
    def __init__(self, sql: SqlStorage) -> None:
        self._sql = sql
        for statement in _SCHEMA:
            sql.exec(statement)

    def save(self, record: str, now_ms: int) -> dict[str, Any]:
        """Store a response: `record` is JSON `{id, previous_id, session, retention_ms, response,
        input, output}`, items as objects with an `id`. Saving an id again replaces it."""
        self.purge(now_ms)
        parsed = json.loads(record)
        response_id = str(parsed["id"])
        self._forget(response_id)
        self._sql.exec(
            "INSERT INTO responses (id, previous_id, session, created_ms, expires_ms, body) VALUES (?, ?, ?, ?, ?, ?)",
            response_id,
            parsed.get("previous_id"),
            parsed.get("session"),
            now_ms,
            now_ms + int(parsed["retention_ms"]),
            json.dumps(parsed["response"], separators=(",", ":")),
        )
        items = [("input", item) for item in parsed["input"]] + [("output", item) for item in parsed["output"]]
        for seq, (kind, item) in enumerate(items):
            self._sql.exec(
                "INSERT INTO items (response_id, seq, id, kind, body) VALUES (?, ?, ?, ?, ?)",
                response_id,
                seq,
                str(item["id"]),
                kind,
                json.dumps(item, separators=(",", ":")),
            )
        return {"saved": True, "items": len(items)}

    def response(self, response_id: str, now_ms: int) -> str | None:
        """The stored response object (JSON), or None when there is none (or it expired)."""
        row = self._live(response_id, now_ms)
        return None if row is None else str(row["body"])

    def delete(self, response_id: str, now_ms: int) -> bool:
        if self._live(response_id, now_ms) is None:
            return False
        self._forget(response_id)
        return True

    def input_page(self, response_id: str, after: str | None, limit: int, order: str, now_ms: int) -> dict[str, Any]:
        """A page of a response's input items (JSON each), in `order` ("asc" or "desc"), after the
        item `after`. `found` is false for no such response, `after_found` for an unknown `after`."""
        if self._live(response_id, now_ms) is None:
            return {"found": False}
        rows = self._items(response_id, "input")
        ids = [str(row["id"]) for row in rows]
        bodies = [str(row["body"]) for row in rows]
        if order == "desc":
            ids.reverse()
            bodies.reverse()
        start = 0
        if after is not None:
            if after not in ids:
                return {"found": True, "after_found": False}
            start = ids.index(after) + 1
        page = bodies[start : start + limit]
        return {"found": True, "after_found": True, "data": page, "has_more": start + limit < len(bodies)}

    def context(self, response_id: str, now_ms: int) -> dict[str, Any]:
        """The conversation a `previous_response_id` continues: every item of the chain, oldest first.

        `found` is false for no such response; `missing` names an earlier response of the chain
        that has expired or been deleted (the conversation can no longer be rebuilt whole).
        """
        chain: list[str] = []
        session = None
        current: str | None = response_id
        while current is not None:
            row = self._live(current, now_ms)
            if row is None:
                return {"found": False} if current == response_id else {"found": True, "missing": current}
            if len(chain) >= MAX_CHAIN:
                return {"found": True, "too_long": MAX_CHAIN}
            chain.append(current)
            session = row["session"]
            current = row["previous_id"]
        items = [str(row["body"]) for link in reversed(chain) for row in self._items(link, None)]
        return {"found": True, "items": items, "session": session}

    def items(self, ids: list[str], now_ms: int) -> dict[str, Any]:
        """The stored items with these ids, by id: `{"body": JSON, "session": ...}` each."""
        found: dict[str, Any] = {}
        for item_id in dict.fromkeys(ids):
            for row in rows_of(self._sql.exec("SELECT response_id, body FROM items WHERE id = ?", item_id)):
                owner = self._live(str(row["response_id"]), now_ms)
                if owner is not None:
                    found[item_id] = {"body": str(row["body"]), "session": owner["session"]}
        return found

    def purge(self, now_ms: int) -> int:
        """Delete every response that has expired, with its items; how many."""
        expired = rows_of(self._sql.exec("SELECT id FROM responses WHERE expires_ms <= ?", now_ms))
        for row in expired:
            self._forget(str(row["id"]))
        return len(expired)

    def next_expiry(self) -> int | None:
        """When the next stored response expires (epoch ms), for the Durable Object's alarm."""
        row = rows_of(self._sql.exec("SELECT MIN(expires_ms) AS next FROM responses"))[0]
        return None if row["next"] is None else int(row["next"])

    def _live(self, response_id: str, now_ms: int) -> dict[str, Any] | None:
        rows = rows_of(
            self._sql.exec(
                "SELECT previous_id, session, expires_ms, body FROM responses WHERE id = ?", str(response_id)
            )
        )
        if not rows or int(rows[0]["expires_ms"]) <= now_ms:
            return None
        return rows[0]

    def _items(self, response_id: str, kind: str | None) -> list[dict[str, Any]]:
        rows = rows_of(self._sql.exec("SELECT seq, id, kind, body FROM items WHERE response_id = ?", response_id))
        rows.sort(key=lambda row: int(row["seq"]))
        return [row for row in rows if kind is None or row["kind"] == kind]

    def _forget(self, response_id: str) -> None:
        self._sql.exec("DELETE FROM items WHERE response_id = ?", response_id)
        self._sql.exec("DELETE FROM responses WHERE id = ?", response_id)
