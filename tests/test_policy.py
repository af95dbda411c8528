"""Key policy: tiers, model scope, expiry and revocation, from GATEWAY_KEYS or a key store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._limits.bindings import KvKeyStore
from gateway._policy import parse_keys, parse_origins, parse_tiers, parse_time
from gateway.local.keygen import sha256_hex
from gateway.local.limits import local_guards
from tests.client import request, run
from tests.conftest import KEY, NATIVE, MakeGateway, tiers

BODY = {"prompt": "hi"}
OTHER = "gw-other-key-0123456789"


def _keys(**policy: Any) -> str:
    return json.dumps(
        [{"name": "tester", "sha256": sha256_hex(KEY), **policy}, {"name": "other", "sha256": sha256_hex(OTHER)}]
    )


def _message(reply: Any) -> str:
    return str(reply.json()["errors"][0]["message"])


def test_an_expired_key_is_a_401_that_says_so_and_when(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys=_keys(expires_at="2020-01-01"))
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 401
    assert _message(reply) == "This API key expired at 2020-01-01T00:00:00Z. Ask the gateway's operator for a new key."
    assert gw.backend.calls == []
    assert json.loads(gw.logs[-1])["key"] == "tester"


def test_a_key_that_expires_later_works(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys=_keys(expires_at="2999-01-01T00:00:00Z"))
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 200


def test_a_revoked_key_is_a_401_that_says_so(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys=_keys(disabled=True))
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 401 and "revoked" in _message(reply)
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers={"x-api-key": OTHER})).status == 200


def test_a_model_outside_the_keys_scope_is_a_403_naming_only_its_own_scope(make_gateway: MakeGateway) -> None:
    models = "@cf/openai/gpt-oss-120b,@cf/openai/gpt-oss-20b"
    gw = make_gateway(keys=_keys(models=["@cf/openai/gpt-oss-20b"]), MODELS=models)
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 403
    assert _message(reply) == (
        "This API key may use only @cf/openai/gpt-oss-20b; it may not use '@cf/openai/gpt-oss-120b'."
    )
    assert "other" not in _message(reply)
    assert run(request(gw.app, "POST", "/ai/run/@cf/openai/gpt-oss-20b", body=BODY, headers=gw.auth)).status == 200


def test_a_keys_tier_picks_its_limits(make_gateway: MakeGateway) -> None:
    both = json.dumps({"default": {"requests": 1}, "pro": {"requests": 3}})
    gw = make_gateway(keys=_keys(tier="pro"), TIERS=both)
    statuses = [run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_a_key_with_an_undefined_tier_fails_closed(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys=_keys(tier="gold"), TIERS=tiers(requests=1))
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 503 and "tier(s) gold that TIERS does not define" in _message(reply)


class KvDouble:
    """A KV namespace: `get(key)` answers the stored text or None."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    async def get(self, key: str) -> str | None:
        return self.values.get(key)


def test_keys_in_a_kv_store_are_found_by_hash_and_revoked_without_a_redeploy(make_gateway: MakeGateway) -> None:
    kv = KvDouble({sha256_hex(KEY): json.dumps({"name": "kv-key"})})
    gw = make_gateway(keys="", guards=local_guards(keys=KvKeyStore(kv)))
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 200
    assert json.loads(gw.logs[-1])["key"] == "kv-key"
    assert run(request(gw.app, "GET", "/healthz")).status == 200
    kv.values[sha256_hex(KEY)] = json.dumps({"name": "kv-key", "disabled": True})
    assert run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)).status == 401
    del kv.values[sha256_hex(KEY)]
    assert "not valid" in _message(run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth)))


class BrokenKv:
    async def get(self, key: str) -> str | None:
        raise RuntimeError("KV unavailable")


def test_a_key_store_that_fails_admits_no_one(make_gateway: MakeGateway) -> None:
    gw = make_gateway(keys="", guards=local_guards(keys=KvKeyStore(BrokenKv())), LIMITS_FAIL_OPEN="true")
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 503 and "GATEWAY_KEYS_KV" in _message(reply)


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"name": "a", "sha256": "0" * 64, "tier": "Pro"}, "tier must be a tier name"),
        ({"name": "a", "sha256": "0" * 64, "models": "all"}, "models must be a list"),
        ({"name": "a", "sha256": "0" * 64, "expires_at": "soon"}, "expires_at must be an ISO 8601 time"),
        ({"name": "a", "sha256": "0" * 64, "disabled": "yes"}, "disabled must be true or false"),
        ({"name": "a", "sha256": "0" * 64, "owner": "x"}, "unknown field(s) owner"),
    ],
)
def test_bad_key_records_are_refused_naming_the_field(entry: dict[str, Any], says: str) -> None:
    with pytest.raises(ValueError, match="GATEWAY_KEYS\\[0\\]") as caught:
        parse_keys(json.dumps([entry]))
    assert says in str(caught.value)


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ('{"default": {"requests": 0}}', "requests must be a whole number of at least 1"),
        ('{"default": {"requests": 5, "period": 30}}', "period must be 10 or 60"),
        ('{"default": {"rpm": 5}}', "unknown field(s) rpm"),
        ('{"Default": {}}', "must be a tier name"),
        ("[]", "TIERS must be a JSON object"),
        ('{"default": {"usd_per_day": 0}}', "usd_per_day must be an amount in US dollars greater than 0"),
        ('{"default": {"usd_per_month": "5"}}', "usd_per_month must be an amount in US dollars"),
        ('{"default": {"usd_per_month": true}}', "usd_per_month must be an amount in US dollars"),
        ('{"default": {"ai_gateway_cache_headers": "yes"}}', "ai_gateway_cache_headers must be true or false"),
    ],
)
def test_bad_tiers_are_refused_naming_the_field(raw: str, says: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_tiers(raw)
    assert says in str(caught.value)


def test_tiers_take_dollar_budgets_and_the_cache_header_flag() -> None:
    tier = parse_tiers('{"pro": {"usd_per_day": 2.5, "usd_per_month": 40, "ai_gateway_cache_headers": true}}')["pro"]
    assert (tier.usd_per_day, tier.usd_per_month, tier.ai_gateway_cache_headers) == (2.5, 40.0, True)
    assert tier.has_budget, "a dollar budget is kept by the budget object"
    plain = parse_tiers('{"default": {"requests": 5}}')["default"]
    assert plain.ai_gateway_cache_headers is False and not plain.has_budget


def test_a_bad_tiers_variable_fails_closed(make_gateway: MakeGateway) -> None:
    gw = make_gateway(TIERS='{"default": {"requests": -1}}')
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=gw.auth))
    assert reply.status == 503 and "TIERS.default.requests" in _message(reply)


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [("2026-12-31", 1798675200.0), ("2026-12-31T00:00:00Z", 1798675200.0), (1798675200, 1798675200.0)],
)
def test_times_are_iso_8601_or_epoch_seconds(raw: Any, parsed: float) -> None:
    assert parse_time(raw, "x") == parsed


@pytest.mark.parametrize("raw", ["*,https://a.example", "https://a.example/path", "a.example", "ftp://a.example"])
def test_bad_cors_origins_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="CORS_ORIGINS"):
        parse_origins(raw)
