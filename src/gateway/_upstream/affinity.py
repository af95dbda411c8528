"""Prefix-cache affinity: which Workers AI instance a call should reach, for every dialect."""

from __future__ import annotations

from typing import Any

from .._asgi.http import Scope, header
from .._digest import sha256
from .._limits.guards import key_of

__all__ = ["affinity_options"]

_AFFINITY_HEADER = "x-session-affinity"


def affinity_options(scope: Scope, prompt_cache_key: Any, chain: str | None = None) -> dict[str, Any]:
    """The options that route this call to the Workers AI instance holding its prefix cache.

    Workers AI sends requests with the same `x-session-affinity` header to the same instance (the
    binding takes it as `extraHeaders`). The session is, first found: the request's
    `prompt_cache_key`, the client's own `x-session-affinity` header, or `chain`, the session the
    dialect knows of (the first response of a `previous_response_id` chain; Claude Code's session).
    What is sent is a hash of the session with the key's id: the client's text never leaves the
    gateway, and two keys never share a session by choosing one name.
    """
    session = prompt_cache_key if isinstance(prompt_cache_key, str) and prompt_cache_key else None
    session = session or header(scope, _AFFINITY_HEADER.encode()) or chain
    if not session:
        return {}
    key = key_of(scope)
    digest = sha256(f"{key.key_id if key else ''}\n{session}".encode("utf-8", "surrogatepass")).hexdigest()
    return {"extraHeaders": {_AFFINITY_HEADER: "ses_" + digest[:32]}}
