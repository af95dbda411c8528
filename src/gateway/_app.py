"""The gateway's ASGI app: the middleware stack in one list, and the routes in another.

Each route carries its `Operation`, so the OpenAPI document (`GET /openapi.json`) is generated
from this table and the very tables that check requests.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from ._anthropic import request as anthropic_request
from ._anthropic.route import count_tokens, messages
from ._asgi.http import ASGIApp, Receive, Scope, Send, encode_json, send_json
from ._asgi.routing import Operation, Route, Router, without_account_prefix
from ._config import SETTINGS_KEY, Settings, read_settings, settings_of
from ._key_report import key_usage
from ._limits.guards import GUARDS_KEY, Guards, guards_of
from ._middleware.auth import AuthMiddleware
from ._middleware.body_limit import BodyLimitMiddleware
from ._middleware.cors import CORSMiddleware
from ._middleware.errors import ErrorMiddleware
from ._middleware.rate_limit import RateLimitMiddleware
from ._middleware.request_context import LogSink, RequestContextMiddleware
from ._native.forms import FORM_SPECS
from ._native.route import run_native
from ._openai import chat, completions, responses
from ._openai.models import list_models, retrieve_model
from ._openai.stored_responses import delete_response, list_input_items, retrieve_response
from ._stored.store import STORE_KEY, ResponseStore
from ._upstream.backend import BACKEND_KEY, Backend, backend_of

__all__ = ["PUBLIC_PATHS", "REFERENCE_KEY", "ROUTES", "Gateway", "healthz", "openapi_json"]

# Where the app keeps its OpenAPI document, once built, in the scope; `openapi_json` reads it.
REFERENCE_KEY = "gateway.reference"


async def healthz(scope: Scope, receive: Receive, send: Send) -> None:
    """`GET /healthz`: liveness without a key. It reveals no configuration, only whether it is usable."""
    settings = settings_of(scope)
    ready = not settings.problems and (bool(settings.keys) or guards_of(scope).keys is not None)
    body = {
        "status": "ok" if ready else "unconfigured",
        "backend": backend_of(scope).name,
        "models": list(settings.models),
    }
    await send_json(send, 200 if ready else 503, body)


class _Reference:
    """This app's OpenAPI document, built on the first request for it: it depends on the settings
    (served models, STRICT_PARAMS), which are fixed for the app's life."""

    __slots__ = ("body",)

    def __init__(self) -> None:
        self.body: bytes | None = None


async def openapi_json(scope: Scope, receive: Receive, send: Send) -> None:
    """`GET /openapi.json`: the API reference, without a key (it reveals the served models only)."""
    reference: _Reference = scope[REFERENCE_KEY]
    if reference.body is None:
        # Imported here, not at the top: no request but this one needs it, so the Worker's import
        # (and its cold start) does not pay for the document's code.
        from ._reference import reference_document

        reference.body = encode_json(reference_document(ROUTES, settings_of(scope)))
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(reference.body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": reference.body})


_OPENAI = "gateway._openai.documented:"
_NATIVE = "gateway._native.documented:"
_ANTHROPIC = "gateway._anthropic.documented:"
_GATEWAY = "gateway._reference:"
_OPENAI_ERROR = _OPENAI + "openai_error"


def _openai(summary: str, schemas: str, policy: Any = None, *, streams: bool = False) -> Operation:
    return Operation(
        summary, tag="OpenAI", schemas=_OPENAI + schemas, errors=_OPENAI_ERROR, request=policy, streams=streams
    )


def _anthropic(summary: str, schemas: str, policy: Any, *, streams: bool = False) -> Operation:
    errors = _ANTHROPIC + "anthropic_error"
    return Operation(
        summary, tag="Anthropic", schemas=_ANTHROPIC + schemas, errors=errors, request=policy, streams=streams
    )


def _gateway(summary: str, schemas: str) -> Operation:
    return Operation(summary, tag="Gateway", schemas=_GATEWAY + schemas, errors=_OPENAI_ERROR, public=True)


_CHAT = _openai("Create a chat completion (OpenAI's Chat Completions)", "chat_completions", chat.POLICY, streams=True)
_RESPONSES = _openai("Create a response (OpenAI's Responses API)", "responses", responses.POLICY, streams=True)
_USAGE = Operation(
    "The calling key's own limits, what it has left, and what it has spent",
    tag="Gateway",
    schemas=_GATEWAY + "usage",
    errors=_OPENAI_ERROR,
)
_NATIVE_RUN = Operation(
    "Run the model with one of its input forms (Workers AI's REST API)",
    tag="Workers AI",
    schemas=_NATIVE + "run",
    errors=_NATIVE + "native_error",
    request=FORM_SPECS,
    streams=True,
)

ROUTES = [
    Route("GET", "/healthz", healthz, _gateway("Whether the gateway can serve", "healthz")),
    Route("GET", "/openapi.json", openapi_json, _gateway("This document", "openapi")),
    Route("POST", "/ai/run/{model:path}", run_native, _NATIVE_RUN),
    Route("POST", "/v1/chat/completions", chat.chat_completions, _CHAT),
    Route("POST", "/ai/v1/chat/completions", chat.chat_completions, _CHAT),
    Route("POST", "/v1/responses", responses.responses, _RESPONSES),
    Route("POST", "/ai/v1/responses", responses.responses, _RESPONSES),
    Route("GET", "/v1/responses/{response_id}", retrieve_response, _openai("Retrieve a stored response", "retrieved")),
    Route("DELETE", "/v1/responses/{response_id}", delete_response, _openai("Delete a stored response", "deleted")),
    Route(
        "GET",
        "/v1/responses/{response_id}/input_items",
        list_input_items,
        _openai("List a stored response's input items", "input_items"),
    ),
    Route(
        "POST",
        "/v1/completions",
        completions.completions,
        _openai("Create a completion (OpenAI's legacy Completions)", "completions", completions.POLICY, streams=True),
    ),
    Route("GET", "/v1/models", list_models, _openai("List the served models", "models")),
    Route("GET", "/v1/models/{model:path}", retrieve_model, _openai("Describe a served model", "model")),
    Route(
        "POST",
        "/v1/messages",
        messages,
        _anthropic("Create a message (Anthropic's Messages API)", "messages", anthropic_request.POLICY, streams=True),
    ),
    Route(
        "POST",
        "/v1/messages/count_tokens",
        count_tokens,
        _anthropic("Estimate a message's input tokens", "count_tokens", anthropic_request.COUNT_POLICY),
    ),
    Route("GET", "/v1/usage", key_usage, _USAGE),
]

PUBLIC_PATHS = frozenset(route.path for route in ROUTES if route.operation is not None and route.operation.public)


def _binding_backend(env: Any) -> Backend:
    from ._upstream.ai_binding import BindingBackend

    return BindingBackend(getattr(env, "AI", None))


def _binding_guards(env: Any) -> Guards:
    from ._limits.bindings import binding_guards

    return binding_guards(env)


def _binding_store(env: Any) -> ResponseStore | None:
    from ._stored.bindings import STORE_BINDING, DurableResponses

    namespace = getattr(env, STORE_BINDING, None)
    return DurableResponses(namespace) if namespace is not None else None


def _log_to_stdout(line: str) -> None:
    # On Workers, each line written to stdout is one console.log, one entry in Workers Logs.
    sys.stdout.write(line + "\n")


class Gateway:
    """The ASGI app. `env` is the Worker's (from the scope) or the local server's.

    Settings, the AI backend, the guards and the response store are read from `env` on the first
    request and kept:
    vars, secrets and bindings cannot change during an isolate's life, so reading them again per
    request would only cost time (each binding looked up is a crossing into JS).
    """

    def __init__(
        self,
        *,
        backend: Backend | None = None,
        env: Any = None,
        log: LogSink = _log_to_stdout,
        backend_for_env: Callable[[Any], Backend] = _binding_backend,
        guards: Guards | None = None,
        guards_for_env: Callable[[Any], Guards] = _binding_guards,
        store: ResponseStore | None = None,
        store_for_env: Callable[[Any], ResponseStore | None] = _binding_store,
    ) -> None:
        # Given ones (local server, tests; in-process limits belong to this app) are used as they
        # are; otherwise the Worker's bindings are wrapped on the first request.
        self._backend = backend
        self._backend_for_env = backend_for_env
        self._guards = guards
        self._guards_for_env = guards_for_env
        self._store = store
        self._store_for_env = store_for_env if store is None else None
        self._env = env
        self._settings: Settings | None = None
        self._reference = _Reference()
        self._stack = self._build_stack(log)

    def _build_stack(self, log: LogSink) -> ASGIApp:
        app: ASGIApp = Router(ROUTES)
        # Listed outermost first. The context layer is outside error handling so that error
        # answers carry the request id and timing headers too.
        layers: list[Callable[[ASGIApp], ASGIApp]] = [
            lambda inner: RequestContextMiddleware(inner, log=log, backend_name=lambda scope: backend_of(scope).name),
            lambda inner: ErrorMiddleware(inner, log=log),
            CORSMiddleware,
            BodyLimitMiddleware,
            lambda inner: AuthMiddleware(inner, public_paths=PUBLIC_PATHS),
            RateLimitMiddleware,
        ]
        for layer in reversed(layers):
            app = layer(app)
        return app

    def settings(self, env: Any) -> Settings:
        if self._settings is None:
            self._settings = read_settings(env)
        return self._settings

    def backend(self, env: Any) -> Backend:
        if self._backend is None:
            self._backend = self._backend_for_env(env)
        return self._backend

    def guards(self, env: Any) -> Guards:
        if self._guards is None:
            self._guards = self._guards_for_env(env)
        return self._guards

    def store(self, env: Any) -> ResponseStore | None:
        if self._store_for_env is not None:  # looked up once; None stays None (not configured)
            self._store, self._store_for_env = self._store_for_env(env), None
        return self._store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            # Nothing to start or stop, so no lifespan support: returning without acknowledging
            # startup tells a server so. The Workers adapter runs lifespan around every request and
            # skips it for such an app, saving several event-loop turns (each a JS timer in Pyodide).
            return
        if scope["type"] == "http":
            scope["path"] = without_account_prefix(scope["path"])
        env = scope.get("env", self._env)
        scope[SETTINGS_KEY] = self.settings(env)
        scope[BACKEND_KEY] = self.backend(env)
        scope[GUARDS_KEY] = self.guards(env)
        scope[STORE_KEY] = self.store(env)
        scope[REFERENCE_KEY] = self._reference
        await self._stack(scope, receive, send)
