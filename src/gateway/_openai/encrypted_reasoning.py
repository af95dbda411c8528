"""`reasoning.encrypted_content`: reasoning sealed for the client to hand back on a later turn.

A token is sealed (gateway/_seal.py) with `REASONING_SECRET` and bound to the API key that asked
for it: only this gateway opens it, only for that key, and a token that was forged or altered is
refused with a 400 naming it. Without a secret the gateway makes no tokens: the `include` entry
is reported as ignored, and a token sent in is refused (nothing here could have made it).
"""

from __future__ import annotations

from collections.abc import Callable

from .._asgi.http import Scope
from .._config import settings_of
from .._errors import InvalidRequest
from .._limits.guards import key_of
from .._seal import SealError

__all__ = ["ENCRYPTED_CONTENT", "no_secret", "opener_for", "sealer_for"]

ENCRYPTED_CONTENT = "reasoning.encrypted_content"


def _context(scope: Scope) -> str:
    key = key_of(scope)
    return key.key_id if key is not None else ""


def no_secret(token: str, where: str) -> str:
    """The opener when no REASONING_SECRET is configured: nothing here could have made the token."""
    raise InvalidRequest(
        f"`{where}` cannot be opened: this gateway has no REASONING_SECRET, so it made no encrypted "
        "reasoning. Send the reasoning item without encrypted_content.",
        param=where,
    )


def sealer_for(scope: Scope) -> Callable[[str], str] | None:
    """Seals reasoning for this request's key; None when no REASONING_SECRET is configured."""
    sealer = settings_of(scope).reasoning_sealer
    if sealer is None:
        return None
    context = _context(scope)
    return lambda text: sealer.seal(text, context)


def opener_for(scope: Scope) -> Callable[[str, str], str]:
    """Opens a token this gateway sealed for this request's key, or refuses it naming `where`."""
    sealer = settings_of(scope).reasoning_sealer
    context = _context(scope)

    if sealer is None:
        return no_secret

    def open_token(token: str, where: str) -> str:
        try:
            return sealer.open(token, context)
        except SealError:
            raise InvalidRequest(
                f"`{where}` was not made by this gateway for this API key, or it was altered (or the gateway's "
                "REASONING_SECRET has changed since). Send the reasoning item without encrypted_content, or "
                "start the conversation again.",
                param=where,
                code="invalid_encrypted_content",
            ) from None

    return open_token
