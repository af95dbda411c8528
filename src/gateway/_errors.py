"""The gateway's errors. Each maps to one HTTP status and one OpenAI error `type`.

GatewayError
├── InvalidRequest              400 invalid_request_error   bad body, field or form
│   ├── ContextLengthExceeded   400 invalid_request_error   input + output cap over the context window
│   └── ModelNotServed          400 invalid_request_error   a model not on the allow-list
├── Unauthorized                401 authentication_error    missing or unknown key
├── Forbidden                   403 permission_error        a key that may not do this
├── NotFound                    404 not_found_error         no such route
│   └── ModelNotFound           404 not_found_error         no such model (OpenAI dialect)
├── MethodNotAllowed            405 invalid_request_error   the route exists, the method does not
├── RequestTimeout              408 timeout_error           the client did not send its body in time
├── PayloadTooLarge             413 invalid_request_error   body over the size limit
├── UnsupportedMediaType        415 invalid_request_error   body that is not JSON
├── RateLimited                 429 rate_limit_error        a limit of the gateway's or upstream's
├── ServiceUnavailable          503 service_unavailable     the gateway is not configured to serve
│   └── Overloaded              503 service_unavailable     Workers AI out of capacity, retries spent
├── UpstreamError               502 upstream_error          the model upstream failed
│   ├── WorkersAIError          (status from its code)      `"<code>: <message>"` from Workers AI
│   └── UpstreamTimeout         504 timeout_error           the upstream did not answer in time
└── ClientDisconnected          499 client_closed_request   the client left first: logged, nothing sent

Dialects render these differently (OpenAI's envelope, Cloudflare's envelope, SSE error events);
the data needed by all of them lives here.
"""

from __future__ import annotations

import re
import time

from ._valueclass import FrozenRecord

__all__ = [
    "WORKERS_AI_CODES",
    "ClientDisconnected",
    "ContextLengthExceeded",
    "Forbidden",
    "GatewayError",
    "InvalidRequest",
    "MethodNotAllowed",
    "ModelNotFound",
    "ModelNotServed",
    "NotFound",
    "Overloaded",
    "PayloadTooLarge",
    "RateLimited",
    "RequestTimeout",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
    "UpstreamError",
    "UpstreamTimeout",
    "WorkersAIError",
    "parse_workers_ai_error",
]


class GatewayError(Exception):
    status = 500
    type = "server_error"
    # Cloudflare's REST API puts a numeric code on each error; ours follow Workers AI's table
    # where one fits, so a native client sees the code it would have seen from Cloudflare.
    cf_code = 1000

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.retry_after = retry_after
        self.headers = headers or {}


class InvalidRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    cf_code = 5006


class ContextLengthExceeded(InvalidRequest):
    """Input and output together cannot fit the model's context window (OpenAI's code for it)."""

    def __init__(self, message: str, *, param: str | None = "messages") -> None:
        super().__init__(message, param=param, code="context_length_exceeded")


class ModelNotServed(InvalidRequest):
    """A model that is not on this gateway's allow-list (Workers AI's own code for it is 5007)."""

    cf_code = 5007


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"
    cf_code = 10000


class Forbidden(GatewayError):
    status = 403
    type = "permission_error"
    cf_code = 10000


class NotFound(GatewayError):
    status = 404
    type = "not_found_error"
    cf_code = 7000


class ModelNotFound(NotFound):
    """A model name that is none of the served models' names or aliases (OpenAI's 404)."""


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    cf_code = 7001


class RequestTimeout(GatewayError):
    """The client was too slow sending its request (the local server's body timeout)."""

    status = 408
    type = "timeout_error"
    cf_code = 3007


class PayloadTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    cf_code = 3006


class UnsupportedMediaType(GatewayError):
    status = 415
    type = "invalid_request_error"
    cf_code = 5006


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    cf_code = 3036


class ServiceUnavailable(GatewayError):
    status = 503
    type = "service_unavailable"
    cf_code = 3040


class Overloaded(ServiceUnavailable):
    """The model has no capacity right now (Workers AI's 3040, after the retries): a wait helps.

    Anthropic's API has its own status for this (529 `overloaded_error`); OpenAI's has none."""


class UpstreamError(GatewayError):
    status = 502
    type = "upstream_error"
    cf_code = 3043


class UpstreamTimeout(UpstreamError):
    status = 504
    type = "timeout_error"
    cf_code = 3007


class ClientDisconnected(GatewayError):
    """The client went away before the gateway could answer (nginx's 499 in the log line).

    Nobody is left to answer, so nothing is sent: the error layer only records it.
    """

    status = 499
    type = "client_closed_request"


class _CodeInfo(FrozenRecord):
    __slots__ = ("retryable", "status", "type")
    status: int
    type: str
    retryable: bool

    def __init__(self, status: int, type: str, retryable: bool = False) -> None:
        self._init(status=status, type=type, retryable=retryable)


def _bad_request(retryable: bool = False) -> _CodeInfo:
    return _CodeInfo(400, "invalid_request_error", retryable)


# Workers AI's error codes: the table in cloudflare-docs `workers-ai/platform/errors` (name, HTTP
# status), and the codes it throws for gpt-oss that the table leaves out (DESIGN.md). Each keeps the
# status Workers AI gives it, except 3040: "out of capacity" is not the client's rate, so after the
# gateway's own retries it is a 503 with retry-after (clients retry both). Unknown codes are 502.
WORKERS_AI_CODES: dict[int, _CodeInfo] = {
    5007: _bad_request(),  # no such model
    5004: _bad_request(),  # invalid data
    3039: _bad_request(),  # finetune missing required files
    3003: _bad_request(),  # incomplete request (missing headers or body)
    5006: _bad_request(),  # input validation
    8001: _bad_request(),  # invalid input
    8006: _bad_request(),  # a forced tool call with too few max_tokens
    5018: _CodeInfo(403, "permission_error"),  # account not allowed for private model
    5016: _CodeInfo(403, "permission_error"),  # model agreement not accepted
    3023: _CodeInfo(403, "permission_error"),  # account blocked
    3041: _CodeInfo(403, "permission_error"),  # account not allowed for private model
    5035: _CodeInfo(403, "permission_error"),  # needs Workers Paid
    3042: _CodeInfo(404, "not_found_error"),  # invalid model id
    5019: _CodeInfo(405, "invalid_request_error"),  # deprecated SDK version
    5005: _CodeInfo(405, "invalid_request_error"),  # LoRA unsupported for the model
    3006: _CodeInfo(413, "invalid_request_error"),  # request too large
    3007: _CodeInfo(408, "timeout_error"),  # request timeout
    3008: _CodeInfo(408, "timeout_error"),  # request aborted
    3036: _CodeInfo(429, "rate_limit_error"),  # daily free allocation used
    3040: _CodeInfo(503, "service_unavailable", retryable=True),  # out of capacity
}

# How an over-long request is refused upstream, with or without a code ("This model's maximum
# context length is 131072 tokens. However, you requested ...", vLLM's words, which Workers AI
# passes on): it becomes OpenAI's `context_length_exceeded`, as the gateway's own check says it.
_CONTEXT_WINDOW_WORDS = re.compile(r"maximum context length|context (?:window|length) (?:limit|exceeded)", re.I)


class WorkersAIError(UpstreamError):
    """An error Workers AI reported as `"<code>: <message>"`."""

    def __init__(self, code: int, message: str, **kwargs: object) -> None:
        info = WORKERS_AI_CODES.get(code, _CodeInfo(502, "upstream_error"))
        super().__init__(f"Workers AI error {code}: {message}", code=str(code), **kwargs)  # type: ignore[arg-type]
        self.workers_ai_code = code
        self.status = info.status
        self.type = info.type
        self.cf_code = code
        self.retryable = info.retryable
        if code == 3036 and self.retry_after is None:
            self.retry_after = _seconds_to_utc_midnight()  # the daily allocation resets then


def _seconds_to_utc_midnight() -> float:
    return 86400 - time.time() % 86400


_CODE_MESSAGE = re.compile(r"\b([1-9]\d{3}):\s*(.+)", re.DOTALL)


def parse_workers_ai_error(text: str) -> GatewayError | None:
    """Read `"<code>: <message>"` out of whatever an upstream failure says (JS adds `Error: `);
    an over-long request, whatever its code, is `ContextLengthExceeded`."""
    if _CONTEXT_WINDOW_WORDS.search(text):
        return ContextLengthExceeded(f"The model upstream refused the request as too long: {text.strip()}")
    found = _CODE_MESSAGE.search(text)
    if found is None:
        return None
    return WorkersAIError(int(found.group(1)), found.group(2).strip())
