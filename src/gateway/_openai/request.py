"""What the OpenAI routes share about requests: field checks, sampling fields, tools, max tokens."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._asgi.context import RequestContext, context_of
from .._asgi.http import Receive, Scope, read_json_object
from .._asgi.schema import AnyOf, Array, Bool, Integer, Null, Number, Obj, Spec, Str, check
from .._catalog import CONTEXT_WINDOW, OPENAI_DEFAULT_MAX_TOKENS
from .._config import settings_of
from .._errors import InvalidRequest
from .._upstream.backend import Usage
from .._upstream.context_window import check_context_window, room_for_output

__all__ = [
    "FUNCTION_TOOL",
    "SAMPLING",
    "STOP",
    "TOOL_CHOICE",
    "Sampling",
    "check_tool_choice",
    "fit_default_cap",
    "max_tokens_of",
    "note_user",
    "read_request",
    "sampling_inputs",
    "stop_sequences",
    "token_usage",
    "tool_names",
    "workers_ai_json_mode",
]

SAMPLING: dict[str, Spec] = {
    "temperature": Number(0, 2),
    # Workers AI's minimum is 0.001; OpenAI's 0 would be refused upstream, so it is refused here.
    "top_p": Number(0.001, 1),
    "seed": Integer(1, 9_999_999_999),
    "frequency_penalty": Number(-2, 2),
    "presence_penalty": Number(-2, 2),
}

FUNCTION_TOOL = Obj(
    {
        "type": Str(enum=("function",)),
        "function": Obj(
            {
                "name": Str(min_length=1),
                "description": Str(),
                "parameters": Obj(closed=False),
                "strict": AnyOf((Bool(), Null())),
            },
            required=("name",),
        ),
    },
    required=("type", "function"),
)

_TOOL_CHOICE_OBJECT = Obj(
    {
        "type": Str(enum=("function",)),
        "function": Obj({"name": Str(min_length=1)}, required=("name",)),
        "name": Str(min_length=1),
    },
    required=("type",),
)
TOOL_CHOICE = AnyOf((Str(enum=("none", "auto", "required")), _TOOL_CHOICE_OBJECT))


class Sampling:
    __slots__ = ("inputs", "max_tokens")

    def __init__(self, max_tokens: int, inputs: dict[str, Any]) -> None:
        self.max_tokens, self.inputs = max_tokens, inputs


def sampling_inputs(body: Mapping[str, Any], max_tokens: int | None) -> Sampling:
    """The sampling fields Workers AI takes, and the output limit (ours when the client sets none)."""
    inputs = {name: body[name] for name in SAMPLING if body.get(name) is not None}
    limit = max_tokens if max_tokens is not None else OPENAI_DEFAULT_MAX_TOKENS
    inputs["max_tokens"] = limit
    return Sampling(max_tokens=limit, inputs=inputs)


def fit_default_cap(inputs: dict[str, Any], client_cap: int | None, cap_name: str) -> int:
    """The output cap to send. A client's own is sent as it is, and refused, naming the client's
    field, if it cannot fit; the gateway's default shrinks to the room the input leaves instead."""
    if client_cap is None:
        inputs["max_tokens"] = max(1, min(inputs["max_tokens"], room_for_output(inputs)))
    else:
        check_context_window(inputs, cap_name=cap_name)
    return int(inputs["max_tokens"])


def max_tokens_of(body: Mapping[str, Any], *names: str) -> int | None:
    """The one output limit the client set, under whichever name; two different ones are refused."""
    values = {name: body[name] for name in names if body.get(name) is not None}
    for name, value in values.items():
        check(value, Integer(1, CONTEXT_WINDOW), name)
    if len(set(values.values())) > 1:
        raise InvalidRequest(
            f"{' and '.join(f'`{n}`' for n in values)} disagree; send one of them.", param=list(values)[1]
        )
    return next(iter(values.values()), None)


async def read_request(scope: Scope, receive: Receive) -> dict[str, Any]:
    """The request's JSON body; its `user` tag goes on the log line, and with LOG_PROMPTS the body."""
    body = await read_json_object(scope, receive)
    context = context_of(scope)
    note_user(context, body)
    if settings_of(scope).log_prompts:
        context.extra["request_body"] = body
    return body


def note_user(context: RequestContext, body: Mapping[str, Any]) -> None:
    """OpenAI's `user` tags a request for its owner: it goes on the log line, never upstream."""
    if isinstance(body.get("user"), str) and body["user"]:
        context.extra["user"] = body["user"]


def workers_ai_json_mode(kind: str, schema: Any) -> dict[str, Any] | None:
    """OpenAI's `json_object` / `json_schema` (`{name, schema, strict}`) as Workers AI's JSON Mode,
    which takes the schema itself: `{"type": "json_schema", "json_schema": <schema>}`. A
    `json_schema` format without a schema asks only for JSON."""
    if kind == "json_schema" and isinstance(schema, dict):
        return {"type": "json_schema", "json_schema": schema}
    if kind in ("json_object", "json_schema"):
        return {"type": "json_object"}
    return None


def tool_names(tools: list[dict[str, Any]]) -> set[str]:
    return {tool["function"]["name"] for tool in tools}


def check_tool_choice(choice: Any, names: set[str]) -> None:
    """A named tool choice must name an offered tool; `required` needs tools at all."""
    if choice == "required" and not names:
        raise InvalidRequest('`tool_choice` is "required" but no `tools` were offered.', param="tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name not in names:
            raise InvalidRequest(
                f"`tool_choice` names {name!r}, which is not among the offered tools "
                f"({', '.join(sorted(names)) or 'none'}).",
                param="tool_choice",
            )


STOP = AnyOf((Str(min_length=1), Array(Str(min_length=1), max_items=4), Null()))


def stop_sequences(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def token_usage(usage: Usage) -> dict[str, Any]:
    """`usage` as Chat Completions and Completions report it. `cached_tokens` is the part of the
    prompt Workers AI read from its prefix cache; it does not say how many it wrote, so the
    optional `cache_write_tokens` is left out rather than guessed."""
    prompt, completion = usage.input_tokens or 0, usage.output_tokens or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens or 0},
    }
