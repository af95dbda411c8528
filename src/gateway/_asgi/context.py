"""The per-request context: what one request's layers tell each other and its log line."""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from .http import Scope

__all__ = ["CONTEXT_KEY", "IGNORED_HEADER", "PASSED_HEADER", "RequestContext", "context_of"]

# Where the context lives in the ASGI scope; `context_of` reads it.
CONTEXT_KEY = "gateway.context"

# The response header that names the request fields the gateway accepted but did not act on.
IGNORED_HEADER = "x-gateway-ignored"
# The response header that names the request fields the gateway does not know and passed on to
# the model unchanged (the native route, a drop-in for Workers AI's REST API).
PASSED_HEADER = "x-gateway-passed-through"
# A reported name is a field name or path as clients write them; anything else (a name a client
# made up with spaces, quotes or line breaks) is counted, not echoed, so it cannot forge a header.
_REPORTABLE = re.compile(r"^[A-Za-z0-9_.\-\[\]]{1,64}$")
_MAX_REPORTED = 32


class RequestContext:
    """What one request's layers tell each other and the log line. Lives in the ASGI scope.

    A plain slotted class, not a dataclass: one is made per request, and in Pyodide a dataclass
    costs about a millisecond to define at import.
    """

    __slots__ = (
        "aborted",
        "backend",
        "cached_tokens",
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
        self.cached_tokens: int | None = None  # the part of input_tokens Workers AI read from its prefix cache
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

    def note_ignored(self, names: Iterable[str]) -> None:
        """Say that these request fields were accepted and not acted on: in `x-gateway-ignored`
        and on the log line, so that nothing is ignored silently."""
        self._report("ignored", IGNORED_HEADER, names)

    def note_passed(self, names: Iterable[str]) -> None:
        """Say that these request fields are unknown to the gateway and went to the model as they
        were: in `x-gateway-passed-through` and on the log line (`passed_through`)."""
        self._report("passed_through", PASSED_HEADER, names)

    def _report(self, log_name: str, header: str, names: Iterable[str]) -> None:
        reported: list[str] = self.extra.setdefault(log_name, [])
        for name in names:
            shown = name if _REPORTABLE.match(name) else "(a field with an unusual name)"
            if shown not in reported and len(reported) < _MAX_REPORTED:
                reported.append(shown)
        if reported:
            self.response_headers[header] = ", ".join(reported)


def context_of(scope: Scope) -> RequestContext:
    context = scope.get(CONTEXT_KEY)
    if context is None:
        # Only reachable when a layer runs without the context middleware (some unit tests).
        context = RequestContext(request_id="untracked")
        scope[CONTEXT_KEY] = context
    return context  # type: ignore[no-any-return]
