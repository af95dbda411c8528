"""Model names in the OpenAI dialect: aliases, and `GET /v1/models[/{id}]`."""

from __future__ import annotations

from typing import Any

from .._asgi.http import Receive, Scope, Send, send_json
from .._catalog import RELEASED_AT, aliases_of, served_model
from .._config import settings_of
from .._errors import InvalidRequest, ModelNotFound

__all__ = ["list_models", "resolve_model", "retrieve_model"]


def resolve_model(scope: Scope, name: Any, *, param: str = "model") -> str:
    """The served model a request names, by any of its aliases; a 404 otherwise."""
    if not isinstance(name, str) or not name:
        raise InvalidRequest(f'`{param}` is required: the model\'s name, e.g. "gpt-oss-120b".', param=param)
    models = settings_of(scope).models
    model = served_model(name, models)
    if model is not None:
        return model
    served = "; ".join(" or ".join(aliases_of(model)) for model in models)
    raise ModelNotFound(
        f"The model {name!r} does not exist or is not served here. Use {served}.", param=param, code="model_not_found"
    )


def _model_object(model: str) -> dict[str, Any]:
    return {"id": model, "object": "model", "created": RELEASED_AT, "owned_by": "openai"}


async def list_models(scope: Scope, receive: Receive, send: Send) -> None:
    data = [_model_object(model) for model in settings_of(scope).models]
    await send_json(send, 200, {"object": "list", "data": data})


async def retrieve_model(scope: Scope, receive: Receive, send: Send) -> None:
    model = resolve_model(scope, scope["path_params"]["model"])
    await send_json(send, 200, _model_object(model))
