"""Authentication fails closed, compares hashes, and says what to send."""

from __future__ import annotations

import json

import pytest

from gateway._middleware.auth import find_key
from gateway._policy import parse_keys
from gateway.local.keygen import key_entry
from tests.client import request, run
from tests.conftest import KEY, NATIVE, MakeGateway

BODY = {"prompt": "hi"}


@pytest.mark.parametrize(
    "headers", [{"authorization": f"Bearer {KEY}"}, {"x-api-key": KEY}, {"authorization": f"bearer   {KEY}  "}]
)
def test_a_configured_key_is_accepted_in_either_header(make_gateway: MakeGateway, headers: dict[str, str]) -> None:
    gw = make_gateway()
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=headers)).status == 200


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({}, "An API key is required"),
        ({"authorization": "Bearer wrong"}, "not valid"),
        ({"x-api-key": "wrong"}, "not valid"),
        ({"authorization": f"Basic {KEY}"}, "must be `Bearer <key>`"),
        ({"authorization": "Bearer "}, "must be `Bearer <key>`"),
        ({"authorization": "Bearer " + "k" * 5000}, "not valid"),
        ({"authorization": f"Bearer {KEY}x"}, "not valid"),
        ({"authorization": "Bearer \u00e9\u00e8"}, "not valid"),
    ],
)
def test_a_missing_or_unknown_key_is_a_401_that_says_what_to_send(
    make_gateway: MakeGateway, headers: dict[str, str], says: str
) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=headers))
    assert reply.status == 401
    message = reply.json()["errors"][0]["message"]
    assert says in message and "Authorization: Bearer <key>" in message
    assert gw.backend.calls == []


def test_no_configured_keys_means_503_with_how_to_configure(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys="")
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers={"authorization": "Bearer anything"}))
    assert reply.status == 503
    assert "gateway keys create" in reply.json()["errors"][0]["message"]
    health = run(request(gw.app, "GET", "/healthz"))
    assert health.status == 503 and health.json()["status"] == "unconfigured"


@pytest.mark.parametrize(
    "keys", ["not json", '{"name": "a"}', '[{"name": "a", "sha256": "abc"}]', '[{"sha256": "' + "0" * 64 + '"}]']
)
def test_broken_key_configuration_fails_closed(make_gateway: MakeGateway, keys: str) -> None:
    gw = make_gateway(keys=keys)
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers={"authorization": f"Bearer {KEY}"}))
    assert reply.status == 503
    assert "GATEWAY_KEYS" in reply.json()["errors"][0]["message"]


def test_a_bad_variable_fails_closed_naming_it(make_gateway: MakeGateway) -> None:
    gw = make_gateway(UPSTREAM_TIMEOUT_S="soon")
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers={"authorization": f"Bearer {KEY}"}))
    assert reply.status == 503
    assert "UPSTREAM_TIMEOUT_S" in reply.json()["errors"][0]["message"]


def test_find_key_matches_by_hash_among_several() -> None:
    keys = parse_keys(json.dumps([key_entry("a", "key-a"), key_entry("b", "key-b")]))
    assert find_key(keys, "key-b").name == "b"  # type: ignore[union-attr]
    assert find_key(keys, "key-c") is None


def test_logs_name_the_key_and_never_contain_it(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    run(request(gw.app, "POST", NATIVE, body=BODY, headers={"authorization": f"Bearer {KEY}"}))
    run(request(gw.app, "POST", NATIVE, body=BODY, headers={"authorization": f"Bearer {KEY}-wrong"}))
    assert json.loads(gw.logs[0])["key"] == "tester"
    assert all(KEY not in line for line in gw.logs)


def test_the_digest_functions_are_hashlibs_and_hmacs() -> None:
    import hashlib

    from gateway._digest import compare_digest, sha256

    assert sha256(b"gateway").hexdigest() == hashlib.sha256(b"gateway").hexdigest()
    assert compare_digest(b"same", b"same") and not compare_digest(b"same", b"diff")
