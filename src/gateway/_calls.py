"""The one place every route calls the model from: allow-list, timing, retries and timeouts.

Routes of every dialect go through `call_model`, so what must happen around each model call
(budgets, usage accounting) has exactly one home.
"""

from __future__ import annotations

import time
from typing import Any

from ._budget import reserve_tokens
from ._errors import Forbidden, ModelNotServed
from ._guards import key_of
from ._http import Scope, context_of
from ._state import backend_of, settings_of
from ._upstream import CallPolicy, UpstreamResult, call_upstream
from ._usage import record_usage_after

__all__ = ["allowed_model", "call_model", "check_key_scope", "policy_for"]


def policy_for(scope: Scope) -> CallPolicy:
    settings = settings_of(scope)
    return CallPolicy(settings.upstream_timeout_s, settings.capacity_retries, settings.retry_base_s)


def allowed_model(scope: Scope, model: str) -> str:
    models = settings_of(scope).models
    if model not in models:
        raise ModelNotServed(f"Model {model!r} is not served here. Allowed: {', '.join(models)}.", param="model")
    return model


def check_key_scope(scope: Scope, model: str) -> None:
    key = key_of(scope)
    if key is not None and key.models is not None and model not in key.models:
        raise Forbidden(
            f"This API key may use only {', '.join(key.models)}; it may not use {model!r}.",
            param="model",
            code="model_not_allowed_for_key",
        )


async def call_model(scope: Scope, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> UpstreamResult:
    context = context_of(scope)
    context.model = model
    check_key_scope(scope, model)
    # Reserved before the call, settled when the request ends (a stream's end included).
    reservation = await reserve_tokens(scope, inputs)
    record_usage_after(scope)
    started = time.perf_counter()
    try:
        return await call_upstream(backend_of(scope), model, inputs, options, policy_for(scope))
    except BaseException:
        if reservation is not None:
            reservation.fail()
        raise
    finally:
        context.upstream_ms = (time.perf_counter() - started) * 1000
