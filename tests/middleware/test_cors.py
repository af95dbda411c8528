"""CORS: an allow-list of origins, preflights without a key, never `*` with credentials."""

from __future__ import annotations

import pytest

from tests.client import request, run
from tests.conftest import NATIVE, MakeGateway

APP = "https://app.example.com"
EVIL = "https://evil.example.net"
SDK_HEADERS = "authorization, content-type, x-stainless-lang, x-stainless-retry-count, openai-organization"


def _preflight(origin: str, method: str = "POST", headers: str = SDK_HEADERS) -> dict[str, str]:
    return {"origin": origin, "access-control-request-method": method, "access-control-request-headers": headers}


@pytest.mark.parametrize(
    ("configured", "origin", "method", "headers", "status", "allow_origin", "credentials"),
    [
        (APP, APP, "POST", SDK_HEADERS, 204, APP, "true"),
        (APP, APP, "GET", "authorization", 204, APP, "true"),
        (
            f"{APP},http://localhost:3000",
            "http://localhost:3000",
            "POST",
            "content-type",
            204,
            "http://localhost:3000",
            "true",
        ),
        ("*", EVIL, "POST", SDK_HEADERS, 204, "*", None),
        (APP, EVIL, "POST", SDK_HEADERS, 403, None, None),
        ("", APP, "POST", SDK_HEADERS, 403, None, None),
        (APP, APP, "DELETE", "authorization", 204, APP, "true"),  # DELETE /v1/responses/{id}
        (APP, APP, "PUT", "authorization", 403, None, None),
        (APP, APP, "POST", "authorization, x-evil", 403, None, None),
        (APP, APP.upper(), "POST", "authorization", 403, None, None),
    ],
)
def test_preflight_matrix(
    make_gateway: MakeGateway,
    configured: str,
    origin: str,
    method: str,
    headers: str,
    status: int,
    allow_origin: str | None,
    credentials: str | None,
) -> None:
    gw = make_gateway(CORS_ORIGINS=configured)
    reply = run(request(gw.app, "OPTIONS", NATIVE, headers=_preflight(origin, method, headers)))  # no key
    assert reply.status == status
    assert reply.headers.get("access-control-allow-origin") == allow_origin
    assert reply.headers.get("access-control-allow-credentials") == credentials
    assert reply.headers["vary"] == "Origin"
    if status == 204:
        allowed = reply.headers["access-control-allow-headers"].split(", ")
        assert allowed == [h.strip() for h in headers.split(",")]
        assert reply.headers["access-control-allow-methods"] == "GET, POST, DELETE, OPTIONS"
    else:
        # A refusal on /ai/run is in Cloudflare's envelope, like every other error there.
        body = reply.json()
        assert body["success"] is False and body["result"] is None
        assert "not allowed" in body["errors"][0]["message"]
    assert gw.backend.calls == []


# What Anthropic's TypeScript SDK sends from a browser (`dangerouslyAllowBrowser: true`).
ANTHROPIC_HEADERS = (
    "anthropic-dangerous-direct-browser-access, anthropic-version, anthropic-beta, content-type, x-api-key, "
    "x-stainless-lang, x-stainless-timeout"
)


def test_anthropics_browser_sdk_may_call_the_messages_route(make_gateway: MakeGateway) -> None:
    gw = make_gateway(CORS_ORIGINS=APP)
    preflight = run(request(gw.app, "OPTIONS", "/v1/messages", headers=_preflight(APP, "POST", ANTHROPIC_HEADERS)))
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-headers"] == ANTHROPIC_HEADERS
    body = {"model": "gpt-oss-120b", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}
    answer = run(request(gw.app, "POST", "/v1/messages", body=body, headers={"x-api-key": gw.key, "origin": APP}))
    assert answer.status == 200 and answer.headers["access-control-allow-origin"] == APP
    assert "request-id" in answer.headers["access-control-expose-headers"].split(", ")


def test_a_refused_preflight_on_the_messages_path_is_in_anthropics_envelope(make_gateway: MakeGateway) -> None:
    gw = make_gateway(CORS_ORIGINS=APP)
    reply = run(request(gw.app, "OPTIONS", "/v1/messages", headers=_preflight(EVIL, "POST", ANTHROPIC_HEADERS)))
    assert reply.status == 403
    assert reply.json()["type"] == "error" and reply.json()["error"]["type"] == "permission_error"


def test_a_refused_preflight_on_an_openai_path_is_in_openais_envelope(make_gateway: MakeGateway) -> None:
    gw = make_gateway(CORS_ORIGINS=APP)
    reply = run(request(gw.app, "OPTIONS", "/v1/chat/completions", headers=_preflight(EVIL)))
    assert reply.status == 403
    error = reply.json()["error"]
    assert (error["type"], error["code"]) == ("permission_error", "cors_refused")
    assert "it is not in CORS_ORIGINS" in error["message"]
    assert "access-control-allow-origin" not in reply.headers


@pytest.mark.parametrize(
    ("configured", "origin", "allow_origin", "credentials"),
    [(APP, APP, APP, "true"), ("*", EVIL, "*", None), (APP, EVIL, None, None), ("", APP, None, None)],
)
def test_actual_requests_carry_cors_headers_on_success_and_on_errors(
    make_gateway: MakeGateway, configured: str, origin: str, allow_origin: str | None, credentials: str | None
) -> None:
    gw = make_gateway(CORS_ORIGINS=configured)
    ok = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi"}, headers={**gw.auth, "origin": origin}))
    unauthorized = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi"}, headers={"origin": origin}))
    assert (ok.status, unauthorized.status) == (200, 401)
    for reply in (ok, unauthorized):
        assert reply.headers.get("access-control-allow-origin") == allow_origin
        assert reply.headers.get("access-control-allow-credentials") == credentials
        if allow_origin is not None:
            exposed = reply.headers["access-control-expose-headers"]
            assert "x-request-id" in exposed and "retry-after" in exposed and "x-ratelimit-remaining-tokens" in exposed


def test_the_gateways_own_headers_may_be_sent_and_read_cross_origin(make_gateway: MakeGateway) -> None:
    gw = make_gateway(CORS_ORIGINS=APP)
    sent = "x-session-affinity, x-gateway-fallback, cf-aig-cache-ttl, cf-aig-skip-cache, cf-aig-cache-key"
    assert run(request(gw.app, "OPTIONS", NATIVE, headers=_preflight(APP, headers=sent))).status == 204
    refused = run(request(gw.app, "OPTIONS", NATIVE, headers=_preflight(APP, headers="x-made-up")))
    message = refused.json()["errors"][0]["message"]
    assert refused.status == 403 and "x-made-up" in message and "x-session-affinity, x-gateway-fallback" in message
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi"}, headers={**gw.auth, "origin": APP}))
    exposed = set(reply.headers["access-control-expose-headers"].split(", "))
    assert {"x-gateway-model", "x-gateway-fallback-from", "cf-aig-log-id", "cf-aig-cache-status"} <= exposed
    assert {"x-ratelimit-remaining-usd-day", "x-ratelimit-reset-usd-month"} <= exposed


def test_never_star_with_credentials(make_gateway: MakeGateway) -> None:
    gw = make_gateway(CORS_ORIGINS="*")
    for method, headers in (("OPTIONS", _preflight(APP)), ("POST", {"origin": APP})):
        reply = run(request(gw.app, method, NATIVE, body={"prompt": "hi"}, headers=headers))
        assert reply.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in reply.headers


def test_requests_without_origin_get_no_cors_headers(make_gateway: MakeGateway) -> None:
    gw = make_gateway(CORS_ORIGINS=APP)
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi"}, headers=gw.auth))
    assert not [name for name in reply.headers if name.startswith("access-control-") or name == "vary"]


def test_an_options_request_that_is_not_a_preflight_still_needs_its_route(make_gateway: MakeGateway) -> None:
    gw = make_gateway(CORS_ORIGINS=APP)
    assert run(request(gw.app, "OPTIONS", NATIVE, headers={"origin": APP})).status == 405


def test_a_bad_cors_variable_fails_closed(make_gateway: MakeGateway) -> None:
    gw = make_gateway(CORS_ORIGINS="https://a.example/path")
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi"}, headers=gw.auth))
    assert reply.status == 503 and "CORS_ORIGINS" in reply.json()["errors"][0]["message"]
