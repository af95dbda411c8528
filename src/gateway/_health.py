"""`GET /healthz`: liveness without a key. It reveals no configuration, only whether it is usable."""

from __future__ import annotations

from ._guards import guards_of
from ._http import Receive, Scope, Send, send_json
from ._state import backend_of, settings_of

__all__ = ["healthz"]


async def healthz(scope: Scope, receive: Receive, send: Send) -> None:
    settings = settings_of(scope)
    ready = not settings.problems and (bool(settings.keys) or guards_of(scope).keys is not None)
    body = {
        "status": "ok" if ready else "unconfigured",
        "backend": backend_of(scope).name,
        "models": list(settings.models),
    }
    await send_json(send, 200 if ready else 503, body)
