"""A Durable Object's `ctx.storage.sql`, over Python's sqlite3: same calls, same answers.

`exec(query, *bindings)` runs one statement and returns a cursor with `toArray()`, `one()`,
`raw()`, iteration, `columnNames`, `rowsRead` and `rowsWritten`, as the Workers runtime's
SqlStorageCursor does. Each call commits, as each `exec` outside a transaction does in a
Durable Object. The in-process token budgets run on it, and tests use it as the storage double.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

__all__ = ["SqlCursor", "SqliteStorageSql"]


class SqlCursor:
    def __init__(self, columns: list[str], rows: list[tuple[Any, ...]], rows_written: int) -> None:
        self.columnNames = columns
        self._rows = rows
        self.rowsRead = len(rows)
        self.rowsWritten = rows_written

    def toArray(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columnNames, row, strict=True)) for row in self._rows]

    def one(self) -> dict[str, Any]:
        rows = self.toArray()
        if len(rows) != 1:
            # The runtime throws when a query does not return exactly one row.
            raise ValueError(f"Expected exactly one result from SQL query, but got {len(rows)}.")
        return rows[0]

    def raw(self) -> Iterator[list[Any]]:
        return (list(row) for row in self._rows)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.toArray())


class SqliteStorageSql:
    def __init__(self, path: str = ":memory:") -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self.statements: list[str] = []  # what ran, for tests to inspect

    def exec(self, query: str, *bindings: Any) -> SqlCursor:
        self.statements.append(query)
        before = self._db.total_changes
        cursor = self._db.execute(query, bindings)
        rows = cursor.fetchall()
        columns = [column[0] for column in cursor.description or ()]
        return SqlCursor(columns, rows, self._db.total_changes - before)

    @property
    def databaseSize(self) -> int:
        page_count = self._db.execute("PRAGMA page_count").fetchone()[0]
        page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
        return int(page_count) * int(page_size)
