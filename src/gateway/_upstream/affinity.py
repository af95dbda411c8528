"""Prefix-cache affinity: which Workers AI instance a call should reach, for every dialect.

Workers AI sends requests with the same `x-session-affinity` header to the instance that holds
their prefix cache (the binding takes it in `extraHeaders`; the HTTP backends send it as a header,
through AI Gateway too). A route says what it knows of the session in an `Affinity`, and
`run_options` puts the header with the call's other options. The session is, first found: the
client's own name for it in the request (OpenAI's `prompt_cache_key`), its `x-session-affinity`
header (on every route), or the conversation the gateway knows the request continues (the first
response of a `previous_response_id` chain; Claude Code's session). What is sent is `ses_` and a
hash of the session with the key's id: the client's text never leaves the gateway, and two keys
never share a session by choosing one name.
"""

from __future__ import annotations

from typing import Any

from .._asgi.http import Scope, header
from .._digest import sha256
from .._limits.guards import key_of
from .._valueclass import FrozenRecord

__all__ = ["AFFINITY_HEADER", "Affinity", "session_headers"]

AFFINITY_HEADER = "x-session-affinity"


class Affinity(FrozenRecord):
    """What a route knows of the prefix-cache session its call belongs to."""

    __slots__ = ("cache_key", "chain")
    cache_key: str | None  # the client's own name for the session in its request (`prompt_cache_key`)
    chain: str | None  # the conversation the gateway knows the request continues

    def __init__(self, cache_key: Any = None, chain: str | None = None) -> None:
        self._init(cache_key=cache_key if isinstance(cache_key, str) and cache_key else None, chain=chain)


def session_headers(scope: Scope, affinity: Affinity) -> dict[str, str]:
    """The `extraHeaders` that send this call to its session's instance; none without a session."""
    named = affinity.cache_key or header(scope, AFFINITY_HEADER.encode()) or affinity.chain
    if not named:
        return {}
    key = key_of(scope)
    digest = sha256(f"{key.key_id if key else ''}\n{named}".encode("utf-8", "surrogatepass")).hexdigest()
    return {AFFINITY_HEADER: "ses_" + digest[:32]}
