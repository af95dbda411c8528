"""The per-request context: what one request's layers tell each other and its log line."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from .http import Scope

__all__ = ["CONTEXT_KEY", "RequestContext", "context_of"]

# Where the context lives in the ASGI scope; `context_of` reads it.
CONTEXT_KEY = "gateway.context"


class RequestContext:
    """What one request's layers tell each other and the log line. Lives in the ASGI scope.

    A plain slotted class, not a dataclass: one is made per request, and in Pyodide a dataclass
    costs about a millisecond to define at import.
    """

    __slots__ = (
        "aborted",
        "backend",
        "error",
        "extra",
        "finishers",
        "first_byte_ms",
        "input_tokens",
        "key_name",
        "model",
        "output_tokens",
        "request_id",
        "response_headers",
        "route",
        "started",
        "status",
        "streamed",
        "upstream_ms",
    )

    def __init__(self, request_id: str, backend: str | None = None) -> None:
        self.request_id = request_id
        self.backend = backend
        self.started = time.perf_counter()
        self.key_name: str | None = None
        self.route: str | None = None
        self.model: str | None = None
        self.streamed = False
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.upstream_ms: float | None = None
        self.first_byte_ms: float | None = None
        self.status: int | None = None
        self.error: str | None = None
        self.extra: dict[str, Any] = {}
        # Headers every answer to this request carries, error answers included (CORS, rate limits).
        self.response_headers: dict[str, str] = {}
        # The client went away before the answer was whole (what was generated is unknown).
        self.aborted = False
        # Run when the request is over, streams included, before its log line: reconciliation
        # work (token budgets, usage records) that needs the final counts.
        self.finishers: list[Callable[[RequestContext], Awaitable[None]]] = []

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


def context_of(scope: Scope) -> RequestContext:
    context = scope.get(CONTEXT_KEY)
    if context is None:
        # Only reachable when a layer runs without the context middleware (some unit tests).
        context = RequestContext(request_id="untracked")
        scope[CONTEXT_KEY] = context
    return context  # type: ignore[no-any-return]
