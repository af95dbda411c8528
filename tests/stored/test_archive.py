"""The stored-response archive (the Durable Object's logic) over sqlite3: chains, pages, items, expiry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._stored import archive as archive_module
from gateway._stored.archive import ResponseArchive
from gateway.local.sql import SqliteStorageSql

DAY_MS = 86_400_000


def _record(response_id: str, previous: str | None = None, inputs: int = 1, retention_ms: int = DAY_MS) -> str:
    items = [
        {"id": f"msg_{response_id}_{n}", "type": "message", "role": "user", "content": f"in {n}"} for n in range(inputs)
    ]
    output = [{"id": f"out_{response_id}", "type": "message", "role": "assistant", "content": "answer"}]
    return json.dumps(
        {
            "id": response_id,
            "previous_id": previous,
            "session": f"session-of-{previous or response_id}",
            "retention_ms": retention_ms,
            "response": {"id": response_id, "output": output},
            "input": items,
            "output": output,
        }
    )


@pytest.fixture
def archive() -> ResponseArchive:
    return ResponseArchive(SqliteStorageSql())


def test_a_saved_response_reads_back_and_saving_again_replaces_it(archive: ResponseArchive) -> None:
    archive.save(_record("r1"), 0)
    assert json.loads(archive.response("r1", 1) or "")["id"] == "r1"
    archive.save(_record("r1", inputs=3), 0)
    assert len(archive.input_page("r1", None, 100, "asc", 1)["data"]) == 3
    assert archive.response("nope", 1) is None


def test_a_chain_is_its_items_oldest_first(archive: ResponseArchive) -> None:
    archive.save(_record("r1"), 0)
    archive.save(_record("r2", previous="r1", inputs=2), 10)
    context = archive.context("r2", 20)
    bodies = [json.loads(item) for item in context["items"]]
    assert [item["id"] for item in bodies] == ["msg_r1_0", "out_r1", "msg_r2_0", "msg_r2_1", "out_r2"]
    assert context["session"] == "session-of-r1"
    assert archive.context("r3", 20) == {"found": False}


def test_a_chain_with_a_lost_link_says_which(archive: ResponseArchive, monkeypatch: pytest.MonkeyPatch) -> None:
    archive.save(_record("r1"), 0)
    archive.save(_record("r2", previous="r1"), 0)
    archive.save(_record("r3", previous="r2"), 0)
    assert archive.delete("r1", 1)
    assert archive.context("r3", 1) == {"found": True, "missing": "r1"}
    monkeypatch.setattr(archive_module, "MAX_CHAIN", 1)
    assert archive.context("r3", 1) == {"found": True, "too_long": 1}


@pytest.mark.parametrize(
    ("after", "limit", "order", "expected", "more"),
    [
        (None, 20, "desc", [4, 3, 2, 1, 0], False),
        (None, 2, "asc", [0, 1], True),
        ("msg_r_1", 2, "asc", [2, 3], True),
        ("msg_r_3", 2, "asc", [4], False),
        ("msg_r_3", 5, "desc", [2, 1, 0], False),
    ],
)
def test_input_pages(
    archive: ResponseArchive, after: str | None, limit: int, order: str, expected: list[int], more: bool
) -> None:
    archive.save(_record("r", inputs=5), 0)
    page = archive.input_page("r", after, limit, order, 1)
    assert [json.loads(item)["id"] for item in page["data"]] == [f"msg_r_{n}" for n in expected]
    assert page["has_more"] is more
    assert archive.input_page("r", "out_r", 2, "asc", 1) == {"found": True, "after_found": False}


def test_items_by_id_come_with_their_session(archive: ResponseArchive) -> None:
    archive.save(_record("r1"), 0)
    found: dict[str, Any] = archive.items(["out_r1", "msg_r1_0", "missing", "out_r1"], 1)
    assert set(found) == {"out_r1", "msg_r1_0"}
    assert json.loads(found["out_r1"]["body"])["role"] == "assistant"
    assert found["out_r1"]["session"] == "session-of-r1"


def test_expired_responses_are_gone_to_reads_and_purged(archive: ResponseArchive) -> None:
    archive.save(_record("old", retention_ms=100), 0)
    archive.save(_record("new", retention_ms=1000), 0)
    assert archive.next_expiry() == 100
    assert archive.response("old", 100) is None and archive.items(["out_old"], 100) == {}
    assert archive.delete("old", 100) is False
    assert archive.purge(100) == 1
    assert archive.next_expiry() == 1000
    rows = archive._sql.exec("SELECT COUNT(*) AS n FROM items WHERE response_id = ?", "old").toArray()  # type: ignore[attr-defined]
    assert rows == [{"n": 0}], "its items went with it"
    archive.save(_record("later"), 2000)  # every save purges first
    assert archive.response("new", 2000) is None and archive.next_expiry() == 2000 + DAY_MS
