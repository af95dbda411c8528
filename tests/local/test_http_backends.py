"""The HTTP backends against httpx's MockTransport: shapes, streams and errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from gateway._errors import UpstreamError, WorkersAIError
from gateway.local.http_backends import OpenAIBackend, RestBackend
from tests.client import run

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
