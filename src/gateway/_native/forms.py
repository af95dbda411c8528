"""The input forms of gpt-oss on Workers AI, and the check that a body is exactly one of them.

Ranges and enums are the model page's JSON schema (see DESIGN.md): temperature 0–5, top_p
0.001–1, top_k 1–50, seed 1–9999999999, repetition_penalty 0–2, frequency/presence_penalty −2–2,
prompt minLength 1; reasoning.effort low|medium|high; reasoning.summary auto|concise|detailed.
"""

from __future__ import annotations

from typing import Any, Literal

from .._asgi.schema import AnyOf, Array, Bool, Integer, Null, Number, Obj, Spec, Str, check
from .._catalog import CONTEXT_WINDOW
from .._errors import InvalidRequest

__all__ = ["FORM_NAMES", "FORM_SPECS", "Form", "detect_form", "validate_native"]

Form = Literal["prompt", "messages", "responses", "batch", "poll"]

FORM_NAMES: dict[Form, str] = {
    "prompt": "prompt",
    "messages": "messages",
    "responses": "Responses",
    "batch": "async batch",
    "poll": "async batch polling",
}

# The field whose presence selects each form.
_MARKERS: dict[str, Form] = {
    "prompt": "prompt",
    "messages": "messages",
    "input": "responses",
    "requests": "batch",
    "request_id": "poll",
}

_SAMPLING: dict[str, Spec] = {
    "stream": Bool(),
    "max_tokens": Integer(1, CONTEXT_WINDOW),
    "temperature": Number(0, 5),
    "top_p": Number(0.001, 1),
    "top_k": Integer(1, 50),
    "seed": Integer(1, 9_999_999_999),
    "repetition_penalty": Number(0, 2),
    "frequency_penalty": Number(-2, 2),
    "presence_penalty": Number(-2, 2),
}

_RESPONSE_FORMAT = Obj(
    {"type": Str(enum=("json_object", "json_schema")), "json_schema": Obj(closed=False)},
    required=("type",),
)

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")

_CONTENT_PART = Obj({"type": Str(min_length=1)}, required=("type",), closed=False)

_MESSAGE = Obj(
    {
        "role": Str(enum=_ROLES),
        "content": AnyOf((Str(), Array(_CONTENT_PART), Null())),
        "name": Str(),
        "tool_call_id": Str(),
        "tool_calls": Array(Obj(closed=False)),
    },
    required=("role",),
    closed=False,
)

_FUNCTION_TOOL = Obj(
    {"name": Str(min_length=1), "description": Str(), "parameters": Obj(closed=False)}, required=("name",), closed=False
)

# Workers AI takes both `{name, description, parameters}` and OpenAI's `{type, function}`.
_TOOL = Obj(
    {
        "type": Str(enum=("function",)),
        "function": _FUNCTION_TOOL,
        "name": Str(min_length=1),
        "description": Str(),
        "parameters": Obj(closed=False),
        "strict": Bool(),
    },
    closed=False,
)

_REASONING = Obj({"effort": Str(enum=("low", "medium", "high")), "summary": Str(enum=("auto", "concise", "detailed"))})

_TOOL_CHOICE = AnyOf((Str(enum=("auto", "none", "required")), Obj(closed=False)))

FORM_SPECS: dict[Form, Obj] = {
    "prompt": Obj(
        {
            "prompt": Str(min_length=1),
            "raw": Bool(),
            "lora": Str(min_length=1),
            "response_format": _RESPONSE_FORMAT,
            **_SAMPLING,
        },
        required=("prompt",),
    ),
    "messages": Obj(
        {
            "messages": Array(_MESSAGE, min_items=1),
            "functions": Array(Obj({"name": Str(min_length=1), "code": Str(min_length=1)}, required=("name", "code"))),
            "tools": Array(_TOOL),
            "tool_choice": _TOOL_CHOICE,
            "response_format": _RESPONSE_FORMAT,
            "raw": Bool(),
            # Workers AI reads it from the inputs for gpt-oss (cloudflare/ai workers-ai-provider 3.1.12).
            "reasoning_effort": Str(enum=("low", "medium", "high")),
            **_SAMPLING,
        },
        required=("messages",),
    ),
    "responses": Obj(
        {
            "input": AnyOf((Str(min_length=1), Array(Obj(closed=False), min_items=1))),
            "instructions": Str(),
            "reasoning": _REASONING,
            "stream": Bool(),
            "max_output_tokens": Integer(1, CONTEXT_WINDOW),
            "temperature": Number(0, 5),
            "top_p": Number(0.001, 1),
            "tools": Array(Obj(closed=False)),
            "tool_choice": _TOOL_CHOICE,
            "text": Obj(closed=False),
        },
        required=("input",),
    ),
    "batch": Obj({"requests": Array(Obj(closed=False), min_items=1, max_items=10_000)}, required=("requests",)),
    "poll": Obj({"request_id": Str(min_length=1)}, required=("request_id",)),
}


def detect_form(body: dict[str, Any], *, path: str = "") -> Form:
    present = [name for name in _MARKERS if name in body]
    if not present:
        where = f"`{path}`" if path else "The body"
        raise InvalidRequest(
            f"{where} must be one of the model's input forms: `prompt` (prompt form), `messages` "
            "(messages form), `input` (Responses form), `requests` (async batch) or `request_id` "
            f"(batch polling).{_unrecognised(body)}",
            param=path or None,
        )
    if len(present) > 1:
        forms = " and ".join(f"`{name}` ({FORM_NAMES[_MARKERS[name]]} form)" for name in present)
        raise InvalidRequest(
            f"The body mixes input forms: {forms}. Send exactly one form.",
            param=present[1] if not path else f"{path}.{present[1]}",
        )
    return _MARKERS[present[0]]


def _unrecognised(body: dict[str, Any]) -> str:
    names = [name for name in body if not any(name in spec.fields for spec in FORM_SPECS.values())]
    return f" Unrecognised field(s): {', '.join(names)}." if names else ""


def _check_form(body: dict[str, Any], form: Form, path: str) -> None:
    spec = FORM_SPECS[form]
    for name in body:
        if name not in spec.fields:
            raise _misplaced(name, form, path)
    check(body, spec, path)
    if form == "messages":
        _check_messages(body["messages"], path)
        _check_tools(body.get("tools", []), path)


def _misplaced(name: str, form: Form, path: str) -> InvalidRequest:
    where = f"{path}.{name}" if path else name
    allowed = ", ".join(sorted(FORM_SPECS[form].fields))
    owners = [FORM_NAMES[other] for other, spec in FORM_SPECS.items() if name in spec.fields]
    belongs = f" It belongs to the {' and '.join(owners)} form." if owners else ""
    return InvalidRequest(
        f"`{where}` is not a field of the {FORM_NAMES[form]} form.{belongs} Allowed: {allowed}.", param=where
    )


def _check_messages(messages: list[dict[str, Any]], path: str) -> None:
    for index, message in enumerate(messages):
        where = f"{path}.messages[{index}]" if path else f"messages[{index}]"
        # An assistant turn that only calls tools has no content; every other turn needs it.
        if message.get("content") is None and not (message.get("role") == "assistant" and message.get("tool_calls")):
            raise InvalidRequest(
                f"`{where}.content` is required for a {message['role']} message.", param=f"{where}.content"
            )


def _check_tools(tools: list[dict[str, Any]], path: str) -> None:
    for index, tool in enumerate(tools):
        if "name" not in tool and "function" not in tool:
            where = f"{path}.tools[{index}]" if path else f"tools[{index}]"
            raise InvalidRequest(
                f'`{where}` needs `name` or `function`: {{"type": "function", "function": {{"name": ...}}}}.',
                param=where,
            )


def validate_native(body: dict[str, Any]) -> Form:
    """Check that a native `/ai/run` body is exactly one input form, and return which."""
    form = detect_form(body)
    _check_form(body, form, "")
    if form == "batch":
        for index, item in enumerate(body["requests"]):
            _check_batch_item(item, f"requests[{index}]")
    return form


def _check_batch_item(item: dict[str, Any], path: str) -> None:
    form = detect_form(item, path=path)
    if form in ("batch", "poll"):
        raise InvalidRequest(f"`{path}` must be a prompt, messages or Responses body, not a batch.", param=path)
    if item.get("stream"):
        raise InvalidRequest(f"`{path}.stream` must be false: batch requests do not stream.", param=f"{path}.stream")
    _check_form(item, form, path)
