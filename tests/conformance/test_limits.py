"""Access control and limits (issue 5) inside real Pyodide, against binding doubles.

The in-process tests (tests/test_*.py) prove the policy's logic under CPython with
in-process limiters. These prove the Worker-side paths that only the runtime can
show: the `Ratelimit` binding (`RATE_LIMIT_<TIER>`) gets plain JS data and its
answers and failures are understood; the `TokenBudget` Durable Object, its real
Python class constructed in Pyodide over a `ctx.storage.sql` double
(sql_double.mjs), is reserved before the call and settled after it, streams
included; key records come from a KV namespace; usage reaches Analytics Engine as
plain objects; and CORS preflights pass through `workers.asgi`.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from ._cases import (
    Case,
    CaseBook,
    Hangup,
    HttpRequest,
    Outcome,
    PyodideRun,
    Reply,
    answer_error,
    answer_json,
    answer_stream,
    durable_object,
    durable_object_failing,
    limiter_throws,
    post_json,
    sse,
)
from ._figures import AUTH, GATEWAY_ENV, TEST_KEY

MODEL = "@cf/openai/gpt-oss-120b"
KEY_ID = hashlib.sha256(TEST_KEY.encode()).hexdigest()  # what limits count under: never the key
CHAT_PATH = "/v1/chat/completions"

book = CaseBook(app="gateway", env={**GATEWAY_ENV, "RETRY_BASE_MS": "1"})


def chat(max_tokens: int = 100, *, stream: bool = False, headers: dict[str, str] | None = None) -> HttpRequest:
    body: dict[str, Any] = {
        "model": "gpt-oss-120b",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": max_tokens,
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return post_json(CHAT_PATH, body, AUTH if headers is None else headers)


def chat_answer(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return answer_json(
        {
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }
    )


def assert_error(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status, reply.status
    error: dict[str, Any] = reply.json()["error"]
    assert error["code"] == code, error
    return error


def retry_after(reply: Reply) -> int:
    value = reply.header("retry-after")
    assert value is not None and value.isdigit(), f"retry-after must be whole seconds, got {value!r}"
    return int(value)


# --- request limits: the Rate Limiting binding, one per tier ------------------------

REQUEST_TIER = {"TIERS": json.dumps({"default": {"requests": 2, "period": 60}})}


@book.case(request=chat(), env=REQUEST_TIER, ratelimits={"RATE_LIMIT_DEFAULT": [True]}, ai=[chat_answer(11, 2)])
def the_rate_limiter_gets_the_key_hash_as_a_plain_object(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    (call,) = outcome.ratelimit_calls["RATE_LIMIT_DEFAULT"]
    assert call["options"] == {"key": KEY_ID}
    assert call["non_plain"] == [], "limit() must get a plain JS object, not a proxy or a Map"
    assert outcome.header("x-ratelimit-limit-requests") == "2"
    assert outcome.header("x-ratelimit-remaining-requests") is None, "the binding does not say what is left"
    assert outcome.header("x-ratelimit-reset-requests")


@book.case(request=chat(), env=REQUEST_TIER, ratelimits={"RATE_LIMIT_DEFAULT": [False]})
def a_refusal_from_the_rate_limiter_is_429_with_retry_after(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_error(outcome, 429, "rate_limit_exceeded")
    assert 1 <= retry_after(outcome) <= 60, "the rest of the binding's period, not more"
    assert outcome.header("x-ratelimit-limit-requests") == "2"
    assert outcome.header("x-ratelimit-remaining-requests") == "0"
    assert outcome.ai_calls == []


@book.case(request=chat(), env=REQUEST_TIER)
def a_missing_rate_limit_binding_is_503_limiter_unavailable(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_error(outcome, 503, "limiter_unavailable")
    assert retry_after(outcome) >= 1
    assert outcome.ai_calls == []
    (record,) = outcome.log_records()
    assert "RATE_LIMIT_DEFAULT" in " ".join(record["limiter_failures"])


@book.case(request=chat(), env=REQUEST_TIER, ratelimits={"RATE_LIMIT_DEFAULT": [limiter_throws("binding broke")]})
def a_throwing_rate_limiter_fails_closed_by_default(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_error(outcome, 503, "limiter_unavailable")
    assert outcome.ai_calls == []
    assert "binding broke" in json.dumps(outcome.log_records()[0]["limiter_failures"])


@book.case(
    request=chat(),
    env={**REQUEST_TIER, "LIMITS_FAIL_OPEN": "true"},
    ratelimits={"RATE_LIMIT_DEFAULT": [limiter_throws("binding broke")]},
    ai=[chat_answer(11, 2)],
)
def with_fail_open_a_throwing_rate_limiter_lets_the_request_through(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    assert len(outcome.ai_calls) == 1
    (failure,) = outcome.log_records()[0]["limiter_failures"]
    assert "binding broke" in failure and "failed open" in failure


# --- token budgets: the TokenBudget Durable Object ----------------------------------

# Equal minute and day budgets: whichever window refuses, the refusal does not depend on
# whether the two requests fall in the same UTC minute.
BUDGET = 2000
BUDGET_ENV = {"TIERS": json.dumps({"default": {"tokens_per_minute": BUDGET, "tokens_per_day": BUDGET}})}
BUDGETS = {"TOKEN_BUDGETS": durable_object("TokenBudget")}


def day_window(outcome: Outcome) -> dict[str, Any]:
    (tables,) = outcome.durable_objects["TOKEN_BUDGETS"].tables.values()
    (window,) = [row for row in tables["windows"] if row["name"] == "day"]
    return window


def assert_rpc_was_plain(outcome: Outcome) -> None:
    budgets = outcome.durable_objects["TOKEN_BUDGETS"]
    assert set(budgets.names) == {KEY_ID}, "one object per key, named by the key's hash"
    for call in budgets.calls:
        assert call.error is None, call
        assert call.non_plain == [], f"{call.method} got non-plain arguments: {call.non_plain}"
        assert isinstance(call.result, dict), call
    for statements in budgets.statements.values():
        assert [s for s in statements if s["error"]] == [], "every SQL statement ran"


@book.case(
    earlier=[chat(max_tokens=600)],
    request=chat(max_tokens=600),
    env=BUDGET_ENV,
    durable_objects=BUDGETS,
    ai=[chat_answer(1000, 500)],
)
def a_request_over_the_token_budget_is_429_once_an_earlier_one_used_it(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_rpc_was_plain(outcome)
    (first,) = outcome.earlier
    assert first.status == 200
    assert first.header("x-ratelimit-limit-tokens") == str(BUDGET)
    reserved = BUDGET - int(first.header("x-ratelimit-remaining-tokens") or 0)
    assert 600 < reserved <= BUDGET, "the first request reserved its maximum, and it fit"
    assert reserved + 1500 > BUDGET, "the same request no longer fits once the first one is charged"

    assert_error(outcome, 429, "token_budget_exceeded")
    assert retry_after(outcome) >= 1
    assert outcome.header("x-ratelimit-limit-tokens") == str(BUDGET)
    assert outcome.header("x-ratelimit-remaining-tokens-day") == str(BUDGET - 1500)
    assert outcome.header("x-ratelimit-reset-tokens")
    assert len(outcome.ai_calls) == 1, "the refused request never reached the model"

    budgets = outcome.durable_objects["TOKEN_BUDGETS"]
    assert [c.method for c in budgets.calls] == ["reserve", "settle", "reserve"]
    reserve, settle, refused = budgets.calls
    assert reserve.args[1] == reserved and reserve.result["admitted"] is True
    # Settled with the real usage and its list price in nano-dollars, under the same lease.
    assert settle.args == [reserve.args[0], 1500, 1000 * 350 + 500 * 750]
    assert refused.result["admitted"] is False
    assert day_window(outcome)["used"] == 1500


@book.case(
    request=chat(max_tokens=300, stream=True),
    env=BUDGET_ENV,
    durable_objects=BUDGETS,
    ai=[
        answer_stream(
            sse(
                *[{"choices": [{"index": 0, "delta": {"content": word}}]} for word in ["Hel", "lo"]],
                {
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 4, "completion_tokens": 5},
                },
            ),
            delay_ms=30,
        )
    ],
)
def a_stream_is_settled_with_its_streamed_usage_when_it_ends(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.events()[-1].data == "[DONE]"
    assert_rpc_was_plain(outcome)
    budgets = outcome.durable_objects["TOKEN_BUDGETS"]
    reserve, settle = budgets.calls
    assert (reserve.method, settle.method) == ("reserve", "settle")
    assert reserve.args[2] is True, "reserved as a stream (it holds a stream slot)"
    assert settle.args == [reserve.args[0], 9, 4 * 350 + 5 * 750]
    (upstream,) = outcome.ai_streams
    assert settle.t_ms >= upstream.produced[-1]["t_ms"], "settled only once the stream had ended"
    assert day_window(outcome)["used"] == 9
    (tables,) = budgets.tables.values()
    assert tables["leases"] == [], "the lease (and its stream slot) is released"


@book.case(request=chat(), env=BUDGET_ENV, durable_objects=BUDGETS, ai=[answer_error("5006: bad input")])
def a_failed_upstream_call_is_refunded(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 400
    assert_rpc_was_plain(outcome)
    reserve, settle = outcome.durable_objects["TOKEN_BUDGETS"].calls
    assert reserve.args[1] > 0
    assert settle.args == [reserve.args[0], 0, 0]
    assert day_window(outcome)["used"] == 0


@book.case(
    request=chat(stream=True),
    env=BUDGET_ENV,
    durable_objects=BUDGETS,
    ai=[answer_stream(sse({"choices": [{"index": 0, "delta": {"content": "Hel"}}]}), delay_ms=10, error_after=1)],
)
def a_stream_that_fails_upstream_before_its_usage_is_refunded(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.events()[-1].event == "error"
    reserve, settle = outcome.durable_objects["TOKEN_BUDGETS"].calls
    assert settle.args == [reserve.args[0], 0, 0]
    assert day_window(outcome)["used"] == 0


@book.case(
    request=chat(stream=True),
    env=BUDGET_ENV,
    durable_objects=BUDGETS,
    ai=[answer_stream(sse(*[{"choices": [{"index": 0, "delta": {"content": w}}]} for w in "abcdefgh"]), delay_ms=40)],
    hangup=Hangup(after_chunks=2),
    settle_ms=200,
)
def a_stream_the_client_leaves_is_charged_its_whole_reservation(outcome: Outcome) -> None:
    # The model may have kept generating after the client left: the gateway cannot know, so it
    # keeps the whole reservation. But it must settle, or the lease would hold a stream slot.
    outcome.assert_served()
    (upstream,) = outcome.ai_streams
    assert upstream.cancelled is not None
    assert_rpc_was_plain(outcome)
    budgets = outcome.durable_objects["TOKEN_BUDGETS"]
    assert [c.method for c in budgets.calls] == ["reserve", "settle"], "a hangup still settles"
    reserve, settle = budgets.calls
    assert settle.args == [reserve.args[0], reserve.args[1], reserve.args[6]], "tokens and price as reserved"
    (tables,) = budgets.tables.values()
    assert tables["leases"] == [], "the stream slot is released"


STREAM_SLOTS_ENV = {"TIERS": json.dumps({"default": {"tokens_per_day": 1_000_000, "max_streams": 2}})}
SLOW_STREAM = answer_stream(sse({"choices": [{"index": 0, "delta": {"content": "Hi"}}]}), delay_ms=100)


@book.case(
    request=chat(stream=True),
    alongside=[chat(stream=True), chat(stream=True)],
    env=STREAM_SLOTS_ENV,
    durable_objects=BUDGETS,
    ai=[SLOW_STREAM, SLOW_STREAM],
)
def three_streams_at_once_against_two_slots_admit_exactly_two(outcome: Outcome) -> None:
    outcome.assert_served()
    replies = [outcome, *outcome.alongside]
    assert sorted(reply.status or 0 for reply in replies) == [200, 200, 429]
    (refused,) = [reply for reply in replies if reply.status == 429]
    assert_error(refused, 429, "too_many_streams")
    assert retry_after(refused) >= 1
    assert len(outcome.ai_calls) == 2
    budgets = outcome.durable_objects["TOKEN_BUDGETS"]
    assert [c.method for c in budgets.calls] == ["reserve"] * 3 + ["settle"] * 2, "all three were open at once"
    (tables,) = budgets.tables.values()
    assert tables["leases"] == [], "both slots are free again once the streams have ended"


@book.case(
    request=chat(),
    env=BUDGET_ENV,
    durable_objects={"TOKEN_BUDGETS": durable_object_failing("Durable Object is overloaded")},
)
def an_unreachable_budget_object_is_503_limiter_unavailable(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_error(outcome, 503, "limiter_unavailable")
    assert outcome.ai_calls == []
    assert "overloaded" in json.dumps(outcome.log_records()[0]["limiter_failures"])


@book.case(
    request=chat(),
    env={**BUDGET_ENV, "LIMITS_FAIL_OPEN": "true"},
    durable_objects={"TOKEN_BUDGETS": durable_object_failing("Durable Object is overloaded")},
    ai=[chat_answer(11, 2)],
)
def with_fail_open_an_unreachable_budget_object_serves_unmetered(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    assert [c.method for c in outcome.durable_objects["TOKEN_BUDGETS"].calls] == ["reserve"], "nothing to settle"
    (failure,) = outcome.log_records()[0]["limiter_failures"]
    assert "overloaded" in failure and "failed open" in failure


# --- keys from a KV namespace --------------------------------------------------------

KV_KEY = "gw-kv-only-conformance-key"
REVOKED_KEY = "gw-kv-revoked-conformance-key"


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


KEY_RECORDS = {
    "GATEWAY_KEYS_KV": {
        sha256_hex(KV_KEY): json.dumps({"name": "kv-alice"}),
        sha256_hex(REVOKED_KEY): json.dumps({"name": "kv-bob", "disabled": True}),
    }
}


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@book.case(request=chat(headers=bearer(KV_KEY)), kv=KEY_RECORDS, ai=[chat_answer(11, 2)])
def a_key_found_only_in_kv_is_admitted(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    (lookup,) = outcome.kv_calls["GATEWAY_KEYS_KV"]
    assert lookup["key"] == sha256_hex(KV_KEY), "records are looked up by the key's hash"
    (record,) = outcome.log_records()
    assert record["key"] == "kv-alice"
    assert KV_KEY not in "\n".join(outcome.logs)


@book.case(request=chat(headers=bearer(REVOKED_KEY)), kv=KEY_RECORDS)
def a_disabled_kv_record_is_401_revoked(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_error(outcome, 401, "revoked_api_key")
    assert outcome.ai_calls == []


@book.case(request=chat(headers=bearer("gw-nobody")), kv=KEY_RECORDS)
def a_key_kv_does_not_know_is_401(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_error(outcome, 401, "invalid_api_key")
    assert len(outcome.kv_calls["GATEWAY_KEYS_KV"]) == 1


@book.case(request=chat(), kv=KEY_RECORDS, ai=[chat_answer(11, 2)])
def a_key_in_gateway_keys_needs_no_kv_lookup(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    assert outcome.kv_calls["GATEWAY_KEYS_KV"] == []


# --- usage in Analytics Engine ---------------------------------------------------------


def assert_one_data_point(outcome: Outcome, input_tokens: int, output_tokens: int) -> None:
    (call,) = outcome.data_points["USAGE"]
    assert call["arg_count"] == 1
    assert call["non_plain"] == [], "writeDataPoint must get a plain JS object, not a proxy or a Map"
    point = call["point"]
    assert point["indexes"] == [KEY_ID[:32]]
    assert point["blobs"][:2] == ["conformance", MODEL] and point["blobs"][3] == "200"
    assert point["doubles"][:2] == [input_tokens, output_tokens]
    assert point["doubles"][2] > 0, "the cost in USD"
    assert TEST_KEY not in json.dumps(point)


@book.case(request=chat(), analytics=["USAGE"], ai=[chat_answer(11, 2)])
def usage_reaches_analytics_engine_as_plain_objects(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_one_data_point(outcome, 11, 2)


@book.case(
    request=chat(stream=True),
    analytics=["USAGE"],
    ai=[
        answer_stream(
            sse(
                {"choices": [{"index": 0, "delta": {"content": "Hi"}}]},
                {
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 4, "completion_tokens": 5},
                },
            ),
            delay_ms=20,
        )
    ],
)
def a_streams_usage_is_recorded_once_it_ends(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_one_data_point(outcome, 4, 5)
    (upstream,) = outcome.ai_streams
    assert outcome.data_points["USAGE"][0]["t_ms"] >= upstream.produced[-1]["t_ms"]


# --- CORS through workers.asgi -----------------------------------------------------------

APP_ORIGIN = "https://app.example.com"
CORS_ENV = {"CORS_ORIGINS": f"{APP_ORIGIN},http://localhost:3000", **REQUEST_TIER}
SDK_HEADERS = "authorization, content-type, x-stainless-os, openai-beta"


def preflight(origin: str = APP_ORIGIN, method: str = "POST") -> HttpRequest:
    headers = {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": SDK_HEADERS,
    }
    return HttpRequest("OPTIONS", CHAT_PATH, headers)


@book.case(request=preflight(), env=CORS_ENV, ratelimits={"RATE_LIMIT_DEFAULT": []})
def a_cors_preflight_is_204_without_a_key(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 204
    assert outcome.body == b""
    assert outcome.header("access-control-allow-origin") == APP_ORIGIN
    assert outcome.header("access-control-allow-credentials") == "true"
    assert "POST" in (outcome.header("access-control-allow-methods") or "")
    allowed = {h.strip() for h in (outcome.header("access-control-allow-headers") or "").split(",")}
    assert allowed >= {"authorization", "content-type", "x-stainless-os", "openai-beta"}
    assert outcome.header("access-control-max-age")
    assert "Origin" in (outcome.header("vary") or "")
    assert outcome.ratelimit_calls["RATE_LIMIT_DEFAULT"] == [], "a preflight is not counted against a key"
    assert outcome.ai_calls == []


@book.case(request=preflight(origin="https://evil.example"), env=CORS_ENV)
def a_preflight_from_an_unlisted_origin_is_refused(outcome: Outcome) -> None:
    outcome.assert_served()
    assert_error(outcome, 403, "cors_refused")
    assert outcome.header("access-control-allow-origin") is None


@book.case(
    request=chat(headers={**AUTH, "origin": APP_ORIGIN}),
    env=CORS_ENV,
    ratelimits={"RATE_LIMIT_DEFAULT": [True]},
    ai=[chat_answer(11, 2)],
)
def a_cross_origin_request_can_read_the_rate_limit_headers(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    assert outcome.header("access-control-allow-origin") == APP_ORIGIN
    exposed = {h.strip() for h in (outcome.header("access-control-expose-headers") or "").split(",")}
    assert {"x-request-id", "x-ratelimit-limit-requests", "retry-after"} <= exposed
    assert outcome.header("x-ratelimit-limit-requests") == "2"


@pytest.mark.parametrize("case", book.params())
def test_limits(case: Case, pyodide_run: PyodideRun) -> None:
    pyodide_run.check(case)
