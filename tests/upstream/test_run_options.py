"""The options of each model call: AI Gateway's `gateway` (id, metadata, cache controls by tier),
the prefix-cache session (`extraHeaders`), and what AI Gateway says back (its log id and cache
status) reaching the client and the log line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._upstream.ai_binding import BindingBackend
from gateway._upstream.backend import UpstreamResult, WithHeaders
from gateway.local.keygen import key_entry
from tests.client import Reply, request, run
from tests.conftest import KEY, NATIVE, Harness, MakeGateway
from tests.doubles import AiBinding, FixedBackend

PROMPT = {"prompt": "hi"}
ANSWER = {"response": "Hello", "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
CHAT_ANSWER = {
    "object": "chat.completion",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1},
}
CHAT = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}
TIERS = json.dumps({"default": {"requests": 100}, "cached": {"requests": 100, "ai_gateway_cache_headers": True}})
CACHE_HEADERS = {"cf-aig-cache-ttl": "3600", "cf-aig-skip-cache": "true", "cf-aig-cache-key": "faq-42"}


def keys(tier: str = "default") -> str:
    return json.dumps([{**key_entry("alice", KEY), "tier": tier}])


def post(gw: Harness, headers: dict[str, str] | None = None, path: str = NATIVE, body: Any = PROMPT) -> Reply:
    reply: Reply = run(request(gw.app, "POST", path, body=body, headers={**gw.auth, **(headers or {})}))
    return reply


def test_every_call_carries_the_gateway_with_the_keys_name_tier_and_the_request_id(make_gateway: MakeGateway) -> None:
    backend = FixedBackend(ANSWER)
    gw = make_gateway(backend, keys=keys(), TIERS=TIERS, AI_GATEWAY_ID="team-gw")
    reply = post(gw, {"x-request-id": "req-77"})
    assert reply.status == 200
    (_, _, options) = backend.calls[0]
    assert options == {
        "gateway": {"id": "team-gw", "metadata": {"key": "alice", "tier": "default", "request_id": "req-77"}}
    }
    assert KEY not in json.dumps(options), "never the key itself"


def test_without_ai_gateway_id_the_options_are_the_routes_own(make_gateway: MakeGateway) -> None:
    backend = FixedBackend(ANSWER)
    gw = make_gateway(backend)
    assert (
        post(gw, CACHE_HEADERS).headers["x-gateway-ignored"] == "cf-aig-cache-ttl, cf-aig-skip-cache, cf-aig-cache-key"
    )
    batch = {"requests": [{"input": "a"}]}
    post(gw, body=batch)
    assert [options for _, _, options in backend.calls] == [{}, {"queueRequest": True}]


def test_cache_headers_reach_ai_gateway_for_a_tier_allowed_to(make_gateway: MakeGateway) -> None:
    backend = FixedBackend(ANSWER)
    gw = make_gateway(backend, keys=keys("cached"), TIERS=TIERS, AI_GATEWAY_ID="team-gw")
    reply = post(gw, CACHE_HEADERS)
    assert reply.status == 200 and "x-gateway-ignored" not in reply.headers
    gateway = backend.calls[0][2]["gateway"]
    assert (gateway["cacheTtl"], gateway["skipCache"], gateway["cacheKey"]) == (3600, True, "faq-42")
    post(gw, {"cf-aig-skip-cache": "false"})
    assert backend.calls[1][2]["gateway"]["skipCache"] is False and "cacheTtl" not in backend.calls[1][2]["gateway"]


def test_cache_headers_from_a_tier_not_allowed_to_are_dropped_and_named(make_gateway: MakeGateway) -> None:
    backend = FixedBackend(ANSWER)
    gw = make_gateway(backend, keys=keys("default"), TIERS=TIERS, AI_GATEWAY_ID="team-gw")
    reply = post(gw, CACHE_HEADERS, path="/v1/chat/completions", body=CHAT)
    assert reply.status == 200
    assert reply.headers["x-gateway-ignored"] == "cf-aig-cache-ttl, cf-aig-skip-cache, cf-aig-cache-key"
    assert set(backend.calls[0][2]["gateway"]) == {"id", "metadata"}
    assert json.loads(gw.logs[-1])["ignored"] == ["cf-aig-cache-ttl", "cf-aig-skip-cache", "cf-aig-cache-key"]


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("cf-aig-cache-ttl", "59", "from 60 to 2592000"),
        ("cf-aig-cache-ttl", "1h", "whole number of seconds"),
        ("cf-aig-skip-cache", "yes", "must be true or false"),
        ("cf-aig-cache-key", "has space", "printable ASCII characters without spaces"),
    ],
)
def test_a_bad_cache_header_is_a_400_naming_it(make_gateway: MakeGateway, name: str, value: str, says: str) -> None:
    backend = FixedBackend(ANSWER)
    gw = make_gateway(backend, keys=keys("cached"), TIERS=TIERS, AI_GATEWAY_ID="team-gw")
    reply = post(gw, {name: value}, path="/v1/chat/completions", body=CHAT)
    assert reply.status == 400
    error = reply.json()["error"]
    assert name in error["message"] and says in error["message"] and error["code"] == "invalid_header"
    assert backend.calls == []


class HeardBackend:
    """Answers with AI Gateway's answer headers, as the binding and the REST backend do."""

    name = "heard"

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> WithHeaders:
        result: UpstreamResult = dict(ANSWER)
        return WithHeaders(result, self.headers)


def test_ai_gateways_log_id_and_cache_status_reach_the_answer_and_the_log(make_gateway: MakeGateway) -> None:
    heard = {"cf-aig-log-id": "01J0LOGID", "cf-aig-cache-status": "HIT"}
    gw = make_gateway(HeardBackend(heard), AI_GATEWAY_ID="team-gw")
    reply = post(gw)
    assert (reply.headers["cf-aig-log-id"], reply.headers["cf-aig-cache-status"]) == ("01J0LOGID", "HIT")
    line = json.loads(gw.logs[-1])
    assert (line["aig_log_id"], line["aig_cache_status"]) == ("01J0LOGID", "HIT")


def test_the_binding_asks_for_the_raw_response_and_reads_this_calls_headers(make_gateway: MakeGateway) -> None:
    binding = AiBinding((200, ANSWER, {"cf-aig-log-id": "log-1", "cf-aig-cache-status": "MISS"}))
    gw = make_gateway(BindingBackend(binding), AI_GATEWAY_ID="team-gw")
    reply = post(gw)
    assert reply.status == 200 and reply.json()["result"] == ANSWER
    (_, _, options) = binding.calls[0]
    assert options is not None and options["returnRawResponse"] is True and options["gateway"]["id"] == "team-gw"
    assert reply.headers["cf-aig-log-id"] == "log-1" and reply.headers["cf-aig-cache-status"] == "MISS"


def test_without_a_gateway_the_binding_gets_no_options_at_all(make_gateway: MakeGateway) -> None:
    binding = AiBinding((200, ANSWER, {}))
    gw = make_gateway(BindingBackend(binding))
    assert post(gw).status == 200
    assert binding.calls[0][2] is None and "cf-aig-log-id" not in post(gw).headers


def test_a_raw_error_keeps_its_workers_ai_code_and_the_log_id(make_gateway: MakeGateway) -> None:
    error = {"internalCode": 5006, "description": "Input validation failed", "name": "InferenceUpstreamError"}
    binding = AiBinding((400, error, {"cf-aig-log-id": "log-err"}))
    gw = make_gateway(BindingBackend(binding), AI_GATEWAY_ID="team-gw")
    reply = post(gw)
    assert reply.status == 400
    assert (
        reply.json()["errors"][0]["code"] == 5006 and "Input validation failed" in reply.json()["errors"][0]["message"]
    )
    assert reply.headers["cf-aig-log-id"] == "log-err"
    assert json.loads(gw.logs[-1])["aig_log_id"] == "log-err"


def test_a_bad_gateway_id_is_a_configuration_problem(make_gateway: MakeGateway) -> None:
    gw = make_gateway(AI_GATEWAY_ID="team gw/../x")
    reply = post(gw)
    assert reply.status == 503 and "AI_GATEWAY_ID must be an AI Gateway's id" in reply.json()["errors"][0]["message"]


def test_affinity_and_ai_gateway_are_one_set_of_options_on_the_raw_response_path(make_gateway: MakeGateway) -> None:
    binding = AiBinding((200, CHAT_ANSWER, {"cf-aig-log-id": "log-2"}))
    gw = make_gateway(BindingBackend(binding), AI_GATEWAY_ID="team-gw")
    reply = post(gw, {"x-request-id": "req-9"}, path="/v1/chat/completions", body={**CHAT, "prompt_cache_key": "c-1"})
    assert reply.status == 200 and reply.json()["choices"][0]["message"]["content"] == "Hello"
    (_, _, options) = binding.calls[0]
    assert options is not None and set(options) == {"extraHeaders", "gateway", "returnRawResponse"}
    assert options["extraHeaders"]["x-session-affinity"].startswith("ses_")
    assert "c-1" not in json.dumps(options), "the client's session name never leaves the gateway"
    assert options["gateway"]["metadata"]["request_id"] == "req-9" and options["returnRawResponse"] is True
    assert reply.headers["cf-aig-log-id"] == "log-2"


def test_every_route_takes_the_clients_affinity_header_and_names_the_same_session(make_gateway: MakeGateway) -> None:
    backend = FixedBackend(ANSWER)
    gw = make_gateway(backend)
    post(gw, {"x-session-affinity": "c-2"})  # Workers AI's own header, on its own route
    post(gw, path="/v1/chat/completions", body={**CHAT, "prompt_cache_key": "c-2"})
    post(gw, {"x-session-affinity": "c-2"}, path="/v1/chat/completions", body={**CHAT, "prompt_cache_key": "c-3"})
    native, by_key, key_first = (options.get("extraHeaders") for _, _, options in backend.calls)
    assert native == by_key and native is not None and native["x-session-affinity"] != "c-2"
    assert key_first != native, "the request's prompt_cache_key comes before the header"
