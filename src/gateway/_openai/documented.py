"""What the OpenAI routes answer, as JSON Schema, for the API reference.

Imported only when the OpenAPI document is built (the route table names these functions), so the
Worker's import pays nothing for them. The request side is not here: it is the routes' own
`POLICY` tables. Tests check real answers, streamed events and errors against these schemas.
"""

from __future__ import annotations

from typing import Any

from .._asgi.openapi import Documented, array, const, integer, nullable, obj, string

__all__ = [
    "chat_completions",
    "completions",
    "deleted",
    "input_items",
    "model",
    "models",
    "openai_error",
    "responses",
    "retrieved",
]

_COUNT = integer(minimum=0)
_FINISH = nullable(string(enum=["stop", "length", "tool_calls"]))
_HELLO = [{"role": "user", "content": "Say hello in five words."}]


def openai_error() -> dict[str, Any]:
    """OpenAI's error envelope, which the openai SDKs turn into their error classes."""
    detail = obj(
        {
            "message": string(description="What was wrong and what is allowed."),
            "type": string(examples=["invalid_request_error", "authentication_error", "rate_limit_error"]),
            "param": nullable(string(description="The offending field, e.g. `messages[2].content`.")),
            "code": nullable(string(examples=["unsupported_parameter", "invalid_api_key", "model_not_found"])),
        }
    )
    return obj({"error": detail})


def _chat_usage() -> dict[str, Any]:
    details = obj({"reasoning_tokens": _COUNT}, closed=False)
    counts = {"prompt_tokens": _COUNT, "completion_tokens": _COUNT, "total_tokens": _COUNT}
    return obj(counts, {"completion_tokens_details": details, "prompt_tokens_details": {"type": "object"}})


def _tool_call(*, streamed: bool) -> dict[str, Any]:
    function = {"name": string(), "arguments": string(description="A JSON object, as a string.")}
    if streamed:  # the first fragment of a call has its id, type and name; later ones only arguments
        return obj({"index": _COUNT}, {"id": string(), "type": const("function"), "function": obj({}, function)})
    return obj({"id": string(), "type": const("function"), "function": obj(function)})


def chat_completions() -> Documented:
    message = obj(
        {
            "role": const("assistant"),
            "content": nullable(string()),
            "refusal": {"type": "null"},
            "reasoning_content": nullable(string(description="gpt-oss's reasoning (not in OpenAI's own API).")),
        },
        {"tool_calls": array(_tool_call(streamed=False))},
    )
    choice = obj({"index": _COUNT, "message": message, "logprobs": {"type": "null"}, "finish_reason": _FINISH})
    head = {"id": string(), "created": _COUNT, "model": string()}
    delta = obj(
        {},
        {
            "role": const("assistant"),
            "content": string(),
            "reasoning_content": string(),
            "tool_calls": array(_tool_call(streamed=True)),
        },
    )
    chunk_choice = obj({"index": _COUNT, "delta": delta, "logprobs": {"type": "null"}, "finish_reason": _FINISH})
    return {
        "response": obj({**head, "object": const("chat.completion"), "choices": array(choice), "usage": _chat_usage()}),
        "event": obj(
            {**head, "object": const("chat.completion.chunk"), "choices": array(chunk_choice)},
            {"usage": nullable(_chat_usage())},
        ),
        "example": {"model": "gpt-oss-120b", "messages": _HELLO, "reasoning_effort": "low"},
    }


def completions() -> Documented:
    choice = obj({"text": string(), "index": _COUNT, "logprobs": {"type": "null"}, "finish_reason": _FINISH})
    usage = obj({"prompt_tokens": _COUNT, "completion_tokens": _COUNT, "total_tokens": _COUNT}, closed=False)
    head = {"id": string(), "object": const("text_completion"), "created": _COUNT, "model": string()}
    return {
        "response": obj({**head, "choices": array(choice), "usage": usage}),
        "event": obj({**head, "choices": array(choice)}, {"usage": nullable(usage)}),
        "example": {"model": "gpt-oss-120b", "prompt": "The three primary colours are", "max_tokens": 256},
    }


def _output_items() -> dict[str, Any]:
    status = string(enum=["in_progress", "completed", "incomplete"])
    text_part = obj({"type": const("output_text"), "text": string(), "annotations": array({}), "logprobs": array({})})
    reasoning_part = obj({"type": const("reasoning_text"), "text": string()})
    summary_part = obj({"type": const("summary_text"), "text": string()})
    common = {"id": string(), "status": status}
    return {
        "anyOf": [
            obj({**common, "type": const("message"), "role": const("assistant"), "content": array(text_part)}),
            obj(
                {**common, "type": const("reasoning"), "summary": array(summary_part), "content": array(reasoning_part)}
            ),
            obj(
                {
                    **common,
                    "type": const("function_call"),
                    "call_id": string(),
                    "name": string(),
                    "arguments": string(description="A JSON object, as a string."),
                }
            ),
        ]
    }


def _response_object() -> dict[str, Any]:
    usage = obj(
        {
            "input_tokens": _COUNT,
            "input_tokens_details": obj({"cached_tokens": _COUNT}, closed=False),
            "output_tokens": _COUNT,
            "output_tokens_details": obj({"reasoning_tokens": _COUNT}, closed=False),
            "total_tokens": _COUNT,
        },
        closed=False,
    )
    number = nullable({"type": "number"})
    return obj(
        {
            "id": string(),
            "object": const("response"),
            "created_at": _COUNT,
            "status": string(enum=["completed", "incomplete", "failed", "in_progress"]),
            "error": nullable(obj({"code": string(), "message": string()}, closed=False)),
            "incomplete_details": nullable(obj({"reason": string()})),
            "instructions": nullable(string()),
            "max_output_tokens": nullable(_COUNT),
            "model": string(),
            "output": array(_output_items()),
            "parallel_tool_calls": {"type": "boolean"},
            "previous_response_id": nullable(string()),
            "reasoning": obj({"effort": nullable(string()), "summary": nullable(string())}),
            "store": {"type": "boolean"},
            "temperature": number,
            "top_p": number,
            "text": {"type": "object"},
            "tool_choice": {"description": 'As sent, or "auto".'},
            "tools": array({"type": "object"}),
            "truncation": string(),
            "usage": nullable(usage),
            "user": nullable(string()),
            "metadata": {"type": "object"},
        },
        closed=False,
    )


def responses() -> Documented:
    event = obj(
        {"type": string(description="response.created, response.output_text.delta, ..."), "sequence_number": _COUNT},
        {"response": _response_object()},
        closed=False,
    )
    return {
        "response": _response_object(),
        "event": event,
        "example": {"model": "gpt-oss-120b", "input": "Say hello in five words.", "reasoning": {"effort": "low"}},
    }


def _model_object() -> dict[str, Any]:
    return obj({"id": string(), "object": const("model"), "created": _COUNT, "owned_by": string()})


def models() -> Documented:
    return {"response": obj({"object": const("list"), "data": array(_model_object())})}


def model() -> Documented:
    return {"response": _model_object()}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


_INCLUDE = _query(
    "include[]",
    array(string()),
    "`reasoning.encrypted_content` returns reasoning items sealed, when the gateway has a reasoning secret.",
)


def retrieved() -> Documented:
    """`GET /v1/responses/{response_id}`: a stored response, as it was answered."""
    return {"response": _response_object(), "query": [_INCLUDE]}


def deleted() -> Documented:
    return {"response": obj({"id": string(), "object": const("response.deleted"), "deleted": const(True)})}


def input_items() -> Documented:
    page = obj(
        {
            "object": const("list"),
            "data": array({"type": "object", "description": "An input item, as it was sent or referenced."}),
            "first_id": nullable(string()),
            "last_id": nullable(string()),
            "has_more": {"type": "boolean"},
        }
    )
    query = [
        _query("limit", integer(minimum=1, maximum=100, default=20), "Items per page."),
        _query("order", string(enum=["asc", "desc"], default="desc"), "Newest first by default."),
        _query("after", string(), "An item id: the page starts after it."),
        _INCLUDE,
    ]
    return {"response": page, "query": query}
