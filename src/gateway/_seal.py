"""Sealed tokens: text only this gateway can read back, and that no one else can make or alter.

They carry gpt-oss's reasoning to clients that ask for `include: ["reasoning.encrypted_content"]`
and keep nothing themselves (Codex sends `store: false`): the client hands the token back on its
next turn and the gateway opens it, knowing the reasoning is its own model's and unaltered.

The construction is encrypt-then-MAC from one primitive, HMAC-SHA256, with the SHA-256 of
`_digest` (the Worker does not import `hashlib` or `hmac`: see `_digest.py`):

- two keys are derived from the operator's secret: `k_enc = HMAC(secret, "...encrypt/v1")` and
  `k_mac = HMAC(secret, "...authenticate/v1")`, so neither key is used for two jobs;
- encryption is HMAC-SHA256 in counter mode, a stream cipher from a pseudorandom function:
  keystream block i is `HMAC(k_enc, nonce || i)` (i as 8 bytes, big-endian), XORed with the
  text. The nonce is 16 random bytes per token, so a keystream is never reused;
- the tag is `HMAC(k_mac, version || len(context) || context || nonce || ciphertext)`, all 32
  bytes, checked in constant time before anything is decrypted. `context` binds a token to
  what it was made for (the API key's hash): a token made for one key does not open for another;
- the token is `gwr1.` + base64url(nonce || ciphertext || tag), unpadded.

Forging a token means forging HMAC-SHA256 under a key derived from the secret; reading one means
telling HMAC-SHA256 from random. Changing the secret invalidates every token made before.
"""

from __future__ import annotations

import binascii
import os

from ._digest import compare_digest, sha256

__all__ = ["MIN_SECRET_LENGTH", "HmacSha256", "SealError", "Sealer"]

# Long enough that a secret of random characters holds well over 128 bits.
MIN_SECRET_LENGTH = 32

_PREFIX = "gwr1."
_VERSION = b"\x01"
_NONCE_BYTES = 16
_TAG_BYTES = 32
_BLOCK = 32  # one HMAC-SHA256 output
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")


class SealError(ValueError):
    """A token that this gateway did not make, or that was altered, or that is for another context."""


class HmacSha256:
    """HMAC-SHA256 (RFC 2104) with the key's pads hashed once; each use copies those states."""

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:
            key = sha256(key).digest()
        key = key.ljust(64, b"\x00")
        self._inner = sha256(bytes(b ^ 0x36 for b in key))
        self._outer = sha256(bytes(b ^ 0x5C for b in key))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _xor(data: bytes, stream: bytes) -> bytes:
    if not data:
        return b""
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[: len(data)], "big")).to_bytes(len(data), "big")


class Sealer:
    """Seals and opens tokens under keys derived from one secret (see the module docstring)."""

    __slots__ = ("_encrypt", "_mac")

    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"the secret must be at least {MIN_SECRET_LENGTH} characters")
        master = HmacSha256(secret.encode("utf-8"))
        self._encrypt = HmacSha256(master.digest(b"gpt-oss-gateway/reasoning/encrypt/v1"))
        self._mac = HmacSha256(master.digest(b"gpt-oss-gateway/reasoning/authenticate/v1"))

    def _keystream(self, nonce: bytes, length: int) -> bytes:
        blocks = (length + _BLOCK - 1) // _BLOCK
        return b"".join(self._encrypt.digest(nonce + i.to_bytes(8, "big")) for i in range(blocks))

    def _tag(self, context: bytes, nonce: bytes, ciphertext: bytes) -> bytes:
        return self._mac.digest(_VERSION + len(context).to_bytes(4, "big") + context + nonce + ciphertext)

    def seal(self, text: str, context: str) -> str:
        plain = text.encode("utf-8")
        nonce = os.urandom(_NONCE_BYTES)
        ciphertext = _xor(plain, self._keystream(nonce, len(plain)))
        raw = nonce + ciphertext + self._tag(context.encode("utf-8"), nonce, ciphertext)
        encoded = binascii.b2a_base64(raw, newline=False).translate(_TO_URLSAFE).rstrip(b"=")
        return _PREFIX + encoded.decode("ascii")

    def open(self, token: str, context: str) -> str:
        """The sealed text; raises SealError for anything this sealer did not make for `context`."""
        raw = _decode(token)
        nonce, ciphertext, tag = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:-_TAG_BYTES], raw[-_TAG_BYTES:]
        if not compare_digest(tag, self._tag(context.encode("utf-8"), nonce, ciphertext)):
            raise SealError("the token was not made by this gateway for this key, or it was altered")
        try:
            return _xor(ciphertext, self._keystream(nonce, len(ciphertext))).decode("utf-8")
        except UnicodeDecodeError:  # unreachable for a token whose tag matched; kept as a guard
            raise SealError("the token does not hold text") from None


def _decode(token: str) -> bytes:
    if not isinstance(token, str) or not token.startswith(_PREFIX):
        raise SealError("the token is not one this gateway makes")
    body = token[len(_PREFIX) :].encode("ascii", "replace")
    try:
        raw = binascii.a2b_base64(body.translate(_FROM_URLSAFE) + b"=" * (-len(body) % 4), strict_mode=True)
    except (binascii.Error, ValueError):
        raise SealError("the token is not valid base64url") from None
    if len(raw) < _NONCE_BYTES + _TAG_BYTES:
        raise SealError("the token is too short")
    return raw
