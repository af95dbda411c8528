"""The input forms of gpt-oss on Workers AI, and the check that a body is exactly one of them.

The model page's JSON schema (see DESIGN.md; tests/schemas holds it) is the measure. Its forms are
open: a field the schema does not name is allowed, and Workers AI passes it by. So the check here
is the schema's, no stricter: a body must be exactly one form (a body that is none, or two, is
refused), and each field the gateway knows must have the right type and range (temperature 0–5,
top_p 0.001–1, top_k 1–50, seed 1–9999999999, repetition_penalty 0–2, frequency/presence_penalty
−2–2, prompt minLength 1; reasoning.effort low|medium|high; reasoning.summary auto|concise|detailed;
every message has `role` and a `content` that is a string or text parts, never null; a tool has
`name`, `description` and `parameters` with `type` and `properties`; a batch holds Responses
bodies). Any other field is passed on unchanged and named, so the route can say so in a header.

One requirement of the page is left to Workers AI: that each property inside a tool's
`parameters.properties` has a string `type` and a `description`. That is the client's own JSON
Schema (unions, `anyOf` and undescribed properties are ordinary), Cloudflare's own AI SDK provider
sends it as written, and rewriting it would change what the model is told.

The emulator refuses with this same check, so a body the gateway builds cannot pass a test while
breaking the schema; tests/native/test_forms.py holds the two to agreement.
"""

from __future__ import annotations

from typing import Any, Literal

from .._asgi.schema import AnyOf, Array, Bool, Integer, Number, Obj, Spec, Str, check
from .._catalog import CONTEXT_WINDOW
from .._errors import InvalidRequest

__all__ = ["FORM_NAMES", "FORM_SPECS", "Form", "NativeBody", "detect_form", "validate_native"]

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

# Workers AI's JSON Mode: `json_schema` is the schema itself (anything, to the input schema).
_RESPONSE_FORMAT = Obj({"type": Str(enum=("json_object", "json_schema"))}, closed=False)

_CONTENT_PART = Obj({"type": Str(), "text": Str()}, closed=False)

_MESSAGE = Obj(
    {
        "role": Str(),
        "content": AnyOf((Str(), Array(_CONTENT_PART))),
        "name": Str(),
        "tool_call_id": Str(),
        "tool_calls": Array(Obj(closed=False)),
    },
    required=("role", "content"),
    closed=False,
)

_PARAMETERS = Obj({"type": Str(), "required": Array(Str()), "properties": Obj(closed=False)}, closed=False)

_FUNCTION = Obj({"name": Str(), "description": Str(), "parameters": _PARAMETERS}, required=("name",), closed=False)

# Workers AI takes both `{name, description, parameters}` and OpenAI's `{type, function}`.
_TOOL = Obj({"type": Str(), "function": _FUNCTION, **_FUNCTION.fields}, closed=False)

_REASONING = Obj(
    {"effort": Str(enum=("low", "medium", "high")), "summary": Str(enum=("auto", "concise", "detailed"))},
    closed=False,
)

_TOOL_CHOICE = AnyOf((Str(enum=("auto", "none", "required")), Obj(closed=False)))

# The fields the gateway knows in each form: the schema's, and the few the gateway itself acts on
# or that Workers AI documents beside the schema (the Responses form's `instructions`, `tools`, ...).
FORM_SPECS: dict[Form, Obj] = {
    "prompt": Obj(
        {"prompt": Str(min_length=1), "raw": Bool(), "lora": Str(), "response_format": _RESPONSE_FORMAT, **_SAMPLING},
        required=("prompt",),
        closed=False,
    ),
    "messages": Obj(
        {
            "messages": Array(_MESSAGE),
            "functions": Array(Obj({"name": Str(), "code": Str()}, required=("name", "code"), closed=False)),
            "tools": Array(_TOOL),
            "tool_choice": _TOOL_CHOICE,
            "response_format": _RESPONSE_FORMAT,
            "raw": Bool(),
            # Workers AI reads it from the inputs for gpt-oss (cloudflare/ai workers-ai-provider 3.1.12).
            "reasoning_effort": Str(enum=("low", "medium", "high")),
            **_SAMPLING,
        },
        required=("messages",),
        closed=False,
    ),
    "responses": Obj(
        {
            "input": AnyOf((Str(), Array())),
            "reasoning": _REASONING,
            "instructions": Str(),
            "stream": Bool(),
            "max_output_tokens": Integer(1, CONTEXT_WINDOW),
            "temperature": Number(0, 5),
            "top_p": Number(0.001, 1),
            "tools": Array(Obj(closed=False)),
            "tool_choice": _TOOL_CHOICE,
            "text": Obj(closed=False),
        },
        required=("input",),
        closed=False,
    ),
    "batch": Obj(
        {"requests": Array(Obj(closed=False), min_items=1, max_items=10_000)}, required=("requests",), closed=False
    ),
    "poll": Obj({"request_id": Str(min_length=1)}, required=("request_id",), closed=False),
}


class NativeBody:
    """A checked native body: its form, and the fields it carries that the gateway passes on unread."""

    __slots__ = ("form", "unknown")

    def __init__(self, form: Form, unknown: list[str]) -> None:
        self.form, self.unknown = form, unknown


def detect_form(body: dict[str, Any], *, path: str = "") -> Form:
    present = [name for name in _MARKERS if name in body]
    if not present:
        where = f"`{path}`" if path else "The body"
        raise InvalidRequest(
            f"{where} must be one of the model's input forms: `prompt` (prompt form), `messages` "
            "(messages form), `input` (Responses form), `requests` (async batch) or `request_id` "
            "(batch polling).",
            param=path or None,
        )
    if len(present) > 1:
        forms = " and ".join(f"`{name}` ({FORM_NAMES[_MARKERS[name]]} form)" for name in present)
        raise InvalidRequest(
            f"The body matches two input forms: {forms}. Send exactly one form.",
            param=present[1] if not path else f"{path}.{present[1]}",
        )
    return _MARKERS[present[0]]


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_form(body: dict[str, Any], form: Form, path: str) -> list[str]:
    spec = FORM_SPECS[form]
    if form == "messages":
        _refuse_null_content(body["messages"], path)
    check(body, spec, path)
    if form == "messages":
        for index, tool in enumerate(body.get("tools", [])):
            _check_tool(tool, f"{_join(path, 'tools')}[{index}]")
    return [_join(path, name) for name in body if name not in spec.fields]


def _refuse_null_content(messages: Any, path: str) -> None:
    for index, message in enumerate(messages if isinstance(messages, list) else []):
        where = f"{_join(path, 'messages')}[{index}]"
        if isinstance(message, dict) and "content" in message and message["content"] is None:
            # The schema's best-known violation (OpenAI clients send it): name the fix.
            raise InvalidRequest(
                f'`{where}.content` must be a string or an array of text parts, not null: send "" for an '
                "assistant turn that only calls tools (Workers AI refuses null).",
                param=f"{where}.content",
            )


def _check_tool(tool: dict[str, Any], where: str) -> None:
    wrapped = "function" in tool
    if wrapped and all(name in tool for name in ("name", "description", "parameters")):
        raise InvalidRequest(
            f"`{where}` is both tool shapes at once: send `{{name, description, parameters}}` or "
            '`{"type": "function", "function": {...}}`, not both.',
            param=where,
        )
    function = tool["function"] if wrapped else tool
    if "name" not in function:
        raise InvalidRequest(
            f'`{where}` needs `name` or `function`: {{"type": "function", "function": {{"name": ...}}}}.', param=where
        )
    if wrapped and "type" not in tool:
        raise InvalidRequest(f'`{where}.type` is required: "function".', param=f"{where}.type")
    _check_function(function, f"{where}.function" if wrapped else where)


def _check_function(function: dict[str, Any], where: str) -> None:
    for name in ("description", "parameters"):
        if name not in function:
            raise InvalidRequest(f"`{where}.{name}` is required.", param=f"{where}.{name}")
    for name in ("type", "properties"):
        if name not in function["parameters"]:
            raise InvalidRequest(f"`{where}.parameters.{name}` is required.", param=f"{where}.parameters.{name}")


def validate_native(body: dict[str, Any]) -> NativeBody:
    """Check that a native `/ai/run` body is exactly one input form; return it and its unknown fields."""
    form = detect_form(body)
    unknown = _check_form(body, form, "")
    if form == "batch":
        for index, item in enumerate(body["requests"]):
            unknown += _check_batch_item(item, f"requests[{index}]")
    return NativeBody(form, unknown)


def _check_batch_item(item: dict[str, Any], path: str) -> list[str]:
    form = detect_form(item, path=path)
    if form != "responses":
        raise InvalidRequest(
            f"`{path}` must be a Responses body (with `input`): gpt-oss's async batch form takes only those.",
            param=f"{path}.input",
        )
    if item.get("stream"):
        raise InvalidRequest(f"`{path}.stream` must be false: batch requests do not stream.", param=f"{path}.stream")
    return _check_form(item, form, path)
