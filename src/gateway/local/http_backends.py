"""HTTP backends for the local server: Workers AI's REST API, and any OpenAI-compatible server.

Both answer like `env.AI.run`: a dict for JSON, a `ByteStream` of SSE bytes for a stream, and
`WorkersAIError`/`UpstreamError` for failures. The transport is injectable (httpx's
`MockTransport` in tests), so nothing here is patched.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from .._errors import GatewayError, UpstreamError, WorkersAIError, parse_workers_ai_error
from .._upstream.backend import UpstreamResult

__all__ = ["CLOUDFLARE_API", "HttpByteStream", "OpenAIBackend", "RestBackend"]

CLOUDFLARE_API = "https://api.cloudflare.com/client/v4"


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


def _cloudflare_error(status: int, data: Any) -> GatewayError:
    errors = data.get("errors") if isinstance(data, dict) else None
    if errors and isinstance(errors[0], dict):
        code, message = errors[0].get("code"), str(errors[0].get("message", ""))
        if isinstance(code, int) and code >= 1000:
            return parse_workers_ai_error(f"{code}: {message}") or WorkersAIError(code, message)
        parsed = parse_workers_ai_error(message)
        if parsed is not None:
            return parsed
        return UpstreamError(f"Workers AI answered HTTP {status}: {message}")
    return UpstreamError(f"Workers AI answered HTTP {status}.")


class RestBackend:
    """Workers AI's REST API (`/accounts/{id}/ai/run/{model}`): the real model, no Worker needed."""

    name = "rest"

    def __init__(
        self,
        account_id: str,
        api_token: str,
        *,
        base_url: str = CLOUDFLARE_API,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._path = f"/accounts/{account_id}/ai/run/"
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            headers={"authorization": f"Bearer {api_token}"},
            timeout=httpx.Timeout(None, connect=10.0),
        )

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
        params = {"queueRequest": "true"} if options.get("queueRequest") else {}
        request = self._client.build_request(
            "POST", self._path + model, json=inputs, params=params, headers=_extra_headers(options)
        )
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"Could not reach Workers AI: {exc}") from None
        if _is_stream(response):
            return HttpByteStream(response)
        data = await _read_json(response)
        if response.status_code >= 400 or (isinstance(data, dict) and data.get("success") is False):
            raise _cloudflare_error(response.status_code, data)
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
        pending = b""
        async for chunk in self._inner:
            pending += chunk
            *lines, pending = pending.split(b"\n")
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
    ) -> None:
        headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._model = model
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            transport=transport,
            headers=headers,
            timeout=httpx.Timeout(None, connect=10.0),
        )

    def _upstream_model(self, model: str) -> str:
        return self._model or model.rsplit("/", 1)[-1]

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
        if options.get("queueRequest") or "request_id" in inputs:
            raise UpstreamError("Async batch needs Workers AI: the openai backend cannot queue requests.")
        path, body = self._request_for(model, inputs)
        request = self._client.build_request("POST", path, json=body, headers=_extra_headers(options))
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise UpstreamError(f"Could not reach the upstream at {self._client.base_url}: {exc}") from None
        if _is_stream(response):
            stream = HttpByteStream(response)
            return _PromptFrames(stream) if path == "/completions" else stream
        data = await _read_json(response)
        if response.status_code >= 400:
            message = (data.get("error") or {}).get("message") if isinstance(data, dict) else None
            raise UpstreamError(f"The upstream answered HTTP {response.status_code}: {message or data}")
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
