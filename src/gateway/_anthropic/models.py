"""Model names on the Messages route: the served models' aliases, and the names Anthropic clients send.

Claude Code asks for a `claude-*` model unless told otherwise (its default model, `--model sonnet`,
its small fast model); `ANTHROPIC_MODEL_MAP` says which served model answers each such name. The
answer names the model that really answered.
"""

from __future__ import annotations

from typing import Any

from .._asgi.http import Scope
from .._catalog import aliases_of, served_model
from .._config import settings_of
from .._errors import InvalidRequest, ModelNotFound

__all__ = ["mapped_model", "resolve_messages_model"]


def mapped_model(name: str, table: tuple[tuple[str, str], ...]) -> str | None:
    """The model `table` maps `name` to; `table` is ordered exact names first, then longest prefix."""
    for pattern, model in table:
        if name == pattern or (pattern.endswith("*") and name.startswith(pattern[:-1])):
            return model
    return None


def resolve_messages_model(scope: Scope, name: Any) -> tuple[str, str]:
    """(the served model, the name the answer gives it): the client's own name when it is one of the
    model's aliases, the model's id when the name was mapped (a `claude-*` name must not claim Claude
    answered)."""
    if not isinstance(name, str) or not name:
        raise InvalidRequest('`model` is required: the model\'s name, e.g. "gpt-oss-120b".', param="model")
    settings = settings_of(scope)
    model = served_model(name, settings.models)
    if model is not None:
        return model, name
    model = mapped_model(name, settings.anthropic_models)
    if model is not None:
        return model, model
    served = "; ".join(" or ".join(aliases_of(model)) for model in settings.models)
    mapped = ", ".join(pattern for pattern, _ in settings.anthropic_models)
    raise ModelNotFound(
        f"model: {name!r} is not served here. Use {served}"
        + (f", or a name ANTHROPIC_MODEL_MAP maps ({mapped})." if mapped else "."),
        param="model",
        code="model_not_found",
    )
