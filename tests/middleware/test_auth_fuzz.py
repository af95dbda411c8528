"""Malformed and fuzzed authentication headers: never admitted, never a 5xx."""

from __future__ import annotations

import random

import pytest

from tests.client import request, run
from tests.conftest import KEY, NATIVE, MakeGateway, tiers

BODY = {"prompt": "hi"}


def _near_misses() -> list[dict[str, str]]:
    """The valid key, broken in the ways a client or an attacker might break it."""
    return [
        {"authorization": f"Bearer {KEY[:-1]}"},
        {"authorization": f"Bearer {KEY}{KEY}"},
        {"authorization": f"Bearer {KEY.swapcase()}"},
        {"authorization": f"Bearer {KEY[::-1]}"},
        {"authorization": f"Bearer\t{KEY}"},
        {"authorization": f"Token {KEY}"},
        {"authorization": f"Basic {KEY}"},
        {"authorization": KEY},
        {"authorization": f"Bearer {KEY} extra"},
        {"authorization": f"Bearer {KEY}\x00"},
        {"authorization": "Bearer"},
        {"authorization": ""},
        {"authorization": " "},
        {"x-api-key": ""},
        {"x-api-key": f"Bearer {KEY}"},
        {"x-api-key": KEY + "\u200b"},
        {"authorization": "Bearer wrong", "x-api-key": KEY},  # Authorization wins; it is wrong
    ]


def _fuzzed(seed: int, count: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    alphabet = [chr(c) for c in range(32, 127)] + ["\t", "é", "\u2028", "\ufeff", "💥", "\x7f", "\x80"]
    headers = []
    for _ in range(count):
        value = "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 7, 32, 64, 300, 5000])))
        name = rng.choice(["authorization", "x-api-key"])
        prefix = rng.choice(["", "Bearer ", "bearer ", "BEARER  ", "Bearer\t"])
        headers.append({name: prefix + value})
    return headers


@pytest.mark.parametrize("headers", _near_misses() + _fuzzed(seed=5, count=200))
def test_no_malformed_or_fuzzed_header_is_admitted_or_crashes_the_gateway(
    make_gateway: MakeGateway, headers: dict[str, str]
) -> None:
    gw = make_gateway(TIERS=tiers(requests=1000, tokens_per_minute=100_000))
    reply = run(request(gw.app, "POST", NATIVE, body=BODY, headers=headers))
    assert reply.status == 401, reply.body
    assert reply.json()["errors"][0]["message"]
    assert gw.backend.calls == []
    assert not [name for name in reply.headers if name.startswith("x-ratelimit-")]  # nothing counted
