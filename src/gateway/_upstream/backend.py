"""What an AI backend is, where a request finds it, and the one reading of the usage it reports.

A backend's `run(model, inputs, options)` answers like `env.AI.run`: a dict when the upstream
answered JSON, or a `ByteStream` of SSE bytes, either of them `WithHeaders` when the upstream's
response said something the client should hear (AI Gateway's log id and cache status). Failures
raise `WorkersAIError` (or another `UpstreamError`), whatever the backend.
"""

from __future__ import annotations

from typing import Any, Protocol

from .._asgi.context import RequestContext
from .._asgi.http import ByteStream, Scope

__all__ = [
    "BACKEND_KEY",
    "Backend",
    "BackendAnswer",
    "UpstreamResult",
    "Usage",
    "WithHeaders",
    "backend_of",
    "record_usage",
    "usage_of",
]

UpstreamResult = dict[str, Any] | ByteStream


class WithHeaders:
    """A result, and the upstream response headers the gateway passes on (`call_model` unwraps it)."""

    __slots__ = ("headers", "result")

    def __init__(self, result: UpstreamResult, headers: dict[str, str]) -> None:
        self.result, self.headers = result, headers


BackendAnswer = UpstreamResult | WithHeaders

# Where the app puts the backend in the ASGI scope; `backend_of` reads it.
BACKEND_KEY = "gateway.backend"


class Backend(Protocol):
    name: str

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> BackendAnswer: ...


def backend_of(scope: Scope) -> Backend:
    return scope[BACKEND_KEY]  # type: ignore[no-any-return]


class Usage:
    """Token counts as the upstream reported them; None where it did not report one."""

    __slots__ = ("cached_tokens", "input_tokens", "output_tokens", "reasoning_tokens")

    def __init__(
        self,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        reasoning_tokens: int | None = None,
        cached_tokens: int | None = None,
    ) -> None:
        self.input_tokens, self.output_tokens = input_tokens, output_tokens
        self.reasoning_tokens, self.cached_tokens = reasoning_tokens, cached_tokens

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Usage):
            return NotImplemented
        return self._counts() == other._counts()

    def __repr__(self) -> str:
        return "Usage(input={}, output={}, reasoning={}, cached={})".format(*self._counts())

    def _counts(self) -> tuple[int | None, ...]:
        return (self.input_tokens, self.output_tokens, self.reasoning_tokens, self.cached_tokens)

    @property
    def reported(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None


def _count(holder: Any, *names: str) -> int | None:
    """The first of `names` in `holder` that is a token count (a whole number, not a boolean, >= 0)."""
    if not isinstance(holder, dict):
        return None
    for name in names:
        value = holder.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return None


def _detail(usage: dict[str, Any], holders: tuple[str, ...], name: str) -> int | None:
    for holder in holders:
        found = _count(usage.get(holder), name)
        if found is not None:
            return found
    return None


def usage_of(raw: Any) -> Usage:
    """Read usage in either of the shapes Workers AI uses (input/output or prompt/completion).

    This is the only reader: the client's `usage`, the log line, the token budget and the usage
    record all take their counts from it, so they cannot disagree. A field that is missing, null,
    a boolean or negative is not a count; when both names carry a count, `input_tokens` and
    `output_tokens` win.
    """
    if not isinstance(raw, dict):
        return Usage()
    return Usage(
        input_tokens=_count(raw, "input_tokens", "prompt_tokens"),
        output_tokens=_count(raw, "output_tokens", "completion_tokens"),
        reasoning_tokens=_detail(raw, ("output_tokens_details", "completion_tokens_details"), "reasoning_tokens"),
        cached_tokens=_detail(raw, ("input_tokens_details", "prompt_tokens_details"), "cached_tokens"),
    )


def record_usage(context: RequestContext, raw: Any) -> Usage:
    """Note reported counts on the request (for its log line and budget); keep earlier ones otherwise."""
    usage = usage_of(raw)
    if usage.input_tokens is not None:
        context.input_tokens = usage.input_tokens
    if usage.output_tokens is not None:
        context.output_tokens = usage.output_tokens
    if usage.cached_tokens is not None:
        context.cached_tokens = usage.cached_tokens
    return usage
