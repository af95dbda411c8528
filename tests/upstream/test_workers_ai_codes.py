"""Every Workers AI error code in Cloudflare's table reaches the client with the right status and type."""

from __future__ import annotations

import pytest

from gateway._errors import WORKERS_AI_CODES, ContextLengthExceeded, WorkersAIError, parse_workers_ai_error
from gateway.local.emulator import Emulator, Faults
from tests.client import request, run
from tests.conftest import NATIVE, MakeGateway

# (code, HTTP status, OpenAI error type): cloudflare-docs `workers-ai/platform/errors`, written out
# here rather than read from the gateway's table, plus the codes Workers AI throws for gpt-oss that
# the table leaves out (5006, 8001, 8006, 5035). 3040 is the one deliberate change: 503, not 429.
TABLE = [
    (5007, 400, "invalid_request_error"),
    (5004, 400, "invalid_request_error"),
    (3039, 400, "invalid_request_error"),
    (3003, 400, "invalid_request_error"),
    (5006, 400, "invalid_request_error"),
    (8001, 400, "invalid_request_error"),
    (8006, 400, "invalid_request_error"),
    (5018, 403, "permission_error"),
    (5016, 403, "permission_error"),
    (3023, 403, "permission_error"),
    (3041, 403, "permission_error"),
    (5035, 403, "permission_error"),
    (3042, 404, "not_found_error"),
    (5019, 405, "invalid_request_error"),
    (5005, 405, "invalid_request_error"),
    (3006, 413, "invalid_request_error"),
    (3007, 408, "timeout_error"),
    (3008, 408, "timeout_error"),
    (3036, 429, "rate_limit_error"),
    (3040, 503, "service_unavailable"),
    (3043, 502, "upstream_error"),  # not in the table: unknown codes stay 502
    (9999, 502, "upstream_error"),
]


def test_the_table_here_covers_every_code_the_gateway_maps() -> None:
    assert set(WORKERS_AI_CODES) <= {code for code, _, _ in TABLE}


@pytest.mark.parametrize(("code", "status", "kind"), TABLE)
def test_each_code_maps_to_its_status_and_type_on_every_route(
    make_gateway: MakeGateway, code: int, status: int, kind: str
) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(error=code)), CAPACITY_RETRIES="0")
    native = run(request(gw.app, "POST", NATIVE, body={"prompt": "hi"}, headers=gw.auth))
    assert native.status == status
    assert native.json()["errors"][0]["code"] == code
    chat = run(
        request(
            gw.app,
            "POST",
            "/v1/chat/completions",
            body={"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "hi"}]},
            headers=gw.auth,
        )
    )
    assert chat.status == status
    error = chat.json()["error"]
    assert (error["type"], error["code"]) == (kind, str(code))
    if status in (429, 503):
        assert int(chat.headers["retry-after"]) >= 1


OVER_WINDOW = [
    "5021: The estimated number of input and maximum output tokens (140000) exceeded this model context window "
    "limit (128000).",
    "AiError: This model's maximum context length is 131072 tokens. However, you requested 16000 output tokens and "
    "your prompt contains at least 115073 input tokens, for a total of at least 131073 tokens.",
    "Requested token count exceeds the model's maximum context length of 128000 tokens.",
]


@pytest.mark.parametrize("text", OVER_WINDOW)
def test_workers_ais_own_over_length_error_is_context_length_exceeded(text: str) -> None:
    error = parse_workers_ai_error(text)
    assert isinstance(error, ContextLengthExceeded)
    assert (error.status, error.type, error.code) == (400, "invalid_request_error", "context_length_exceeded")


def test_other_errors_that_mention_context_are_not_mistaken_for_it() -> None:
    error = parse_workers_ai_error("3007: Request timeout while building the context")
    assert isinstance(error, WorkersAIError) and error.status == 408
