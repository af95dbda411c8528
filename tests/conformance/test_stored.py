"""Stored responses (issue 9) inside real Pyodide: the `StoredResponses` Durable Object, its real
Python class constructed in Pyodide over the `ctx.storage.sql` double, reached over RPC with
plain values; chains, item references, retrieve, delete, input items, another key's 404, a store
that fails, the retention alarm, and encrypted reasoning sealed and opened with Pyodide's SHA-256.

Ids the Worker makes are named in later requests as `{{earlier.N.path}}` (harness.mjs).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from ._cases import (
    Case,
    CaseBook,
    HttpRequest,
    Outcome,
    PyodideRun,
    answer_json,
    answer_stream,
    durable_object,
    durable_object_failing,
    get,
    post_json,
    sse,
)
from ._figures import AUTH, GATEWAY_ENV, TEST_KEY

KEY_ID = hashlib.sha256(TEST_KEY.encode()).hexdigest()
OTHER_KEY = "gw-conformance-other-key"
OTHER_ID = hashlib.sha256(OTHER_KEY.encode()).hexdigest()
OTHER_AUTH = {"authorization": f"Bearer {OTHER_KEY}"}
TWO_KEYS = json.dumps([{"name": "conformance", "sha256": KEY_ID}, {"name": "other", "sha256": OTHER_ID}])
SECRET = "a-conformance-reasoning-secret-0123456789"
STORE = {"STORED_RESPONSES": durable_object("StoredResponses")}
METHODS = ("save", "response", "delete", "input_page", "context", "items", "alarm")
DAY_MS = 86_400_000

book = CaseBook(app="gateway", env={**GATEWAY_ENV, "GATEWAY_KEYS": TWO_KEYS}, durable_objects=STORE)


def create(body: dict[str, Any], headers: dict[str, str] | None = None) -> HttpRequest:
    return post_json("/v1/responses", {"model": "gpt-oss-120b", **body}, AUTH if headers is None else headers)


def delete(path: str, headers: dict[str, str] | None = None) -> HttpRequest:
    return HttpRequest("DELETE", path, AUTH if headers is None else headers)


def chat_answer(text: str, reasoning: str = "Thinking it over.") -> dict[str, Any]:
    message = {"role": "assistant", "content": text, "reasoning_content": reasoning}
    return answer_json(
        {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 6, "total_tokens": 18},
        }
    )


def call_answer() -> dict[str, Any]:
    call = {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}
    message = {"role": "assistant", "content": None, "reasoning_content": "I need the weather.", "tool_calls": [call]}
    return answer_json(
        {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29},
        }
    )


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def store_of(outcome: Outcome) -> Any:
    return outcome.durable_objects["STORED_RESPONSES"]


@book.case(
    earlier=[create({"input": "Remember Ada."})],
    request=get("/v1/responses/{{earlier.0.id}}", AUTH),
    ai=[chat_answer("Noted, Ada.")],
)
def a_response_is_stored_in_its_keys_object_and_retrieved(outcome: Outcome) -> None:
    outcome.assert_served()
    created = outcome.earlier[0].json()
    assert created["store"] is True and outcome.earlier[0].status == 200
    assert outcome.status == 200 and outcome.json() == created
    store = store_of(outcome)
    assert set(store.names) == {KEY_ID}, "the key's own object, named by its hash"
    assert [call.method for call in store.calls] == ["save", "response"]
    assert all(call.non_plain == [] and call.error is None for call in store.calls)
    (tables,) = store.tables.values()
    assert [row["id"] for row in tables["responses"]] == [created["id"]]
    assert sorted(row["kind"] for row in tables["items"]) == ["input", "output", "output"]
    (alarms,) = store.alarms.values()
    expires = tables["responses"][0]["expires_ms"]
    assert alarms == [expires] and expires - tables["responses"][0]["created_ms"] == 30 * DAY_MS
    assert outcome.log_records()[0]["stored"] is True


@book.case(
    earlier=[create({"input": "My name is Ada."})],
    request=create({"input": "What is my name?", "previous_response_id": "{{earlier.0.id}}"}),
    ai=[chat_answer("Noted."), chat_answer("Ada.")],
)
def previous_response_id_sends_the_stored_conversation(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200, outcome.body
    assert outcome.json()["previous_response_id"] == outcome.earlier[0].json()["id"]
    messages = outcome.ai_calls[1].inputs["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "My name is Ada."),
        ("assistant", "Noted."),
        ("user", "What is my name?"),
    ]
    first, second = (call.options["extraHeaders"]["x-session-affinity"] for call in outcome.ai_calls)
    assert first == second and first.startswith("ses_"), "one chain, one session"
    assert [call.method for call in store_of(outcome).calls] == ["save", "context", "save"]


@book.case(
    earlier=[create({"input": "Weather in Oslo?", "tools": [WEATHER]})],
    request=create(
        {
            "input": [
                {"role": "user", "content": "Weather in Oslo?"},
                {"type": "item_reference", "id": "{{earlier.0.output.0.id}}"},
                {"type": "item_reference", "id": "{{earlier.0.output.1.id}}"},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            ],
            "tools": [WEATHER],
        }
    ),
    ai=[call_answer(), chat_answer("It is sunny.")],
)
def item_references_resolve_from_the_store(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200, outcome.body
    assistant = outcome.ai_calls[1].inputs["messages"][1]
    assert assistant["tool_calls"][0]["id"] == "call_1"
    assert assistant["reasoning"] == "I need the weather.", "the referenced reasoning goes back with its turn"
    (items_call,) = store_of(outcome).calls_to("items")
    assert isinstance(items_call.args[0], str) and len(json.loads(items_call.args[0])) == 2


@book.case(
    earlier=[create({"input": [{"role": "user", "content": f"line {n}"} for n in range(3)]})],
    request=get("/v1/responses/{{earlier.0.id}}/input_items?limit=2&order=asc", AUTH),
    ai=[chat_answer("ok")],
)
def input_items_are_paged(outcome: Outcome) -> None:
    outcome.assert_served()
    page = outcome.json()
    assert page["object"] == "list" and page["has_more"] is True
    assert [item["content"][0]["text"] for item in page["data"]] == ["line 0", "line 1"]
    assert page["last_id"] == page["data"][1]["id"]


@book.case(
    earlier=[create({"input": "Delete me."}), delete("/v1/responses/{{earlier.0.id}}")],
    request=get("/v1/responses/{{earlier.0.id}}", AUTH),
    ai=[chat_answer("ok")],
)
def a_deleted_response_is_gone(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.earlier[1].json() == {
        "id": outcome.earlier[0].json()["id"],
        "object": "response.deleted",
        "deleted": True,
    }
    assert outcome.status == 404
    assert store_of(outcome).tables[KEY_ID] == {"responses": [], "items": []}


@book.case(
    earlier=[create({"input": "Private."})],
    request=get("/v1/responses/{{earlier.0.id}}", OTHER_AUTH),
    ai=[chat_answer("ok")],
)
def another_keys_id_is_a_404_from_its_own_object(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 404
    assert outcome.json()["error"]["message"] == f"Response with id {outcome.earlier[0].json()['id']!r} not found."
    store = store_of(outcome)
    assert store.names == [KEY_ID, OTHER_ID], "the lookup went to the other key's own object"
    assert store.tables[OTHER_ID]["responses"] == []


@book.case(
    earlier=[create({"input": "Streamed.", "stream": True})],
    request=get("/v1/responses/{{earlier.0.response.id}}", AUTH),
    ai=[
        answer_stream(
            sse(
                {"choices": [{"index": 0, "delta": {"reasoning_content": "Hmm."}}]},
                {
                    "choices": [{"index": 0, "delta": {"content": "Done."}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                },
            ),
            delay_ms=5,
        )
    ],
)
def a_streamed_response_is_stored_when_it_completes(outcome: Outcome) -> None:
    outcome.assert_served()
    events = [json.loads(e.data) for e in outcome.earlier[0].events()]
    assert events[-1]["type"] == "response.completed" and events[-1]["response"]["store"] is True
    assert outcome.status == 200 and outcome.json()["output"][1]["content"][0]["text"] == "Done."


@book.case(
    request=create({"input": "The store is down."}),
    durable_objects={"STORED_RESPONSES": durable_object_failing("object unreachable", METHODS)},
    ai=[chat_answer("Still answered.")],
    earlier=[get("/v1/responses/resp_" + "0" * 48, AUTH)],
)
def a_failing_store_still_answers_unstored_and_reads_are_503(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.earlier[0].status == 503
    assert outcome.earlier[0].json()["error"]["code"] == "store_unavailable"
    assert outcome.status == 200 and outcome.json()["store"] is False
    assert "object unreachable" in outcome.log_records()[-1]["store_error"]


@book.case(
    earlier=[
        create(
            {
                "input": "Weather in Oslo?",
                "tools": [WEATHER],
                "store": False,
                "include": ["reasoning.encrypted_content"],
            }
        )
    ],
    request=create(
        {
            "store": False,
            "tools": [WEATHER],
            "input": [
                {"role": "user", "content": "Weather in Oslo?"},
                {"type": "reasoning", "summary": [], "encrypted_content": "{{earlier.0.output.0.encrypted_content}}"},
                {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
                {"type": "function_call_output", "call_id": "call_1", "output": "sunny"},
            ],
        }
    ),
    env={"REASONING_SECRET": SECRET},
    ai=[call_answer(), chat_answer("Sunny.")],
)
def encrypted_reasoning_is_sealed_and_opened_in_pyodide(outcome: Outcome) -> None:
    outcome.assert_served()
    token = outcome.earlier[0].json()["output"][0]["encrypted_content"]
    assert token.startswith("gwr1.") and "weather" not in token
    assert outcome.status == 200, outcome.body
    assert outcome.ai_calls[1].inputs["messages"][1]["reasoning"] == "I need the weather."
    assert store_of(outcome).calls == [], "store: false keeps nothing"


@book.case(
    request=create(
        {
            "input": [
                {"type": "reasoning", "summary": [], "encrypted_content": "gwr1.forged"},
                {"role": "user", "content": "x"},
            ]
        }
    ),
    env={"REASONING_SECRET": SECRET},
)
def a_forged_token_is_refused(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 400
    assert outcome.json()["error"]["param"] == "input[0].encrypted_content"
    assert outcome.ai_calls == []


@pytest.mark.parametrize("case", book.params())
def test_stored(case: Case, pyodide_run: PyodideRun) -> None:
    pyodide_run.check(case)
