"""Key policy and tiers: what each API key may do, parsed strictly from configuration.

A key record is the same JSON object wherever it is stored (an entry of `GATEWAY_KEYS`, a value
in the `GATEWAY_KEYS_KV` namespace under the key's SHA-256, an entry of the local keys file):

    {"name": "alice", "sha256": "<64 hex>", "tier": "pro", "models": ["@cf/openai/gpt-oss-120b"],
     "expires_at": "2026-12-31T00:00:00Z", "disabled": false}

Only `name` (and `sha256`, where the store does not already key by it) is required. A tier names
a set of limits from the `TIERS` variable; every limit a tier leaves out is not enforced.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from ._valueclass import FrozenRecord

__all__ = [
    "ANY",
    "DEFAULT_TIER",
    "RATE_LIMIT_PERIODS",
    "ApiKey",
    "Tier",
    "binding_name",
    "format_time",
    "parse_key_record",
    "parse_keys",
    "parse_origins",
    "parse_tiers",
    "parse_time",
]

DEFAULT_TIER = "default"
# The Rate Limiting binding accepts only these periods (Cloudflare's docs on `[[ratelimits]]`).
RATE_LIMIT_PERIODS = (10, 60)

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_TIER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
ANY = "*"
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.-]+(:\d{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_KEY_FIELDS = frozenset({"name", "sha256", "tier", "models", "expires_at", "disabled"})
_COUNT_FIELDS = ("requests", "period", "tokens_per_minute", "tokens_per_day", "max_streams")
_TIER_FIELDS = (*_COUNT_FIELDS, "usd_per_day", "usd_per_month", "ai_gateway_cache_headers")


class ApiKey(FrozenRecord):
    __slots__ = ("disabled", "expires_at", "models", "name", "sha256", "tier")
    name: str
    sha256: bytes
    tier: str
    models: tuple[str, ...] | None  # None: every model the gateway serves
    expires_at: float | None  # seconds since the epoch
    disabled: bool

    def __init__(
        self,
        name: str,
        sha256: bytes,
        tier: str = DEFAULT_TIER,
        models: tuple[str, ...] | None = None,
        expires_at: float | None = None,
        disabled: bool = False,
    ) -> None:
        self._init(name=name, sha256=sha256, tier=tier, models=models, expires_at=expires_at, disabled=disabled)

    @property
    def key_id(self) -> str:
        """What limits are counted under: the hash, so neither the key nor a reused name leaks in."""
        return self.sha256.hex()


class Tier(FrozenRecord):
    __slots__ = (
        "ai_gateway_cache_headers",
        "max_streams",
        "name",
        "period",
        "requests",
        "tokens_per_day",
        "tokens_per_minute",
        "usd_per_day",
        "usd_per_month",
    )
    name: str
    requests: int | None  # per `period` seconds, enforced by binding RATE_LIMIT_<NAME>
    period: int
    tokens_per_minute: int | None
    tokens_per_day: int | None
    max_streams: int | None
    usd_per_day: float | None  # list-price spend per UTC day, reserved and settled like tokens
    usd_per_month: float | None  # per UTC calendar month
    ai_gateway_cache_headers: bool  # cf-aig-cache-* request headers reach AI Gateway (else dropped, named)

    def __init__(
        self,
        name: str,
        requests: int | None = None,
        period: int = 60,
        tokens_per_minute: int | None = None,
        tokens_per_day: int | None = None,
        max_streams: int | None = None,
        usd_per_day: float | None = None,
        usd_per_month: float | None = None,
        ai_gateway_cache_headers: bool = False,
    ) -> None:
        self._init(
            name=name,
            requests=requests,
            period=period,
            tokens_per_minute=tokens_per_minute,
            tokens_per_day=tokens_per_day,
            max_streams=max_streams,
            usd_per_day=usd_per_day,
            usd_per_month=usd_per_month,
            ai_gateway_cache_headers=ai_gateway_cache_headers,
        )

    @property
    def has_budget(self) -> bool:
        """Whether the budget object keeps this tier's keys: for a limit, or for USD."""
        limits = (self.tokens_per_minute, self.tokens_per_day, self.max_streams, self.usd_per_day, self.usd_per_month)
        return any(limit is not None for limit in limits)


def binding_name(tier: str) -> str:
    """The Rate Limiting binding that counts a tier's requests: one per tier, since its limit is fixed."""
    return "RATE_LIMIT_" + tier.upper()


def parse_keys(raw: str) -> tuple[ApiKey, ...]:
    """Parse `GATEWAY_KEYS`: a JSON list of key records. Raises ValueError saying why."""
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"GATEWAY_KEYS is not valid JSON ({exc.msg})") from None
    if not isinstance(entries, list):
        raise ValueError('GATEWAY_KEYS must be a JSON list of {"name", "sha256", ...} objects')
    return tuple(parse_key_record(entry, where=f"GATEWAY_KEYS[{index}]") for index, entry in enumerate(entries))


def parse_key_record(entry: Any, *, where: str, sha256: str | None = None) -> ApiKey:
    """One key record; `sha256` is given when the store keys records by it (KV, the keys file)."""
    if not isinstance(entry, dict):
        raise ValueError(f'{where} must be an object with "name" and "sha256"')
    unknown = sorted(set(entry) - _KEY_FIELDS)
    if unknown:
        allowed = ", ".join(sorted(_KEY_FIELDS))
        raise ValueError(f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {allowed}")
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where}.name must be a non-empty string")
    return ApiKey(
        name=name,
        sha256=_digest(entry.get("sha256", sha256), where),
        tier=_tier_name(entry.get("tier", DEFAULT_TIER), f"{where}.tier"),
        models=_models(entry.get("models"), where),
        expires_at=parse_time(entry.get("expires_at"), f"{where}.expires_at"),
        disabled=_bool(entry.get("disabled", False), f"{where}.disabled"),
    )


def _digest(value: Any, where: str) -> bytes:
    if not isinstance(value, str) or not _SHA256_HEX.match(value.lower()):
        raise ValueError(f"{where}.sha256 must be 64 hex characters (the SHA-256 of the key)")
    return bytes.fromhex(value)


def _tier_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _TIER_NAME.match(value):
        raise ValueError(f"{where} must be a tier name (lowercase letters, digits, _), got {value!r}")
    return value


def _models(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(m, str) and m for m in value):
        raise ValueError(f'{where}.models must be a list of model names, such as ["@cf/openai/gpt-oss-120b"]')
    return tuple(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{where} must be true or false")
    return value


def parse_time(value: Any, where: str) -> float | None:
    """An instant as epoch seconds or ISO 8601 (a bare date means its start, UTC)."""
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    raise ValueError(f'{where} must be an ISO 8601 time such as "2026-12-31T00:00:00Z", or epoch seconds')


def format_time(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_tiers(raw: str) -> dict[str, Tier]:
    """Parse `TIERS`: `{"<tier>": {"requests", "period", "tokens_per_minute", "tokens_per_day", "max_streams",
    "usd_per_day", "usd_per_month", "ai_gateway_cache_headers"}}`."""
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"TIERS is not valid JSON ({exc.msg})") from None
    if not isinstance(entries, dict) or not entries:
        raise ValueError('TIERS must be a JSON object of tiers, such as {"default": {"requests": 60}}')
    return {name: _parse_tier(name, fields) for name, fields in entries.items()}


def _parse_tier(name: str, fields: Any) -> Tier:
    where = f"TIERS.{name}"
    _tier_name(name, f"{where} (the name)")
    if not isinstance(fields, dict):
        raise ValueError(f"{where} must be an object with any of {', '.join(_TIER_FIELDS)}")
    unknown = sorted(set(fields) - set(_TIER_FIELDS))
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {', '.join(unknown)}; allowed: {', '.join(_TIER_FIELDS)}")
    values = {field: _positive(fields.get(field), f"{where}.{field}") for field in _COUNT_FIELDS}
    period = values.pop("period") or 60
    if period not in RATE_LIMIT_PERIODS:
        raise ValueError(f"{where}.period must be 10 or 60 (the Rate Limiting binding's periods), got {period}")
    return Tier(
        name=name,
        period=period,
        **values,
        usd_per_day=_dollars(fields.get("usd_per_day"), f"{where}.usd_per_day"),
        usd_per_month=_dollars(fields.get("usd_per_month"), f"{where}.usd_per_month"),
        ai_gateway_cache_headers=_bool(
            fields.get("ai_gateway_cache_headers", False), f"{where}.ai_gateway_cache_headers"
        ),
    )


def _positive(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{where} must be a whole number of at least 1, got {value!r}")
    return value


def _dollars(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 1e9:
        raise ValueError(f"{where} must be an amount in US dollars greater than 0, such as 5 or 0.5, got {value!r}")
    return float(value)


def parse_origins(raw: str) -> tuple[str, ...]:
    """Parse `CORS_ORIGINS`. Raises ValueError naming the bad entry."""
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    if ANY in origins and len(origins) > 1:
        raise ValueError("CORS_ORIGINS is either * alone or a list of origins, not both")
    for origin in origins:
        if origin != ANY and not _ORIGIN.match(origin):
            raise ValueError(f"CORS_ORIGINS entries must look like https://app.example.com (no path), got {origin!r}")
    return origins
