"""Settings read once from the Worker's `env` (vars and secrets are fixed for an isolate's life).

Every variable is documented in README.md and `.dev.vars.example`. A value that does not parse is
not guessed at: it is recorded as a problem, and guarded routes answer 503 naming it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ._asgi.http import Scope
from ._catalog import DEFAULT_MODEL, KNOWN_MODELS, served_model
from ._policy import ApiKey, Tier, parse_keys, parse_origins, parse_tiers
from ._seal import MIN_SECRET_LENGTH, Sealer
from ._valueclass import FrozenRecord

__all__ = ["SETTINGS_KEY", "Settings", "read_settings", "settings_of"]

# Where the app puts the settings in the ASGI scope; `settings_of` reads them.
SETTINGS_KEY = "gateway.settings"

# An AI Gateway's id as its dashboard makes it; it goes into a URL path, so nothing else is taken.
_GATEWAY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


class Settings(FrozenRecord):
    __slots__ = (
        "account_requests_per_minute",
        "ai_gateway_id",
        "anthropic_models",
        "capacity_retries",
        "cors_origins",
        "fallback_model",
        "keys",
        "limits_fail_open",
        "log_prompts",
        "max_body_bytes",
        "models",
        "problems",
        "reasoning_sealer",
        "responses_max_bytes",
        "responses_retention_s",
        "retry_base_s",
        "stream_idle_timeout_s",
        "stream_ping_s",
        "strict_params",
        "tiers",
        "upstream_timeout_s",
    )
    models: tuple[str, ...]
    keys: tuple[ApiKey, ...]
    max_body_bytes: int
    upstream_timeout_s: float
    stream_idle_timeout_s: float
    stream_ping_s: float  # a Messages stream silent this long sends Anthropic's `ping` event
    capacity_retries: int
    retry_base_s: float
    log_prompts: bool
    tiers: dict[str, Tier]  # empty: no limits at all (the shipped wrangler.toml sets TIERS); see _policy.py
    limits_fail_open: bool
    cors_origins: tuple[str, ...]
    strict_params: bool  # unknown request fields are refused (400) rather than ignored and reported
    responses_retention_s: float  # how long a stored response is kept
    responses_max_bytes: int  # the most one stored response (its input and output items) may take
    reasoning_sealer: Sealer | None  # seals reasoning.encrypted_content; None: REASONING_SECRET is not set
    # Other names the Messages route takes for a served model, longest pattern first: (name, model);
    # a name ending in `*` is a prefix (`claude-*`). See `_anthropic_models`.
    anthropic_models: tuple[tuple[str, str], ...]
    ai_gateway_id: str | None  # every binding call goes through this AI Gateway
    fallback_model: str | None  # serves a request the model is out of capacity for (it is in `models`)
    account_requests_per_minute: int | None  # one ceiling across all keys (binding ACCOUNT_RATE_LIMIT)
    problems: tuple[str, ...]

    def __init__(
        self,
        *,
        models: tuple[str, ...],
        keys: tuple[ApiKey, ...],
        max_body_bytes: int,
        upstream_timeout_s: float,
        stream_idle_timeout_s: float,
        stream_ping_s: float,
        capacity_retries: int,
        retry_base_s: float,
        log_prompts: bool,
        tiers: dict[str, Tier],
        limits_fail_open: bool,
        cors_origins: tuple[str, ...],
        strict_params: bool,
        responses_retention_s: float,
        responses_max_bytes: int,
        reasoning_sealer: Sealer | None,
        anthropic_models: tuple[tuple[str, str], ...],
        ai_gateway_id: str | None,
        fallback_model: str | None,
        account_requests_per_minute: int | None,
        problems: tuple[str, ...],
    ) -> None:
        # No defaults here: `read_settings` is where each variable's default is written, once.
        self._init(
            models=models,
            keys=keys,
            max_body_bytes=max_body_bytes,
            upstream_timeout_s=upstream_timeout_s,
            stream_idle_timeout_s=stream_idle_timeout_s,
            stream_ping_s=stream_ping_s,
            capacity_retries=capacity_retries,
            retry_base_s=retry_base_s,
            log_prompts=log_prompts,
            tiers=tiers,
            limits_fail_open=limits_fail_open,
            cors_origins=cors_origins,
            strict_params=strict_params,
            responses_retention_s=responses_retention_s,
            responses_max_bytes=responses_max_bytes,
            reasoning_sealer=reasoning_sealer,
            anthropic_models=anthropic_models,
            ai_gateway_id=ai_gateway_id,
            fallback_model=fallback_model,
            account_requests_per_minute=account_requests_per_minute,
            problems=problems,
        )

    def tier_of(self, key: ApiKey) -> Tier | None:
        return self.tiers.get(key.tier)


def _raw(env: Any, name: str) -> str | None:
    value = getattr(env, name, None)
    if value is None:
        return None
    return str(value)


def _number(env: Any, name: str, default: float, low: float, high: float, problems: list[str]) -> float:
    raw = _raw(env, name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        problems.append(f"{name} must be a number from {low:g} to {high:g}, got {raw!r}")
        return default
    if not low <= value <= high:
        problems.append(f"{name} must be a number from {low:g} to {high:g}, got {raw!r}")
        return default
    return value


def _flag(env: Any, name: str, problems: list[str]) -> bool:
    raw = (_raw(env, name) or "false").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off", ""):
        return False
    problems.append(f"{name} must be true or false, got {raw!r}")
    return False


def _models(env: Any, problems: list[str]) -> tuple[str, ...]:
    raw = _raw(env, "MODELS") or DEFAULT_MODEL
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    unknown = [name for name in names if name not in KNOWN_MODELS]
    if unknown or not names:
        problems.append(f"MODELS may list only {', '.join(KNOWN_MODELS)}; got {raw!r}")
        return tuple(name for name in names if name in KNOWN_MODELS) or (DEFAULT_MODEL,)
    return names


def _keys(env: Any, problems: list[str]) -> tuple[ApiKey, ...]:
    raw = _raw(env, "GATEWAY_KEYS")
    if raw is None or not raw.strip():
        return ()
    try:
        return parse_keys(raw)
    except ValueError as exc:
        problems.append(str(exc))
        return ()


def _tiers(env: Any, problems: list[str]) -> dict[str, Tier]:
    raw = _raw(env, "TIERS")
    if raw is None or not raw.strip():
        return {}
    try:
        return parse_tiers(raw)
    except ValueError as exc:
        problems.append(str(exc))
        return {}


def _origins(env: Any, problems: list[str]) -> tuple[str, ...]:
    try:
        return parse_origins(_raw(env, "CORS_ORIGINS") or "")
    except ValueError as exc:
        problems.append(str(exc))
        return ()


def _sealer(env: Any, problems: list[str]) -> Sealer | None:
    raw = _raw(env, "REASONING_SECRET")
    if raw is None or not raw.strip():
        return None
    if len(raw.strip()) < MIN_SECRET_LENGTH:
        problems.append(f"REASONING_SECRET must be at least {MIN_SECRET_LENGTH} characters (a random string)")
        return None
    return Sealer(raw.strip())


def _anthropic_models(env: Any, models: tuple[str, ...], problems: list[str]) -> tuple[tuple[str, str], ...]:
    """`ANTHROPIC_MODEL_MAP`: a JSON object from the names Anthropic clients send (Claude Code's
    `--model`, its default model, its small fast model) to a served model, by any of its aliases. A
    name ending in `*` is a prefix. Unset: every `claude-*` name is the first served model; `{}`
    takes none."""
    raw = _raw(env, "ANTHROPIC_MODEL_MAP")
    if raw is None or not raw.strip():
        return (("claude-*", models[0]),)
    try:
        table = json.loads(raw)
    except ValueError as exc:
        problems.append(f"ANTHROPIC_MODEL_MAP is not valid JSON: {exc}")
        return ()
    if not isinstance(table, dict) or not all(isinstance(v, str) and k for k, v in table.items()):
        problems.append(
            'ANTHROPIC_MODEL_MAP must be a JSON object of names to models, e.g. {"claude-*": "gpt-oss-120b"}'
        )
        return ()
    pairs = []
    for name, target in table.items():
        model = served_model(target, models)
        if model is None:
            problems.append(f"ANTHROPIC_MODEL_MAP maps {name!r} to {target!r}, which is not a served model (MODELS)")
            continue
        pairs.append((name, model))
    # An exact name beats any prefix; a longer prefix beats a shorter one.
    return tuple(sorted(pairs, key=lambda pair: (pair[0].endswith("*"), -len(pair[0]))))


def _gateway_id(env: Any, problems: list[str]) -> str | None:
    raw = (_raw(env, "AI_GATEWAY_ID") or "").strip()
    if raw and not _GATEWAY_ID.match(raw):
        problems.append(f"AI_GATEWAY_ID must be an AI Gateway's id (letters, digits, - and _), got {raw!r}")
        return None
    return raw or None


def _fallback(env: Any, models: tuple[str, ...], problems: list[str]) -> str | None:
    raw = (_raw(env, "FALLBACK_MODEL") or "").strip()
    if raw and raw not in models:
        # A fallback the allow-list does not serve would answer for a model no client may ask for.
        problems.append(f"FALLBACK_MODEL must be one of the served MODELS ({', '.join(models)}), got {raw!r}")
        return None
    return raw or None


def _ceiling(env: Any, problems: list[str]) -> int | None:
    raw = (_raw(env, "ACCOUNT_REQUESTS_PER_MINUTE") or "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 1_000_000:
        problems.append(f"ACCOUNT_REQUESTS_PER_MINUTE must be a whole number from 1 to 1000000, got {raw!r}")
        return None
    return int(raw)


def _check_key_tiers(keys: tuple[ApiKey, ...], tiers: dict[str, Tier], problems: list[str]) -> None:
    # A key whose tier is not defined would have no limits by accident: refuse to serve instead.
    missing = sorted({key.tier for key in keys if key.tier not in tiers}) if tiers else []
    if missing:
        problems.append(f"GATEWAY_KEYS uses tier(s) {', '.join(missing)} that TIERS does not define")


def read_settings(env: Any) -> Settings:
    problems: list[str] = []
    keys = _keys(env, problems)
    tiers = _tiers(env, problems)
    _check_key_tiers(keys, tiers, problems)
    models = _models(env, problems)
    # Keyword arguments are evaluated in order, so `problems` is complete when it is read last.
    return Settings(
        models=models,
        keys=keys,
        max_body_bytes=int(_number(env, "MAX_BODY_BYTES", 10 * 1024 * 1024, 1024, 100 * 1024 * 1024, problems)),
        upstream_timeout_s=_number(env, "UPSTREAM_TIMEOUT_S", 120.0, 0.01, 900.0, problems),
        stream_idle_timeout_s=_number(env, "STREAM_IDLE_TIMEOUT_S", 60.0, 0.01, 900.0, problems),
        stream_ping_s=_number(env, "STREAM_PING_S", 5.0, 0.01, 300.0, problems),
        capacity_retries=int(_number(env, "CAPACITY_RETRIES", 2, 0, 5, problems)),
        retry_base_s=_number(env, "RETRY_BASE_MS", 250, 0, 10_000, problems) / 1000,
        log_prompts=_flag(env, "LOG_PROMPTS", problems),
        tiers=tiers,
        limits_fail_open=_flag(env, "LIMITS_FAIL_OPEN", problems),
        cors_origins=_origins(env, problems),
        strict_params=_flag(env, "STRICT_PARAMS", problems),
        responses_retention_s=_number(env, "RESPONSES_RETENTION_DAYS", 30, 0.0001, 3650, problems) * 86_400,
        responses_max_bytes=int(_number(env, "RESPONSES_MAX_BYTES", 1_048_576, 16_384, 16_777_216, problems)),
        reasoning_sealer=_sealer(env, problems),
        anthropic_models=_anthropic_models(env, models, problems),
        ai_gateway_id=_gateway_id(env, problems),
        fallback_model=_fallback(env, models, problems),
        account_requests_per_minute=_ceiling(env, problems),
        problems=tuple(problems),
    )


def settings_of(scope: Scope) -> Settings:
    return scope[SETTINGS_KEY]  # type: ignore[no-any-return]
