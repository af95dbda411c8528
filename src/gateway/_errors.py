"""The gateway's errors. Each maps to one HTTP status and one OpenAI error `type`.

GatewayError
├── InvalidRequest              400 invalid_request_error   bad body, field or form
│   └── ModelNotServed          400 invalid_request_error   a model not on the allow-list
├── Unauthorized                401 authentication_error    missing or unknown key
├── Forbidden                   403 permission_error        a key that may not do this
├── NotFound                    404 not_found_error         no such route
│   └── ModelNotFound           404 not_found_error         no such model (OpenAI dialect)
├── MethodNotAllowed            405 invalid_request_error   the route exists, the method does not
├── PayloadTooLarge             413 invalid_request_error   body over the size limit
├── UnsupportedMediaType        415 invalid_request_error   body that is not JSON
├── RateLimited                 429 rate_limit_error        a limit of the gateway's or upstream's
├── ServiceUnavailable          503 service_unavailable     the gateway is not configured to serve
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
    "ClientDisconnected",
    "Forbidden",
    "GatewayError",
    "InvalidRequest",
    "MethodNotAllowed",
    "ModelNotFound",
    "ModelNotServed",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
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


# Workers AI's error codes (cloudflare-docs `workers-ai/platform/errors`).
_WORKERS_AI_CODES: dict[int, _CodeInfo] = {
    3040: _CodeInfo(503, "service_unavailable", retryable=True),  # out of capacity
    3036: _CodeInfo(429, "rate_limit_error"),  # daily allocation used
    3007: _CodeInfo(408, "timeout_error"),  # upstream inference timed out
    3006: _CodeInfo(413, "invalid_request_error"),  # request too large
    5007: _CodeInfo(400, "invalid_request_error"),  # no such model
    5035: _CodeInfo(403, "permission_error"),  # needs Workers Paid
    5006: _CodeInfo(400, "invalid_request_error"),  # input validation
    8006: _CodeInfo(400, "invalid_request_error"),  # forced tool call, too few max_tokens
}


class WorkersAIError(UpstreamError):
    """An error Workers AI reported as `"<code>: <message>"`."""

    def __init__(self, code: int, message: str, **kwargs: object) -> None:
        info = _WORKERS_AI_CODES.get(code, _CodeInfo(502, "upstream_error"))
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


def parse_workers_ai_error(text: str) -> WorkersAIError | None:
    """Read `"<code>: <message>"` out of whatever an upstream failure says (JS adds `Error: `)."""
    found = _CODE_MESSAGE.search(text)
    if found is None:
        return None
    return WorkersAIError(int(found.group(1)), found.group(2).strip())
