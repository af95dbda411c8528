"""Operating it on Cloudflare (issue 14) inside real Pyodide, against binding doubles.

The CPython tests prove the logic with in-process limiters and backend doubles; these prove what
only the runtime shows: the `gateway` options reach `env.AI.run` as plain JS data and the raw
`Response` is read for AI Gateway's headers, streams included; the fallback model answers a
lasting 3040 and is named everywhere; the account ceiling's `Ratelimit` binding; `GET /v1/usage`
against the real `TokenBudget` class over the SQL storage double; dollar budgets that never
overshoot when requests overlap.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from gateway._limits.budget import max_nano_usd_for

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
    get,
    post_json,
    sse,
)
from ._figures import AUTH, GATEWAY_ENV, TEST_KEY

BIG, SMALL = "@cf/openai/gpt-oss-120b", "@cf/openai/gpt-oss-20b"
KEY_ID = hashlib.sha256(TEST_KEY.encode()).hexdigest()
NANO_USD = 1_000_000_000
CAPACITY = "3040: Capacity temporarily exceeded, please try again."

book = CaseBook(app="gateway", env={**GATEWAY_ENV, "RETRY_BASE_MS": "1"})


def chat(*, stream: bool = False, headers: dict[str, str] | None = None, **fields: Any) -> HttpRequest:
    body: dict[str, Any] = {
        "model": "gpt-oss-120b",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 100,
        **fields,
    }
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    return post_json("/v1/chat/completions", body, {**AUTH, **(headers or {})})


def completion(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens},
    }


def streamed(*words: str, usage: tuple[int, int] | None = (4, 5)) -> list[str]:
    chunks: list[dict[str, Any]] = [{"choices": [{"index": 0, "delta": {"content": word}}]} for word in words]
    last: dict[str, Any] = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    if usage is not None:
        last["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1]}
    return sse(*chunks, last)


def error_of(reply: Reply) -> dict[str, Any]:
    body: dict[str, Any] = reply.json()
    error: dict[str, Any] = body["error"] if "error" in body else body["errors"][0]
    return error


# --- AI Gateway on the binding ----------------------------------------------------------

AIG_ENV = {"AI_GATEWAY_ID": "team-gw"}
CACHE_TIER = {"TIERS": json.dumps({"default": {"ai_gateway_cache_headers": True}})}
PLAIN_TIER = {"TIERS": json.dumps({"default": {"max_streams": 100}})}
CACHE_HEADERS = {"cf-aig-cache-ttl": "600", "cf-aig-skip-cache": "true", "cf-aig-cache-key": "faq-1"}
HEARD = {"cf-aig-log-id": "01JAIGLOG", "cf-aig-cache-status": "MISS"}


@book.case(
    request=chat(headers={"x-request-id": "req-aig-1", **CACHE_HEADERS}),
    env={**AIG_ENV, **CACHE_TIER},
    ai=[answer_json(completion(11, 2), headers=HEARD)],
)
def the_gateway_options_reach_the_binding_as_plain_objects(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200 and outcome.json()["choices"][0]["message"]["content"] == "Hi!"
    (call,) = outcome.ai_calls
    assert call.arg_count == 3 and call.non_plain == [], "options must be a plain JS object"
    assert call.options == {
        "gateway": {
            "id": "team-gw",
            "metadata": {"key": "conformance", "tier": "default", "request_id": "req-aig-1"},
            "cacheTtl": 600,
            "skipCache": True,
            "cacheKey": "faq-1",
        },
        "returnRawResponse": True,
    }
    assert TEST_KEY not in json.dumps(call.options)
    assert outcome.header("cf-aig-log-id") == "01JAIGLOG" and outcome.header("cf-aig-cache-status") == "MISS"
    assert outcome.header("x-gateway-ignored") is None
    (record,) = outcome.log_records()
    assert (record["aig_log_id"], record["aig_cache_status"]) == ("01JAIGLOG", "MISS")


@book.case(
    request=chat(headers=CACHE_HEADERS),
    env={**AIG_ENV, **PLAIN_TIER},
    durable_objects={"TOKEN_BUDGETS": durable_object("TokenBudget")},
    ai=[answer_json(completion(11, 2), headers=HEARD)],
)
def cache_headers_from_a_tier_not_allowed_to_send_them_are_dropped_and_named(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    (call,) = outcome.ai_calls
    assert set(call.options["gateway"]) == {"id", "metadata"}
    assert outcome.header("x-gateway-ignored") == "cf-aig-cache-ttl, cf-aig-skip-cache, cf-aig-cache-key"


@book.case(
    request=chat(stream=True),
    env=AIG_ENV,
    ai=[answer_stream(streamed("Hel", "lo", " there"), delay_ms=60, headers={"cf-aig-log-id": "log-s"})],
)
def a_stream_through_ai_gateway_is_relayed_as_it_is_produced(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.header("cf-aig-log-id") == "log-s"
    events = [event.data for event in outcome.events()]
    assert events[-1] == "[DONE]" and "Hel" in "".join(events)
    (upstream,) = outcome.ai_streams
    produced = [record["t_ms"] for record in upstream.produced]
    first_content = next(chunk.t_ms for chunk in outcome.chunks if b"Hel" in chunk.data)
    assert first_content < produced[-1], "the first words reached the client before the upstream had finished"


@book.case(
    request=chat(stream=True, prompt_cache_key="conversation-1"),
    env=AIG_ENV,
    ai=[answer_stream(streamed("Hel", "lo"), delay_ms=5, headers={"cf-aig-log-id": "log-a"})],
)
def the_prefix_cache_session_rides_with_ai_gateway_on_the_raw_response(outcome: Outcome) -> None:
    outcome.assert_served()
    (call,) = outcome.ai_calls
    assert call.arg_count == 3 and call.non_plain == [], "options must be a plain JS object"
    assert set(call.options) == {"extraHeaders", "gateway", "returnRawResponse"}
    affinity = call.options["extraHeaders"]["x-session-affinity"]
    assert affinity.startswith("ses_") and "conversation-1" not in json.dumps(call.options)
    assert call.options["gateway"]["id"] == "team-gw" and call.options["returnRawResponse"] is True
    assert outcome.header("cf-aig-log-id") == "log-a"
    assert [event.data for event in outcome.events()][-1] == "[DONE]"


@book.case(
    request=post_json(f"/ai/run/{BIG}", {"prompt": "hi"}, AUTH),
    env=AIG_ENV,
    ai=[answer_error("5006: Input validation failed", status=400, headers={"cf-aig-log-id": "log-e"})],
)
def an_error_through_the_raw_response_keeps_its_code_and_log_id(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 400
    assert error_of(outcome)["code"] == 5006 and "Input validation failed" in error_of(outcome)["message"]
    assert outcome.header("cf-aig-log-id") == "log-e"


@book.case(request=chat(headers=CACHE_HEADERS), ai=[answer_json(completion(11, 2), headers=HEARD)])
def without_ai_gateway_the_binding_gets_no_options(outcome: Outcome) -> None:
    outcome.assert_served()
    (call,) = outcome.ai_calls
    assert call.arg_count == 2
    assert outcome.header("cf-aig-log-id") is None
    assert outcome.header("x-gateway-ignored") == "cf-aig-cache-ttl, cf-aig-skip-cache, cf-aig-cache-key"


# --- the fallback model -------------------------------------------------------------------

FALLBACK_ENV = {"MODELS": f"{BIG},{SMALL}", "FALLBACK_MODEL": SMALL, "CAPACITY_RETRIES": "1"}


@book.case(
    request=chat(),
    env=FALLBACK_ENV,
    analytics=["USAGE"],
    ai=[answer_error(CAPACITY), answer_error(CAPACITY), answer_json(completion(11, 2))],
)
def lasting_capacity_errors_are_answered_by_the_fallback_named_everywhere(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 200
    assert [call.model for call in outcome.ai_calls] == [BIG, BIG, SMALL]
    assert outcome.json()["model"] == "gpt-oss-20b"
    assert outcome.header("x-gateway-model") == SMALL and outcome.header("x-gateway-fallback-from") == BIG
    (record,) = outcome.log_records()
    price = round((11 * 0.20 + 2 * 0.30) / 1_000_000, 8)
    assert (record["model"], record["fallback_from"], record["cost_usd"]) == (SMALL, BIG, price)
    (point,) = outcome.data_points["USAGE"]
    assert point["point"]["blobs"][1] == SMALL and point["point"]["doubles"][2] == price


@book.case(
    request=chat(stream=True),
    env=FALLBACK_ENV,
    ai=[answer_stream(streamed("Hel", usage=None)[:1], delay_ms=10, error_after=1, error_message=CAPACITY)],
)
def a_stream_that_fails_after_its_first_byte_is_never_moved_to_the_fallback(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.events()[-1].event == "error"
    assert [call.model for call in outcome.ai_calls] == [BIG]


# --- the account ceiling --------------------------------------------------------------------

CEILING_ENV = {"ACCOUNT_REQUESTS_PER_MINUTE": "1"}


@book.case(
    earlier=[chat()],
    request=chat(),
    env=CEILING_ENV,
    ratelimits={"ACCOUNT_RATE_LIMIT": [True, False]},
    ai=[answer_json(completion(11, 2))],
)
def past_the_account_ceiling_the_service_is_busy_not_the_key(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.earlier[0].status == 200
    assert outcome.status == 429
    error = error_of(outcome)
    assert error["code"] == "service_busy" and error["message"].startswith("The service is busy")
    retry = int(outcome.header("retry-after") or 0)
    assert 1 <= retry <= 60
    calls = outcome.ratelimit_calls["ACCOUNT_RATE_LIMIT"]
    assert [call["options"] for call in calls] == [{"key": "account"}] * 2, "one shared key for every API key"
    assert all(call["non_plain"] == [] for call in calls)
    assert len(outcome.ai_calls) == 1


@book.case(request=chat(), env={"ACCOUNT_REQUESTS_PER_MINUTE": "300"})
def a_ceiling_without_its_binding_fails_closed(outcome: Outcome) -> None:
    outcome.assert_served()
    assert outcome.status == 503 and error_of(outcome)["code"] == "limiter_unavailable"
    assert "ACCOUNT_RATE_LIMIT" in " ".join(outcome.log_records()[0]["limiter_failures"])
    assert outcome.ai_calls == []


# --- GET /v1/usage against the TokenBudget object ------------------------------------------

USAGE_TIER = {"TIERS": json.dumps({"default": {"tokens_per_day": 1_000_000, "usd_per_day": 5, "max_streams": 4}})}
BUDGETS = {"TOKEN_BUDGETS": durable_object("TokenBudget")}


@book.case(
    earlier=[chat(), chat(stream=True), chat(), chat(stream=True).hung_up(Hangup(after_chunks=2))],
    request=get("/v1/usage", AUTH),
    env=USAGE_TIER,
    durable_objects=BUDGETS,
    ai=[
        answer_json(completion(11, 2)),
        answer_stream(streamed("Hel", "lo"), delay_ms=20),
        answer_error("5006: bad input"),
        answer_stream(streamed(*"abcdefgh"), delay_ms=40),
    ],
)
def usage_agrees_with_the_budget_object_after_normal_streamed_failed_and_aborted_requests(outcome: Outcome) -> None:
    outcome.assert_served()
    assert [reply.status for reply in outcome.earlier] == [200, 200, 400, 200]
    assert outcome.status == 200
    report = outcome.json()
    budgets = outcome.durable_objects["TOKEN_BUDGETS"]
    assert [call.method for call in budgets.calls] == ["reserve", "settle"] * 4 + ["report"]
    settles = budgets.calls_to("settle")
    reserves = budgets.calls_to("reserve")
    assert [s.args[1] for s in settles[:3]] == [13, 9, 0], "real usage, streamed usage, refund"
    assert settles[3].args[1:] == [reserves[3].args[1], reserves[3].args[6]], "the aborted one keeps its reservation"
    (report_call,) = budgets.calls_to("report")
    assert report_call.args == [0, 1_000_000, 4, 5 * NANO_USD, 0] and report_call.non_plain == []
    today = report["totals"]["today"]
    assert today["tokens"] == sum(s.args[1] for s in settles)
    assert today["usd"] == round(sum(s.args[2] for s in settles) / NANO_USD, 9)
    assert (today["reserved_tokens"], today["reserved_usd"]) == (0, 0.0)
    (tables,) = budgets.tables.values()
    day = {row["name"]: row["used"] for row in tables["windows"]}
    assert (day["day"], day["usd_day"], day["month"]) == (
        today["tokens"],
        sum(s.args[2] for s in settles),
        today["tokens"],
    )
    assert report["totals"]["this_month"]["tokens"] == today["tokens"]
    assert report["remaining"]["streams"] == {"limit": 4, "open": 0, "remaining": 4}
    assert report["remaining"]["usd_per_day"]["remaining"] == round(5 - today["usd"], 9)
    assert report["key"] == {"name": "conformance", "tier": "default", "models": [BIG], "expires_at": None}


# --- dollar budgets under overlap ----------------------------------------------------------

PROMPT = {"prompt": "Price this.", "max_tokens": 64}
PROMPT_USD = max_nano_usd_for(PROMPT, (BIG,))  # what the native route reserves: the body goes up unchanged
TWO_AND_A_HALF = {"TIERS": json.dumps({"default": {"usd_per_day": PROMPT_USD * 2.5 / NANO_USD}})}
SLOW_PROMPT_ANSWER = answer_json(
    {"response": "Hi", "usage": {"prompt_tokens": 7, "completion_tokens": 1}}, delay_ms=150
)


@book.case(
    request=post_json(f"/ai/run/{BIG}", PROMPT, AUTH),
    alongside=[post_json(f"/ai/run/{BIG}", PROMPT, AUTH), post_json(f"/ai/run/{BIG}", PROMPT, AUTH)],
    env=TWO_AND_A_HALF,
    durable_objects=BUDGETS,
    ai=[SLOW_PROMPT_ANSWER, SLOW_PROMPT_ANSWER],
)
def three_overlapping_requests_against_dollars_for_two_admit_exactly_two(outcome: Outcome) -> None:
    outcome.assert_served()
    replies = [outcome, *outcome.alongside]
    assert sorted(reply.status or 0 for reply in replies) == [200, 200, 429]
    (refused,) = [reply for reply in replies if reply.status == 429]
    assert "may cost up to $" in error_of(refused)["message"] and int(refused.header("retry-after") or 0) >= 1
    admitted = [reply for reply in replies if reply.status == 200]
    assert all(reply.header("x-ratelimit-limit-usd-day") for reply in admitted)
    budgets = outcome.durable_objects["TOKEN_BUDGETS"]
    assert [call.method for call in budgets.calls] == ["reserve"] * 3 + ["settle"] * 2, "all three overlapped"
    assert {call.args[6] for call in budgets.calls_to("reserve")} == {PROMPT_USD}
    assert len(outcome.ai_calls) == 2
    (tables,) = budgets.tables.values()
    (usd_day,) = [row["used"] for row in tables["windows"] if row["name"] == "usd_day"]
    assert usd_day == 2 * (7 * 350 + 1 * 750), "settled to the real price of the two that ran"


@pytest.mark.parametrize("case", book.params())
def test_operations(case: Case, pyodide_run: PyodideRun) -> None:
    pyodide_run.check(case)
