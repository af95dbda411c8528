"""The HTTP backends against httpx's MockTransport: shapes, streams and errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from gateway._errors import UpstreamError, WorkersAIError
from gateway._upstream.backend import WithHeaders
from gateway.local.http_backends import OpenAIBackend, RestBackend
from tests.client import request, run
from tests.conftest import NATIVE, Harness, MakeGateway

MODEL = "@cf/openai/gpt-oss-120b"


def rest(handler) -> RestBackend:  # type: ignore[no-untyped-def]
    return RestBackend("acct", "token", base_url="https://cf.test/client/v4", transport=httpx.MockTransport(handler))


def test_rest_unwraps_the_envelope_and_sends_the_token() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"result": {"response": "ok"}, "success": True, "errors": [], "messages": []})

    assert run(rest(handler).run(MODEL, {"prompt": "x"}, {})) == {"response": "ok"}
    assert seen[0].url.path == f"/client/v4/accounts/acct/ai/run/{MODEL}"
    assert seen[0].headers["authorization"] == "Bearer token"
    assert json.loads(seen[0].content) == {"prompt": "x"}


def test_rest_queue_request_becomes_the_query_parameter() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json={"result": {"status": "queued", "request_id": "r"}, "success": True})

    run(rest(handler).run(MODEL, {"requests": [{"input": "a"}]}, {"queueRequest": True}))
    assert seen[0].url.params["queueRequest"] == "true"


def test_rest_errors_become_workers_ai_errors() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={
                "result": None,
                "success": False,
                "errors": [{"code": 3040, "message": "Capacity temporarily exceeded"}],
            },
        )

    with pytest.raises(WorkersAIError) as caught:
        run(rest(handler).run(MODEL, {"prompt": "x"}, {}))
    assert caught.value.workers_ai_code == 3040 and caught.value.retryable


def test_rest_streams_pass_through_as_bytes() -> None:
    body = b'data: {"response":"a"}\n\ndata: [DONE]\n\n'

    async def produce() -> AsyncIterator[bytes]:
        yield body[:10]
        yield body[10:]

    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=produce())

    async def read() -> bytes:
        stream = await rest(handler).run(MODEL, {"prompt": "x", "stream": True}, {})
        chunks = [chunk async for chunk in stream]  # type: ignore[union-attr]
        await stream.aclose()  # type: ignore[union-attr]
        return b"".join(chunks)

    assert run(read()) == body


GATEWAY = {
    "id": "team-gw",
    "metadata": {"key": "alice", "tier": "pro", "request_id": "req-1"},
    "cacheTtl": 600,
    "skipCache": False,
    "cacheKey": "faq-1",
}
ENVELOPE = {"result": {"response": "ok"}, "success": True, "errors": [], "messages": []}


def via_gateway(handler, token: str | None = None) -> RestBackend:  # type: ignore[no-untyped-def]
    return RestBackend(
        "acct", "token", gateway_url="https://aig.test/v1", gateway_token=token, transport=httpx.MockTransport(handler)
    )


def test_rest_goes_through_ai_gateways_url_with_the_options_as_its_headers() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json=ENVELOPE, headers={"cf-aig-log-id": "log-9", "cf-aig-cache-status": "HIT"})

    answer = run(via_gateway(handler, token="aig-secret").run(MODEL, {"prompt": "x"}, {"gateway": GATEWAY}))
    assert isinstance(answer, WithHeaders) and answer.result == {"response": "ok"}
    assert answer.headers == {"cf-aig-log-id": "log-9", "cf-aig-cache-status": "HIT"}
    (sent,) = seen
    assert str(sent.url) == f"https://aig.test/v1/acct/team-gw/workers-ai/{MODEL}"
    assert sent.headers["authorization"] == "Bearer token"  # Workers AI's own token
    assert sent.headers["cf-aig-authorization"] == "Bearer aig-secret"  # an authenticated gateway's
    assert json.loads(sent.headers["cf-aig-metadata"]) == GATEWAY["metadata"]
    assert (sent.headers["cf-aig-cache-ttl"], sent.headers["cf-aig-skip-cache"]) == ("600", "false")
    assert sent.headers["cf-aig-cache-key"] == "faq-1"
    assert json.loads(sent.content) == {"prompt": "x"}, "the body is Workers AI's, unchanged"


def test_rest_without_a_gateway_token_sends_no_gateway_authorization() -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json=ENVELOPE)

    answer = run(via_gateway(handler).run(MODEL, {"prompt": "x"}, {"gateway": {"id": "g", "metadata": {}}}))
    assert isinstance(answer, WithHeaders) and answer.headers == {}
    assert "cf-aig-authorization" not in seen[0].headers and "cf-aig-cache-ttl" not in seen[0].headers


def test_rest_errors_through_the_gateway_carry_its_log_id() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        body = {"result": None, "success": False, "errors": [{"code": 3036, "message": "daily allocation"}]}
        return httpx.Response(429, json=body, headers={"cf-aig-log-id": "log-e"})

    with pytest.raises(WorkersAIError) as caught:
        run(via_gateway(handler).run(MODEL, {"prompt": "x"}, {"gateway": {"id": "g", "metadata": {}}}))
    assert caught.value.workers_ai_code == 3036 and caught.value.headers == {"cf-aig-log-id": "log-e"}


def test_the_local_server_routes_through_ai_gateway_when_it_is_configured(make_gateway: MakeGateway) -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json=ENVELOPE, headers={"cf-aig-log-id": "log-local"})

    gw = make_gateway(via_gateway(handler), AI_GATEWAY_ID="team-gw")
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "x"}, headers={**gw.auth, "x-request-id": "r-5"}))
    assert reply.status == 200 and reply.headers["cf-aig-log-id"] == "log-local"
    assert seen[0].url.path == f"/v1/acct/team-gw/workers-ai/{MODEL}"
    assert json.loads(seen[0].headers["cf-aig-metadata"]) == {"key": "tester", "tier": "default", "request_id": "r-5"}


def test_through_ai_gateway_the_session_affinity_header_goes_too(make_gateway: MakeGateway) -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        return httpx.Response(200, json=ENVELOPE)

    gw = make_gateway(via_gateway(handler), AI_GATEWAY_ID="team-gw")
    body = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "x"}], "prompt_cache_key": "c-1"}
    assert run(request(gw.app, "POST", "/v1/chat/completions", body=body, headers=gw.auth)).status == 200
    (sent,) = seen
    assert sent.url.path == f"/v1/acct/team-gw/workers-ai/{MODEL}" and "cf-aig-metadata" in sent.headers
    assert sent.headers["x-session-affinity"].startswith("ses_")


def test_openai_backend_routes_each_form_and_reshapes_the_prompt_form() -> None:
    paths: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        paths.append(req.url.path)
        sent = json.loads(req.content)
        assert sent["model"] == "gpt-oss-120b"
        if req.url.path.endswith("/completions") and "chat" not in req.url.path:
            return httpx.Response(200, json={"choices": [{"text": "hello"}], "usage": {"prompt_tokens": 1}})
        return httpx.Response(200, json={"object": "ok"})

    backend = OpenAIBackend("http://up.test/v1", transport=httpx.MockTransport(handler))
    assert run(backend.run(MODEL, {"prompt": "x"}, {}))["response"] == "hello"
    run(backend.run(MODEL, {"messages": [{"role": "user", "content": "x"}]}, {}))
    run(backend.run(MODEL, {"input": "x"}, {}))
    assert paths == ["/v1/completions", "/v1/chat/completions", "/v1/responses"]


def test_openai_backend_refuses_batch_and_reports_http_errors() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"error": {"message": "boom"}})

    backend = OpenAIBackend("http://up.test/v1", transport=httpx.MockTransport(handler))
    with pytest.raises(UpstreamError, match="cannot queue"):
        run(backend.run(MODEL, {"requests": []}, {"queueRequest": True}))
    with pytest.raises(UpstreamError, match="boom"):
        run(backend.run(MODEL, {"prompt": "x"}, {}))


@pytest.mark.parametrize("kind", ["rest", "openai"])
def test_the_session_affinity_option_becomes_the_http_header(kind: str) -> None:
    seen: list[httpx.Request] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req)
        if kind == "rest":
            return httpx.Response(200, json={"result": {"response": "ok"}, "success": True})
        return httpx.Response(200, json={"choices": [{"text": "ok"}]})

    backend = (
        rest(handler) if kind == "rest" else OpenAIBackend("https://up.test/v1", transport=httpx.MockTransport(handler))
    )
    run(backend.run(MODEL, {"prompt": "x"}, {"extraHeaders": {"x-session-affinity": "ses_1"}}))
    run(backend.run(MODEL, {"prompt": "x"}, {}))
    assert seen[0].headers["x-session-affinity"] == "ses_1"
    assert "x-session-affinity" not in seen[1].headers


def _openai_gateway(make_gateway: MakeGateway, response: httpx.Response) -> Harness:
    backend = OpenAIBackend("http://up.test/v1", transport=httpx.MockTransport(lambda req: response))
    return make_gateway(backend, CAPACITY_RETRIES="0")


CHAT = {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize("answer", [[1, 2], "text", 5])
def test_an_upstream_answering_json_that_is_not_an_object_is_a_502(make_gateway: MakeGateway, answer: Any) -> None:
    gw = _openai_gateway(make_gateway, httpx.Response(200, json=answer))
    for path, body in [(NATIVE, {"prompt": "hi"}), ("/v1/chat/completions", CHAT)]:
        reply = run(request(gw.app, "POST", path, body=body, headers=gw.auth))
        assert reply.status == 502, reply.body
        assert "not an object" in reply.body.decode()


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"retry-after": "7"}, "7"),
        (429, {}, "1"),
        (503, {"retry-after": "2.5"}, "3"),
        (503, {"retry-after": "an HTTP date 30 s from now"}, None),
    ],
)
def test_upstream_429_and_503_keep_their_status_and_pass_retry_after_on(
    make_gateway: MakeGateway, status: int, headers: dict[str, str], retry_after: str | None
) -> None:
    if retry_after is None:  # made when the test runs, not when it is collected
        headers = {"retry-after": format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)}
    gw = _openai_gateway(make_gateway, httpx.Response(status, headers=headers, json={"error": {"message": "busy"}}))
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=CHAT, headers=gw.auth))
    assert reply.status == status
    assert reply.json()["error"]["type"] == ("rate_limit_error" if status == 429 else "service_unavailable")
    shown = int(reply.headers["retry-after"])
    assert shown == int(retry_after) if retry_after else 25 <= shown <= 31, shown


def test_rest_429_without_a_code_is_a_429_with_its_retry_after(make_gateway: MakeGateway) -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"retry-after": "12"}, json={"success": False, "errors": []})

    gw = make_gateway(rest(handler))
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi"}, headers=gw.auth))
    assert (reply.status, reply.headers["retry-after"]) == (429, "12")


def test_an_upstream_context_length_refusal_is_context_length_exceeded(make_gateway: MakeGateway) -> None:
    message = "This model's maximum context length is 131072 tokens. However, you requested 140000 tokens."
    gw = _openai_gateway(make_gateway, httpx.Response(400, json={"error": {"message": message}}))
    reply = run(request(gw.app, "POST", "/v1/chat/completions", body=CHAT, headers=gw.auth))
    assert reply.status == 400
    assert reply.json()["error"]["code"] == "context_length_exceeded"
