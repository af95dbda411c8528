"""Sealed tokens: they open only with the same secret and context, and any change is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from gateway._seal import MIN_SECRET_LENGTH, HmacSha256, Sealer, SealError

SECRET = "s" * MIN_SECRET_LENGTH
KEY_A, KEY_B = "a" * 64, "b" * 64


@pytest.mark.parametrize("key", [b"", b"k", b"x" * 64, b"y" * 65, bytes(range(200))])
@pytest.mark.parametrize("message", [b"", b"abc", bytes(range(256)) * 3])
def test_the_hmac_is_rfc_2104_hmac_sha256(key: bytes, message: bytes) -> None:
    assert HmacSha256(key).digest(message) == hmac.new(key, message, hashlib.sha256).digest()


@pytest.mark.parametrize("text", ["", "x", "Reasoning, with ünïcode and emoji 🤖.\n" * 50, "a" * 10_000])
def test_a_sealed_text_opens_to_itself(text: str) -> None:
    sealer = Sealer(SECRET)
    token = sealer.seal(text, KEY_A)
    assert token.startswith("gwr1.")
    assert len(text) < 10 or text[:10] not in token, "the text is not readable in the token"
    assert sealer.open(token, KEY_A) == text
    assert Sealer(SECRET).open(token, KEY_A) == text, "another instance with the same secret opens it"


def test_two_seals_of_one_text_differ() -> None:
    sealer = Sealer(SECRET)
    assert sealer.seal("same", KEY_A) != sealer.seal("same", KEY_A)


def test_another_secret_or_another_key_cannot_open_it() -> None:
    token = Sealer(SECRET).seal("thoughts", KEY_A)
    with pytest.raises(SealError):
        Sealer("t" * MIN_SECRET_LENGTH).open(token, KEY_A)
    with pytest.raises(SealError):
        Sealer(SECRET).open(token, KEY_B)


def _flip(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token[5:] + "=" * (-len(token[5:]) % 4)))
    raw[index] ^= 1
    return "gwr1." + base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


@pytest.mark.parametrize("index", [0, 15, 16, 20, -33, -1])  # nonce, ciphertext, tag
def test_any_flipped_bit_is_refused(index: int) -> None:
    sealer = Sealer(SECRET)
    token = sealer.seal("the model's own reasoning", KEY_A)
    with pytest.raises(SealError):
        sealer.open(_flip(token, index), KEY_A)


@pytest.mark.parametrize(
    "token", ["", "gwr1.", "gwr1.%%%%", "gwr2.AAAA", "plain reasoning", "gwr1." + "A" * 40, "gAAAAABo-openai"]
)
def test_what_is_not_a_token_is_refused(token: str) -> None:
    with pytest.raises(SealError):
        Sealer(SECRET).open(token, KEY_A)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        Sealer("short")
