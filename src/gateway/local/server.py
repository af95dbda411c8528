"""`gateway serve`: the same ASGI app as the Worker, under uvicorn, with a local AI backend."""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from .._app import Gateway
from .._asgi.http import ASGIApp
from .._config import Settings, read_settings
from .._upstream.backend import Backend
from .assets import StaticAssets, read_asset_config
from .config import load_env
from .connection import DEFAULT_BODY_TIMEOUT_S, DEFAULT_HEADERS_TIMEOUT_S, ClientWatch, TimedH11Protocol
from .emulator import Emulator, Faults
from .http_backends import OpenAIBackend, RestBackend, UpstreamPool
from .keygen import key_entry, new_key
from .keystore import DEFAULT_KEYS_FILE, FileKeyStore
from .limits import local_guards
from .response_store import InProcessResponses

__all__ = [
    "BACKENDS",
    "LocalApp",
    "banner",
    "build_local_app",
    "choose_backend",
    "key_store",
    "make_backend",
    "serve",
    "upstream_pool",
]

BACKENDS = ("emulator", "rest", "openai")


def choose_backend(env: dict[str, str]) -> str:
    if env.get("CLOUDFLARE_ACCOUNT_ID") and env.get("CLOUDFLARE_API_TOKEN"):
        return "rest"
    if env.get("UPSTREAM_BASE_URL"):
        return "openai"
    return "emulator"


def _number(env: dict[str, str], name: str, default: float, *, whole: bool = False) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        value = -1
    if value <= 0:
        raise SystemExit(f"{name} must be a positive {'whole ' if whole else ''}number, got {raw!r}.")
    return value


def upstream_pool(env: dict[str, str]) -> UpstreamPool:
    return UpstreamPool(
        max_connections=int(_number(env, "UPSTREAM_MAX_CONNECTIONS", 100, whole=True)),
        pool_timeout_s=_number(env, "UPSTREAM_POOL_TIMEOUT_S", 10.0),
    )


def make_backend(name: str, env: dict[str, str]) -> Backend:
    if name == "rest":
        missing = [v for v in ("CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN") if not env.get(v)]
        if missing:
            raise SystemExit(f"--backend rest needs {' and '.join(missing)} (in .dev.vars or the environment).")
        return RestBackend(
            env["CLOUDFLARE_ACCOUNT_ID"],
            env["CLOUDFLARE_API_TOKEN"],
            gateway_token=env.get("AI_GATEWAY_TOKEN") or None,
            pool=upstream_pool(env),
        )
    if name == "openai":
        if not env.get("UPSTREAM_BASE_URL"):
            raise SystemExit("--backend openai needs UPSTREAM_BASE_URL, e.g. http://127.0.0.1:8000/v1.")
        return OpenAIBackend(
            env["UPSTREAM_BASE_URL"],
            env.get("UPSTREAM_API_KEY"),
            model=env.get("UPSTREAM_MODEL"),
            pool=upstream_pool(env),
        )
    try:
        faults = Faults.parse(env.get("EMULATOR_FAULTS", ""))
        delay = float(env.get("EMULATOR_TOKEN_DELAY_MS", "") or Emulator.token_delay_ms)
    except ValueError as exc:
        raise SystemExit(f"Bad emulator setting: {exc}") from None
    return Emulator(token_delay_ms=delay, faults=faults)


@dataclass
class LocalApp:
    app: Gateway
    backend: Backend
    env: dict[str, str]
    generated_key: str | None
    key_store: FileKeyStore | None = None
    generated_secret: bool = False
    # What uvicorn serves: the app behind the static assets (the playground and /docs), as on Workers.
    asgi: ASGIApp | None = None
    assets: Path | None = None


def key_store(root: Path, env: dict[str, str]) -> FileKeyStore | None:
    """The keys file, when `KEYS_FILE` names one or the default one exists."""
    path = root / env.get("KEYS_FILE", DEFAULT_KEYS_FILE)
    return FileKeyStore(path) if "KEYS_FILE" in env or path.is_file() else None


def build_local_app(root: Path, backend_name: str | None = None, environ: dict[str, str] | None = None) -> LocalApp:
    env = load_env(root, environ)
    generated = None
    store = key_store(root, env)
    if not env.get("GATEWAY_KEYS", "").strip() and store is None:
        # Never serve open: make a key for this run only, and say so.
        generated = new_key()
        env["GATEWAY_KEYS"] = json.dumps([key_entry("local-dev", generated)])
    generated_secret = not env.get("REASONING_SECRET", "").strip()
    if generated_secret:
        # Encrypted reasoning needs a secret; one made for this run keeps Codex working locally.
        env["REASONING_SECRET"] = secrets.token_urlsafe(32)
    backend = make_backend(backend_name or choose_backend(env), env)
    app = Gateway(
        backend=backend,
        env=SimpleNamespace(**env),
        guards=local_guards(keys=store),
        store=InProcessResponses(),
        log=_log_line,
    )
    assets = read_asset_config(root)
    served: ASGIApp = app if assets is None else StaticAssets(app, assets)
    return LocalApp(
        app=app,
        backend=backend,
        env=env,
        generated_key=generated,
        key_store=store,
        generated_secret=generated_secret,
        asgi=served,
        assets=None if assets is None else assets.directory,
    )


def _log_line(line: str) -> None:
    # stdout to a pipe is block-buffered: flush, so a log line shows when its request ends.
    print(line, flush=True)


def banner(local: LocalApp, url: str) -> str:
    settings = read_settings(SimpleNamespace(**local.env))
    lines = [
        "gpt-oss gateway (local server)",
        f"  url:      {url}",
        f"  backend:  {local.backend.name}"
        + ("  (offline emulator: answers are NOT the model's)" if local.backend.name == "emulator" else ""),
        f"  models:   {', '.join(settings.models)}",
    ]
    if local.generated_key:
        lines += [
            f"  key:      {local.generated_key}",
            "            (made for this run because GATEWAY_KEYS is not set; shown only here)",
        ]
    else:
        lines.append(f"  keys:     {len(settings.keys)} from GATEWAY_KEYS")
    if local.key_store is not None:
        lines.append(f"  keys:     also from {local.key_store.path} (read on each request)")
    if settings.tiers:
        lines.append(f"  tiers:    {', '.join(settings.tiers)} (limits in-process)")
    lines.append("  stored:   responses in memory for this run (store, previous_response_id, item_reference)")
    if local.generated_secret:
        lines += [
            "  reasoning: encrypted_content sealed with a secret made for this run (REASONING_SECRET is not set);",
            "            tokens from this run do not open after a restart",
        ]
    lines += _operations(settings, local.backend.name)
    lines += [f"  problem:  {problem}" for problem in settings.problems]
    if local.assets is not None:
        lines.append(f"  page:     {url}/  (playground; API reference at {url}/docs)")
        if not (local.assets / "vendor" / "VERSIONS.json").is_file():
            lines.append("  problem:  the pages' libraries are missing: run `npm ci` (or `npm run vendor`)")
    lines.append(f"  try:      curl {url}/healthz")
    return "\n".join(lines)


def _operations(settings: Settings, backend: str) -> list[str]:
    lines = []
    if settings.ai_gateway_id:
        unused = "" if backend == "rest" else f"  (only the rest backend goes through it, not {backend})"
        lines.append(f"  ai gateway: {settings.ai_gateway_id}{unused}")
    if settings.fallback_model:
        lines.append(f"  fallback: {settings.fallback_model}")
    if settings.account_requests_per_minute:
        lines.append(
            f"  ceiling:  {settings.account_requests_per_minute} model calls a minute across keys (in-process)"
        )
    return lines


def serve(host: str, port: int, backend_name: str | None, root: Path) -> int:
    import uvicorn

    local = build_local_app(root, backend_name)
    protocol = type(
        "GatewayH11Protocol",
        (TimedH11Protocol,),
        {"headers_timeout_s": _number(local.env, "HEADERS_TIMEOUT_S", DEFAULT_HEADERS_TIMEOUT_S)},
    )
    # The asset layer (the playground) outside, every request watched for a client that leaves.
    app = ClientWatch(
        local.asgi or local.app, body_timeout_s=_number(local.env, "BODY_TIMEOUT_S", DEFAULT_BODY_TIMEOUT_S)
    )
    config = uvicorn.Config(
        app, host=host, port=port, http=protocol, log_level="warning", lifespan="off", timeout_graceful_shutdown=3
    )
    server = uvicorn.Server(config)
    shown_host = f"[{host}]" if ":" in host else host
    print(banner(local, f"http://{shown_host}:{port}"), flush=True)
    # uvicorn re-raises Ctrl-C after its graceful shutdown; by then everything is closed.
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    print("gateway stopped", file=sys.stderr, flush=True)
    return 0
