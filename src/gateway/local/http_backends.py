"""HTTP backends for the local server: Workers AI's REST API, and any OpenAI-compatible server.

Both answer like `env.AI.run`: a dict for JSON, a `ByteStream` of SSE bytes for a stream, and
`WorkersAIError`/`UpstreamError` for failures. The transport is injectable (httpx's
`MockTransport` in tests), so nothing here is patched.

With `gateway` in the options (`AI_GATEWAY_ID` set), the REST backend goes through AI Gateway's
URL for Workers AI, `https://gateway.ai.cloudflare.com/v1/{account}/{gateway}/workers-ai/{model}`,
with the options as AI Gateway's request headers, and hands back its `cf-aig-*` answer headers.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from .._errors import (
    GatewayError,
    RateLimited,
    ServiceUnavailable,
    UpstreamError,
    WorkersAIError,
    parse_workers_ai_error,
)
from .._upstream.backend import BackendAnswer, UpstreamResult, WithHeaders
from .._upstream.run_options import GATEWAY_ANSWER_HEADERS, gateway_request_headers

__all__ = [
    "AI_GATEWAY_URL",
    "CLOUDFLARE_API",
    "HttpByteStream",
    "OpenAIBackend",
    "RestBackend",
    "UpstreamPool",
    "retry_after_of",
]

CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"
AI_GATEWAY_URL = "https://gateway.ai.cloudflare.com/v1"


class UpstreamPool:
    """How the local server's HTTP client uses its upstream, chosen rather than httpx's defaults
    (100 connections, and a request past them waiting without end):
    - `max_connections` (UPSTREAM_MAX_CONNECTIONS, 100): requests in flight to the upstream at once;
    - `pool_timeout_s` (UPSTREAM_POOL_TIMEOUT_S, 10): how long a request past them waits for one
      to free up, then a 503 with retry-after, so a client is told instead of kept waiting;
    - connect 10 s, write 30 s; no read timeout in httpx: the gateway's own UPSTREAM_TIMEOUT_S
      (to the first byte) and STREAM_IDLE_TIMEOUT_S (between events) govern reads, the same for
      every backend; idle connections are kept (up to 20) for 30 s.
    """

    __slots__ = ("max_connections", "pool_timeout_s")

    def __init__(self, max_connections: int = 100, pool_timeout_s: float = 10.0) -> None:
        self.max_connections, self.pool_timeout_s = max_connections, pool_timeout_s

    def client(self, base_url: str, headers: dict[str, str], transport: httpx.AsyncBaseTransport | None) -> Any:
        return httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            headers=headers,
            timeout=httpx.Timeout(connect=10.0, read=None, write=30.0, pool=self.pool_timeout_s),
            limits=httpx.Limits(
                max_connections=self.max_connections,
                max_keepalive_connections=min(20, self.max_connections),
                keepalive_expiry=30.0,
            ),
        )

    def busy(self) -> ServiceUnavailable:
        return ServiceUnavailable(
            f"All {self.max_connections} connections to the model upstream are in use and none freed up within "
            f"{self.pool_timeout_s:g} s (UPSTREAM_MAX_CONNECTIONS, UPSTREAM_POOL_TIMEOUT_S). Retry shortly.",
            code="upstream_connections_busy",
            retry_after=1,
        )


class HttpByteStream:
    """An httpx streaming response body; closing it closes the connection (cancels upstream)."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._response.aiter_raw()

    async def aclose(self) -> None:
        await self._response.aclose()


def _extra_headers(options: dict[str, Any]) -> dict[str, str]:
    """The binding's `extraHeaders` option (`x-session-affinity`), as the HTTP headers it stands for."""
    extra = options.get("extraHeaders")
    return {str(name): str(value) for name, value in extra.items()} if isinstance(extra, dict) else {}


def _is_stream(response: httpx.Response) -> bool:
    return response.status_code == 200 and "text/event-stream" in response.headers.get("content-type", "")


async def _read_json(response: httpx.Response) -> Any:
    body = await response.aread()
    await response.aclose()
    try:
        return json.loads(body)
    except ValueError:
        raise UpstreamError(
            f"The upstream answered HTTP {response.status_code} with a body that is not JSON."
        ) from None


def retry_after_of(response: httpx.Response) -> float | None:
    """The upstream's `retry-after`, in seconds: a number, or an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _status_error(response: httpx.Response, message: str) -> GatewayError:
    """An upstream's refusal by its HTTP status: its 429 and 503 are the client's to wait out, with
    the upstream's own `retry-after` passed on (1 s when it gave none); others are a 502."""
    parsed = parse_workers_ai_error(message)
    if parsed is not None and not isinstance(parsed, WorkersAIError):
        return parsed  # an over-long request, in the upstream's words
    wait = retry_after_of(response)
    if response.status_code == 429:
        return RateLimited(
            f"The model upstream is rate limiting requests: {message}",
            code="upstream_rate_limited",
            retry_after=wait or 1,
        )
    if response.status_code == 503:
        return ServiceUnavailable(
            f"The model upstream is unavailable: {message}", code="upstream_unavailable", retry_after=wait or 1
        )
    return UpstreamError(f"The upstream answered HTTP {response.status_code}: {message}")


def _cloudflare_error(response: httpx.Response, data: Any) -> GatewayError:
    errors = data.get("errors") if isinstance(data, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code, message = first.get("code"), str(first.get("message", ""))
    found = parse_workers_ai_error(f"{code}: {message}" if isinstance(code, int) and code >= 1000 else message)
    if found is None:
        return _status_error(response, message or "(no message)")
    if found.retry_after is None:
        found.retry_after = retry_after_of(response)
    return found


class RestBackend:
    """Workers AI's REST API (`/accounts/{id}/ai/run/{model}`): the real model, no Worker needed."""

    name = "rest"

    def __init__(
        self,
        account_id: str,
        api_token: str,
        *,
        base_url: str = CLOUDFLARE_API,
        gateway_url: str = AI_GATEWAY_URL,
        gateway_token: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        pool: UpstreamPool | None = None,
    ) -> None:
        self._path = f"/accounts/{account_id}/ai/run/"
        self._gateway_path = f"{gateway_url.rstrip('/')}/{account_id}/"
        # An authenticated gateway wants its own token too (AI Gateway's `cf-aig-authorization`).
        self._gateway_auth = {"cf-aig-authorization": f"Bearer {gateway_token}"} if gateway_token else {}
        self._pool = pool or UpstreamPool()
        self._client = self._pool.client(base_url, {"authorization": f"Bearer {api_token}"}, transport)

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> BackendAnswer:
        params = {"queueRequest": "true"} if options.get("queueRequest") else {}
        gateway = options.get("gateway")
        headers = _extra_headers(options)
        if gateway:
            url = f"{self._gateway_path}{gateway['id']}/workers-ai/{model}"
            headers.update({**gateway_request_headers(gateway), **self._gateway_auth})
        else:
            url = self._path + model
        request = self._client.build_request("POST", url, json=inputs, params=params, headers=headers)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.PoolTimeout:
            raise self._pool.busy() from None
        except httpx.HTTPError as exc:
            raise UpstreamError(f"Could not reach Workers AI: {exc}") from None
        heard = {name: value for name in GATEWAY_ANSWER_HEADERS if (value := response.headers.get(name))}
        result = await _rest_result(response, heard)
        return WithHeaders(result, heard) if gateway else result


async def _rest_result(response: httpx.Response, heard: dict[str, str]) -> UpstreamResult:
    if _is_stream(response):
        return HttpByteStream(response)
    data = await _read_json(response)
    if response.status_code >= 400 or (isinstance(data, dict) and data.get("success") is False):
        error = _cloudflare_error(response, data)
        error.headers.update(heard)
        raise error
    result = data.get("result") if isinstance(data, dict) else None
    if not isinstance(result, dict):
        raise UpstreamError("Workers AI answered without a result object.")
    return result


class _PromptFrames:
    """An OpenAI `/completions` stream re-framed as Workers AI prompt-form events."""

    def __init__(self, inner: HttpByteStream) -> None:
        self._inner = inner

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._frames()

    async def _frames(self) -> AsyncIterator[bytes]:
        pending = bytearray()  # grows in place and is searched only where it is new: linear
        async for chunk in self._inner:
            searched = len(pending)
            pending += chunk
            cut = pending.rfind(b"\n", searched)
            if cut < 0:
                continue
            lines = bytes(pending[:cut]).split(b"\n")
            del pending[: cut + 1]
            for line in lines:
                yield _prompt_frame(line.strip())

    async def aclose(self) -> None:
        await self._inner.aclose()


def _prompt_frame(line: bytes) -> bytes:
    if not line.startswith(b"data:"):
        return b""
    payload = line[5:].strip()
    if payload == b"[DONE]":
        return b"data: [DONE]\n\n"
    data = json.loads(payload)
    frame: dict[str, Any] = {"response": "".join(c.get("text", "") for c in data.get("choices") or [])}
    if data.get("usage"):
        frame["usage"] = data["usage"]
    return b"data: " + json.dumps(frame).encode() + b"\n\n"


class OpenAIBackend:
    """An OpenAI-compatible server (vLLM, Ollama, llama.cpp) serving gpt-oss.

    The messages form goes to `/chat/completions` and the Responses form to `/responses`, whose
    answers already have Workers AI's shapes; the prompt form goes to `/completions` and is
    reshaped into `{response, usage}`.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        model: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        pool: UpstreamPool | None = None,
    ) -> None:
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._pool = pool or UpstreamPool()
        self._client = self._pool.client(base_url.rstrip("/"), headers, transport)

    def _upstream_model(self, model: str) -> str:
        return self._model or model.rsplit("/", 1)[-1]

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
        if options.get("queueRequest") or "request_id" in inputs:
            raise UpstreamError("Async batch needs Workers AI: the openai backend cannot queue requests.")
        path, body = self._request_for(model, inputs)
        request = self._client.build_request("POST", path, json=body, headers=_extra_headers(options))
        try:
            response = await self._client.send(request, stream=True)
        except httpx.PoolTimeout:
            raise self._pool.busy() from None
        except httpx.HTTPError as exc:
            raise UpstreamError(f"Could not reach the upstream at {self._client.base_url}: {exc}") from None
        if _is_stream(response):
            stream = HttpByteStream(response)
            return _PromptFrames(stream) if path == "/completions" else stream
        data = await _read_json(response)
        if response.status_code >= 400:
            error = data.get("error") if isinstance(data, dict) else None
            message = error.get("message") if isinstance(error, dict) else None
            raise _status_error(response, str(message or data))
        if not isinstance(data, dict):
            raise UpstreamError(f"The upstream answered JSON that is not an object (a {type(data).__name__}).")
        if path == "/completions":
            return {
                "response": "".join(c.get("text", "") for c in data.get("choices") or []),
                "usage": data.get("usage"),
                "tool_calls": [],
            }
        return data  # type: ignore[no-any-return]

    def _request_for(self, model: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        body = {**inputs, "model": self._upstream_model(model)}
        if "messages" in inputs:
            return "/chat/completions", body
        if "input" in inputs:
            return "/responses", body
        return "/completions", body
