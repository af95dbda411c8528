"""Making API keys: a random secret shown once, and the entry (name + SHA-256) to configure."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["KEY_PREFIX", "key_entry", "new_key", "sha256_hex"]

KEY_PREFIX = "gw-"


def new_key() -> str:
    # 32 random bytes: guessing is hopeless, and a SHA-256 of it is a safe thing to store.
    return KEY_PREFIX + secrets.token_urlsafe(32)


def sha256_hex(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_entry(name: str, key: str) -> dict[str, str]:
    return {"name": name, "sha256": sha256_hex(key)}
