"""Stored responses in the OpenAI dialect.

Routes: `GET /v1/responses/{id}`, `DELETE /v1/responses/{id}`, `GET /v1/responses/{id}/input_items`
(OpenAI's cursor pagination: `after`, `limit` 1-100 (20), `order` asc|desc (desc)). And what
`POST /v1/responses` needs of the store: the conversation a `previous_response_id` continues, the
items `item_reference`s name, and saving a finished response with its items.

Every lookup goes to the calling key's own store, so another key's id is simply not there: a 404
that says no more than that. A response made with `store: false` has an id beginning `resp_x`
(its items' ids carry the same mark), so a reference to it can say what to do instead: send the
items inline.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from .._asgi.context import context_of
from .._asgi.http import Receive, Scope, Send, send_json
from .._config import settings_of
from .._errors import InvalidRequest, NotFound, ServiceUnavailable
from .._limits.guards import key_of
from .._stored.store import ResponseStore, store_of
from .encrypted_reasoning import ENCRYPTED_CONTENT, sealer_for

__all__ = [
    "Conversation",
    "check_storable",
    "delete_response",
    "input_record",
    "list_input_items",
    "new_response_id",
    "referenced_items",
    "retrieve_response",
    "save_response",
    "stored_context",
]

_T = TypeVar("_T")
_UNSTORED = re.compile(r"^[a-z]+_x[0-9a-f]{47}(?:_\d+)?$")
_ID_PREFIXES = {"message": "msg", "function_call": "fc", "function_call_output": "fco", "reasoning": "rs"}
_NOT_CONFIGURED = (
    "Stored responses are not enabled on this gateway (its STORED_RESPONSES binding is not declared), "
    "so nothing can be referenced: send the whole conversation in `input`."
)


def new_response_id(stored: bool) -> str:
    """`resp_` and 48 hex digits; a response that will not be stored is marked `resp_x`."""
    return "resp_" + ("" if stored else "x") + os.urandom(24).hex()[: 48 if stored else 47]


def _unstored(item_id: str) -> bool:
    return bool(_UNSTORED.match(item_id))


def _inline_instead(what: str, param: str) -> InvalidRequest:
    return InvalidRequest(
        f"{what} was created with store: false, so it was not stored: send its items inline in `input` instead.",
        param=param,
        code="not_stored",
    )


async def _call(call: Awaitable[_T]) -> _T:
    """A store call; a store that fails is a 503 (retry), never a wrong answer."""
    try:
        return await call
    except Exception as exc:
        raise ServiceUnavailable(
            f"The gateway cannot reach its stored responses right now ({type(exc).__name__}). Retry shortly.",
            code="store_unavailable",
            retry_after=1.0,
        ) from exc


def _store_and_key(scope: Scope, param: str) -> tuple[ResponseStore, str]:
    store, key = store_of(scope), key_of(scope)
    if store is None or key is None:
        raise InvalidRequest(_NOT_CONFIGURED, param=param)
    return store, key.key_id


class Conversation:
    """What the stored conversation adds to a request: its items, and its session (for affinity)."""

    __slots__ = ("items", "session")

    def __init__(self, items: list[dict[str, Any]], session: str | None) -> None:
        self.items, self.session = items, session


async def stored_context(scope: Scope, previous_id: str) -> Conversation:
    """The items of the chain `previous_response_id` continues, oldest first."""
    param = "previous_response_id"
    store, key_id = _store_and_key(scope, param)
    if _unstored(previous_id):
        raise _inline_instead(f"Response {previous_id!r}", param)
    found = await _call(store.context(key_id, previous_id))
    if not found.get("found"):
        raise NotFound(f"Response with id {previous_id!r} not found.", param=param)
    if found.get("missing"):
        raise InvalidRequest(
            f"The conversation before {previous_id!r} cannot be rebuilt: its earlier response {found['missing']!r} "
            "has expired or been deleted. Send the conversation inline in `input`.",
            param=param,
        )
    if found.get("too_long"):
        raise InvalidRequest(
            f"The chain of responses before {previous_id!r} is longer than {found['too_long']}; "
            "send the conversation inline in `input`.",
            param=param,
        )
    return Conversation([json.loads(item) for item in found["items"]], found.get("session"))


async def referenced_items(scope: Scope, items: list[Any]) -> tuple[list[Any], str | None]:
    """`input` with every `item_reference` replaced by the stored item it names, and the session of
    the first response they came from."""
    wanted = {
        index: item.get("id")
        for index, item in enumerate(items)
        if isinstance(item, dict) and item.get("type") == "item_reference"
    }
    if not wanted:
        return items, None
    store, key_id = _store_and_key(scope, f"input[{next(iter(wanted))}]")
    for index, item_id in wanted.items():
        if not isinstance(item_id, str) or not item_id:
            raise InvalidRequest(f"`input[{index}].id` is required (a string).", param=f"input[{index}].id")
        if _unstored(item_id):
            raise _inline_instead(f"Item {item_id!r}", f"input[{index}].id")
    found = await _call(store.items(key_id, [str(item_id) for item_id in wanted.values()]))
    resolved, session = list(items), None
    for index, item_id in wanted.items():
        if item_id not in found:
            raise NotFound(f"Item with id {item_id!r} not found.", param=f"input[{index}].id")
        resolved[index] = json.loads(found[item_id]["body"])
        session = session or found[item_id].get("session")
    return resolved, session


def _with_id(item: dict[str, Any]) -> dict[str, Any]:
    kind = item.get("type", "message")
    stored = {**item, "type": kind}
    if not isinstance(stored.get("id"), str) or not stored["id"]:
        stored["id"] = f"{_ID_PREFIXES.get(kind, 'item')}_{os.urandom(24).hex()}"
    if kind == "message":
        if isinstance(stored.get("content"), str):
            part = "output_text" if stored.get("role") == "assistant" else "input_text"
            stored["content"] = [{"type": part, "text": stored["content"]}]
        stored.setdefault("status", "completed")
    return stored


def input_record(value: str | list[Any]) -> list[dict[str, Any]]:
    """A request's input items as they are stored and listed: each with an id, content as parts."""
    items = [{"type": "message", "role": "user", "content": value}] if isinstance(value, str) else value
    return [_with_id(item) for item in items if isinstance(item, dict)]


def _size(items: list[dict[str, Any]]) -> int:
    return len(json.dumps(items, separators=(",", ":"), ensure_ascii=False).encode())


def check_storable(scope: Scope, items: list[dict[str, Any]]) -> None:
    """Refuse, before the model runs, an input too large to store (it could never be referenced)."""
    limit = settings_of(scope).responses_max_bytes
    size = _size(items)
    if size > limit:
        raise InvalidRequest(
            f"This response's input is {size} bytes, more than the {limit} bytes a stored response may hold "
            "(RESPONSES_MAX_BYTES). Send store: false (and the conversation inline), or a shorter input.",
            param="store",
        )


async def save_response(
    scope: Scope, response: dict[str, Any], items: list[dict[str, Any]], previous_id: str | None, session: str | None
) -> bool:
    """Store a finished response; false (and said on the log line) when it could not be."""
    store, key = store_of(scope), key_of(scope)
    context = context_of(scope)
    if store is None or key is None:
        return False
    output = [{k: v for k, v in item.items() if k != "encrypted_content"} for item in response["output"]]
    settings = settings_of(scope)
    if _size(items) + _size(output) > settings.responses_max_bytes:
        context.extra["store_error"] = "over RESPONSES_MAX_BYTES"
        return False
    record = {
        "id": response["id"],
        "previous_id": previous_id,
        "session": session,
        "retention_ms": int(settings.responses_retention_s * 1000),
        "response": {**response, "output": output, "store": True},
        "input": items,
        "output": output,
    }
    try:
        await store.save(key.key_id, json.dumps(record, separators=(",", ":"), ensure_ascii=False))
    except Exception as exc:  # the answer is already made: deliver it, unstored, and say why in the log
        context.extra["store_error"] = f"{type(exc).__name__}: {exc}"
        return False
    context.extra["stored"] = True
    return True


# -- routes -----------------------------------------------------------------------------------


def _query(scope: Scope) -> list[tuple[str, str]]:
    return parse_qsl(bytes(scope.get("query_string", b"")).decode("latin-1"), keep_blank_values=True)


def _includes(scope: Scope, query: list[tuple[str, str]]) -> bool:
    """Whether `include[]=reasoning.encrypted_content` was asked for (others are reported ignored)."""
    wanted = [value for name, value in query if name in ("include", "include[]")]
    others = [f"include[{value}]" for value in wanted if value != ENCRYPTED_CONTENT]
    if ENCRYPTED_CONTENT in wanted and sealer_for(scope) is None:
        others.append(f"include[{ENCRYPTED_CONTENT}]")
    if others:
        context_of(scope).note_ignored(others)
    return ENCRYPTED_CONTENT in wanted and sealer_for(scope) is not None


def _sealed(scope: Scope, item: dict[str, Any]) -> dict[str, Any]:
    seal = sealer_for(scope)
    if seal is None or item.get("type") != "reasoning" or item.get("encrypted_content"):
        return item
    text = "\n".join(part.get("text", "") for part in item.get("content") or [] if isinstance(part, dict))
    return {**item, "encrypted_content": seal(text)}


def _not_found(response_id: str) -> NotFound:
    if _unstored(response_id):
        return NotFound(f"Response with id {response_id!r} was created with store: false, so it was not stored.")
    return NotFound(f"Response with id {response_id!r} not found.")


async def retrieve_response(scope: Scope, receive: Receive, send: Send) -> None:
    response_id = scope["path_params"]["response_id"]
    query = _query(scope)
    if any(name == "stream" and value.lower() == "true" for name, value in query):
        raise InvalidRequest(
            "`stream` replays a background response's events; background responses are not available here, "
            "so retrieve the response without it.",
            param="stream",
        )
    store, key_id = _store_and_key(scope, "response_id")
    found = await _call(store.response(key_id, response_id))
    if found is None:
        raise _not_found(response_id)
    response = json.loads(found)
    if _includes(scope, query):
        response["output"] = [_sealed(scope, item) for item in response["output"]]
    await send_json(send, 200, response)


async def delete_response(scope: Scope, receive: Receive, send: Send) -> None:
    response_id = scope["path_params"]["response_id"]
    store, key_id = _store_and_key(scope, "response_id")
    if not await _call(store.delete(key_id, response_id)):
        raise _not_found(response_id)
    await send_json(send, 200, {"id": response_id, "object": "response.deleted", "deleted": True})


def _page_parameters(query: list[tuple[str, str]]) -> tuple[str | None, int, str]:
    values = {name: value for name, value in query}
    limit_text = values.get("limit", "20")
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= 100:
        raise InvalidRequest(f"`limit` must be an integer from 1 to 100, got {limit_text!r}.", param="limit")
    order = values.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequest(f'`order` must be "asc" or "desc", got {order!r}.', param="order")
    return values.get("after") or None, int(limit_text), order


async def list_input_items(scope: Scope, receive: Receive, send: Send) -> None:
    response_id = scope["path_params"]["response_id"]
    query = _query(scope)
    after, limit, order = _page_parameters(query)
    store, key_id = _store_and_key(scope, "response_id")
    page = await _call(store.input_page(key_id, response_id, after, limit, order))
    if not page.get("found"):
        raise _not_found(response_id)
    if not page.get("after_found"):
        raise InvalidRequest(f"`after` names {after!r}, which is not an input item of {response_id!r}.", param="after")
    sealed = _includes(scope, query)
    data = [json.loads(item) for item in page["data"]]
    data = [_sealed(scope, item) for item in data] if sealed else data
    body = {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": bool(page["has_more"]),
    }
    await send_json(send, 200, body)
