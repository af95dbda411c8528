"""Authentication, failing closed: no configured keys or a broken configuration serves nobody."""

from __future__ import annotations

import time

from .._asgi.context import context_of
from .._asgi.http import ASGIApp, Receive, Scope, Send, header
from .._config import Settings, settings_of
from .._digest import compare_digest, sha256
from .._errors import ServiceUnavailable, Unauthorized
from .._limits.guards import KEY_KEY, KeyStore, guards_of
from .._policy import ApiKey, format_time

__all__ = ["AuthMiddleware", "find_key", "presented_key"]

# Longer than any key `gateway keys create` makes, short enough that hashing it costs nothing.
_MAX_KEY_LENGTH = 256
_HOW_TO_SEND = "Send it as `Authorization: Bearer <key>` or `x-api-key: <key>`."


def presented_key(scope: Scope) -> str | None:
    """The key the client sent, or None. Raises Unauthorized for a malformed header."""
    authorization = header(scope, b"authorization")
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized(
                f"The Authorization header must be `Bearer <key>`. {_HOW_TO_SEND}", code="invalid_api_key"
            )
        return value.strip()
    api_key = header(scope, b"x-api-key")
    return api_key.strip() if api_key is not None else None


def _digest_of(presented: str) -> bytes:
    return sha256(presented.encode("utf-8", "surrogateescape")).digest()


def find_key(keys: tuple[ApiKey, ...], presented: str) -> ApiKey | None:
    return _match(keys, _digest_of(presented))


def _match(keys: tuple[ApiKey, ...], digest: bytes) -> ApiKey | None:
    """Compare by SHA-256 in constant time, visiting every entry so timing says nothing of which."""
    found = None
    for key in keys:
        if compare_digest(digest, key.sha256):
            found = key
    return found


async def _look_up(store: KeyStore, digest: bytes) -> ApiKey | None:
    try:
        return await store.find(digest.hex())
    except Exception as exc:
        # Authentication never fails open: a store that cannot answer admits no one.
        raise ServiceUnavailable(
            f"The gateway cannot read its key store ({store.name}) right now, so it cannot check the key. "
            "Retry shortly.",
            code="key_store_unavailable",
            retry_after=1.0,
        ) from exc


def _refuse_unusable(key: ApiKey, now: float) -> None:
    """An expired or revoked key says which, and nothing about any other key."""
    if key.disabled:
        raise Unauthorized(
            "This API key has been revoked. Ask the gateway's operator for a new key.", code="revoked_api_key"
        )
    if key.expires_at is not None and now >= key.expires_at:
        raise Unauthorized(
            f"This API key expired at {format_time(key.expires_at)}. Ask the gateway's operator for a new key.",
            code="expired_api_key",
        )


def _refuse_when_unconfigured(settings: Settings, has_store: bool) -> None:
    if settings.problems:
        raise ServiceUnavailable(
            "The gateway's configuration has problems, so it serves no one until they are fixed: "
            + "; ".join(settings.problems),
            code="gateway_misconfigured",
        )
    if not settings.keys and not has_store:
        raise ServiceUnavailable(
            "No API keys are configured, so the gateway refuses every request. Create one with "
            "`uv run gateway keys create --name NAME`, then set the GATEWAY_KEYS secret "
            "(`npx wrangler secret put GATEWAY_KEYS`, or .dev.vars locally).",
            code="no_keys_configured",
        )


class AuthMiddleware:
    def __init__(self, app: ASGIApp, *, public_paths: frozenset[str]) -> None:
        self.app = app
        self.public_paths = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        settings = settings_of(scope)
        store = guards_of(scope).keys
        _refuse_when_unconfigured(settings, store is not None)
        presented = presented_key(scope)
        if not presented:
            raise Unauthorized(f"An API key is required. {_HOW_TO_SEND}", code="missing_api_key")
        key = None
        if len(presented) <= _MAX_KEY_LENGTH:
            digest = _digest_of(presented)  # once, for GATEWAY_KEYS and the key store alike
            key = _match(settings.keys, digest)
            if key is None and store is not None:
                key = await _look_up(store, digest)
        if key is None:
            raise Unauthorized(f"The API key is not valid. {_HOW_TO_SEND}", code="invalid_api_key")
        context_of(scope).key_name = key.name
        _refuse_unusable(key, time.time())
        scope[KEY_KEY] = key
        await self.app(scope, receive, send)
