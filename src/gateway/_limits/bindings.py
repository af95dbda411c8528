"""The Worker's guards, from its bindings. Nothing here imports `js` at module level.

Binding names (declared in wrangler.toml):
- `RATE_LIMIT_<TIER>`: a Rate Limiting binding per tier (`RATE_LIMIT_DEFAULT`, `RATE_LIMIT_PRO`),
  since a binding's limit and period are fixed in its declaration;
- `ACCOUNT_RATE_LIMIT` (when `ACCOUNT_REQUESTS_PER_MINUTE` is set): one more, counted under one
  key for every API key, the account's ceiling; its name cannot be a tier's binding name;
- `TOKEN_BUDGETS`: the `TokenBudget` Durable Object namespace, one object per key (named by the
  key's hash), called over RPC: `reserve(lease_id, tokens, stream, per_minute, per_day,
  max_streams, usd, usd_per_day, usd_per_month)`, `settle(lease_id, tokens, usd)` and
  `report(per_minute, per_day, max_streams, usd_per_day, usd_per_month)`, all answering plain
  dicts (dollars as whole nano-dollars);
- `GATEWAY_KEYS_KV` (optional): key records, keyed by the key's SHA-256 in hex;
- `USAGE` (optional): an Analytics Engine dataset for per-key usage.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from typing import Any

from .._asgi.context import RequestContext
from .._js import plain, to_js_object
from .._policy import ApiKey, Tier, binding_name, parse_key_record
from .analytics import data_point
from .guards import BudgetVerdict, Guards, RequestVerdict, Window, ledger_limits

__all__ = [
    "BUDGETS_BINDING",
    "CEILING_BINDING",
    "KEYS_BINDING",
    "USAGE_BINDING",
    "AnalyticsUsage",
    "BindingMissing",
    "BindingRequestLimiter",
    "DurableBudgets",
    "KvKeyStore",
    "binding_guards",
]

BUDGETS_BINDING = "TOKEN_BUDGETS"
CEILING_BINDING = "ACCOUNT_RATE_LIMIT"
KEYS_BINDING = "GATEWAY_KEYS_KV"
USAGE_BINDING = "USAGE"


class BindingMissing(RuntimeError):
    pass


def _binding(env: Any, name: str) -> Any:
    binding = getattr(env, name, None)
    if binding is None:
        raise BindingMissing(f"binding {name} is not declared in wrangler.toml")
    return binding


class BindingRequestLimiter:
    """Rate Limiting bindings. They answer only `success`: remaining is unknown, and the wait is
    estimated as the rest of the current period (their counters are per location and eventually
    consistent; the exact limits are the token budgets')."""

    def __init__(self, env: Any, binding_for: Callable[[Tier], str] = lambda tier: binding_name(tier.name)) -> None:
        self._env = env
        self._binding_for = binding_for

    async def admit(self, key_id: str, tier: Tier) -> RequestVerdict:
        binding = _binding(self._env, self._binding_for(tier))
        outcome = plain(await binding.limit(to_js_object({"key": key_id})))
        success = outcome.get("success") if isinstance(outcome, dict) else getattr(outcome, "success", None)
        if not isinstance(success, bool):
            raise TypeError(f"the Rate Limiting binding answered {outcome!r}, not {{success}}")
        reset_s = tier.period - time.time() % tier.period
        window = Window(limit=tier.requests or 0, remaining=None if success else 0, reset_s=reset_s)
        return RequestVerdict(admitted=success, window=window, retry_after_s=None if success else math.ceil(reset_s))


class DurableBudgets:
    """The `TokenBudget` Durable Object, one per key."""

    def __init__(self, namespace: Any) -> None:
        self._namespace = namespace

    def _stub(self, key_id: str) -> Any:
        if self._namespace is None:
            raise BindingMissing(f"binding {BUDGETS_BINDING} is not declared in wrangler.toml")
        return self._namespace.get(self._namespace.idFromName(key_id))

    async def reserve(
        self, key_id: str, lease_id: str, tokens: int, stream: bool, tier: Tier, usd: int
    ) -> BudgetVerdict:
        per_minute, per_day, max_streams, usd_per_day, usd_per_month = ledger_limits(tier)
        answer = await self._stub(key_id).reserve(
            lease_id, tokens, stream, per_minute, per_day, max_streams, usd, usd_per_day, usd_per_month
        )
        return BudgetVerdict.from_ledger(plain(answer))

    async def settle(self, key_id: str, lease_id: str, tokens: int, usd: int) -> None:
        await self._stub(key_id).settle(lease_id, tokens, usd)

    async def report(self, key_id: str, tier: Tier) -> dict[str, Any]:
        return plain(await self._stub(key_id).report(*ledger_limits(tier)))  # type: ignore[no-any-return]


class KvKeyStore:
    """Key records in KV under their hash; adding or revoking one needs no redeploy.

    KV is eventually consistent: a change can take up to a minute to reach every location.
    """

    name = KEYS_BINDING

    def __init__(self, namespace: Any) -> None:
        self._namespace = namespace

    async def find(self, sha256_hex: str) -> ApiKey | None:
        raw = plain(await self._namespace.get(sha256_hex))
        if raw is None:
            return None
        return parse_key_record(json.loads(str(raw)), where=f"{KEYS_BINDING}[{sha256_hex[:12]}…]", sha256=sha256_hex)


class AnalyticsUsage:
    """The Analytics Engine binding. `writeDataPoint` does not wait and returns nothing."""

    def __init__(self, dataset: Any) -> None:
        self._dataset = dataset

    def record(self, key: ApiKey, context: RequestContext) -> None:
        self._dataset.writeDataPoint(to_js_object(data_point(key, context)))


def binding_guards(env: Any) -> Guards:
    keys = getattr(env, KEYS_BINDING, None)
    usage = getattr(env, USAGE_BINDING, None)
    return Guards(
        requests=BindingRequestLimiter(env),
        tokens=DurableBudgets(getattr(env, BUDGETS_BINDING, None)),
        keys=KvKeyStore(keys) if keys is not None else None,
        usage=AnalyticsUsage(usage) if usage is not None else None,
        ceiling=BindingRequestLimiter(env, binding_for=lambda tier: CEILING_BINDING),
    )
