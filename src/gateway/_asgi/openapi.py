"""An OpenAPI 3.1 document from a route table, and the few JSON _Schema words answers are written in.

Each route's `Operation` says what checks its body (the request schema comes from those very
tables), whether it streams, and where the schemas of its answers and errors are. This module is
imported only when a document is built: nothing on a request's path needs it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from typing import Any

from .routing import Operation, Route

__all__ = [
    "JSON",
    "SSE",
    "Documented",
    "array",
    "const",
    "integer",
    "nullable",
    "obj",
    "openapi_document",
    "path_template",
    "string",
]

JSON = "application/json"
SSE = "text/event-stream"

_Schema = dict[str, Any]
# What an operation's `schemas` reference returns: "response" (the 2xx JSON body), and optionally
# "event" (the JSON in each `data:` line of its stream), "example" (a request body), "query" (its
# query parameters, as OpenAPI parameter objects) and "statuses" (other statuses with that body).
Documented = dict[str, Any]


def string(**constraints: Any) -> _Schema:
    return {"type": "string", **constraints}


def integer(**constraints: Any) -> _Schema:
    return {"type": "integer", **constraints}


def const(value: Any) -> _Schema:
    return {"const": value}


def nullable(schema: _Schema) -> _Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def array(items: _Schema, **constraints: Any) -> _Schema:
    return {"type": "array", "items": items, **constraints}


def obj(required: dict[str, _Schema], optional: dict[str, _Schema] | None = None, *, closed: bool = True) -> _Schema:
    """An object with these fields; `closed` refuses others (our own answers), open allows them."""
    schema: _Schema = {"type": "object", "properties": {**required, **(optional or {})}, "required": list(required)}
    if closed:
        schema["additionalProperties"] = False
    return schema


def _resolve(reference: str) -> Callable[[], Any]:
    """`"package.module:function"`, imported now (and only now)."""
    module, _, name = reference.partition(":")
    found: Callable[[], Any] = getattr(importlib.import_module(module), name)
    return found


def path_template(path: str) -> str:
    """The router's `{model:path}` as OpenAPI's `{model}` (`{response_id}` stays as it is)."""
    return re.sub(r"\{(\w+):path\}", r"{\1}", path)


def _operation_id(route: Route) -> str:
    words = path_template(route.path).replace("{", "").replace("}", "").replace(".", "_").strip("/").split("/")
    return "_".join([route.method.lower(), *words]).replace("-", "_")


class _Builder:
    """Builds one document; `schemas` collects the components operations share."""

    def __init__(
        self, *, request_schema: Callable[[Any], _Schema], path_params: dict[str, _Schema], headers: dict[str, Any]
    ) -> None:
        self.request_schema, self.path_params, self.headers = request_schema, path_params, headers
        self.schemas: dict[str, _Schema] = {}

    def _shared(self, name: str, schema: _Schema) -> _Schema:
        if self.schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas are both named {name!r}")
        return {"$ref": f"#/components/schemas/{name}"}

    def _answer(self, description: str, media: dict[str, Any]) -> dict[str, Any]:
        headers = {name: {"$ref": f"#/components/headers/{name}"} for name in self.headers}
        return {"description": description, "headers": headers, "content": media}

    def _answers(self, operation: Operation, documented: Documented, name: str) -> dict[str, Any]:
        media = {JSON: {"schema": self._shared(f"{name}_response", documented["response"])}}
        if operation.streams:
            event = self._shared(f"{name}_event", documented["event"])
            media[SSE] = {"schema": _stream_event(event)}
        answer = self._answer("The answer.", media)
        envelope = self._shared(operation.errors.rpartition(":")[2], _resolve(operation.errors)())
        error = self._answer("An error in this dialect's envelope: what was wrong, and what is allowed.", {})
        error["content"] = {JSON: {"schema": envelope}}
        return {
            "200": answer,
            **{status: answer for status in documented.get("statuses", ())},
            "4XX": error,
            "5XX": error,
        }

    def operation(self, route: Route, operation: Operation) -> dict[str, Any]:
        documented: Documented = _resolve(operation.schemas)()
        name = operation.schemas.rpartition(":")[2]
        out: dict[str, Any] = {
            "operationId": _operation_id(route),
            "summary": operation.summary,
            "tags": [operation.tag],
            "responses": self._answers(operation, documented, name),
        }
        parameters = self._parameters(route) + list(documented.get("query", ()))
        if parameters:
            out["parameters"] = parameters
        if operation.request is not None:
            schema = self.request_schema(operation.request)
            media: dict[str, Any] = {"schema": self._shared(f"{name}_request", schema)}
            if "example" in documented:
                media["example"] = documented["example"]
            out["requestBody"] = {"required": True, "content": {JSON: media}}
        if operation.public:
            out["security"] = []
        return out

    def _parameters(self, route: Route) -> list[dict[str, Any]]:
        template = path_template(route.path)
        names = [part[1:-1] for part in template.split("/") if part.startswith("{")]
        return [
            {"name": name, "in": "path", "required": True, "schema": self.path_params.get(name, string())}
            for name in names
        ]


def _stream_event(payload: _Schema) -> _Schema:
    """One server-sent event, as OpenAPI 3.1 describes an event stream (its schema is one event's)."""
    data = {
        "anyOf": [
            {"type": "string", "contentMediaType": JSON, "contentSchema": payload, "description": "One JSON object."},
            {"const": "[DONE]", "description": "The end of a whole answer, where the dialect has it."},
        ]
    }
    kind = string(
        description="Absent, the event's type (Responses), or `error`: a failure after the first byte, whose data is "
        "the error envelope. A broken stream always ends so, never as a clean close."
    )
    return {
        "type": "object",
        "description": "Server-sent events, sent when the body sets `stream: true`.",
        "properties": {"event": kind, "data": data, "id": string(), "retry": integer(minimum=0)},
        "required": ["data"],
    }


def openapi_document(
    routes: Iterable[Route],
    *,
    info: dict[str, Any],
    security_schemes: dict[str, Any],
    headers: dict[str, Any],
    request_schema: Callable[[Any], dict[str, Any]],
    path_params: dict[str, _Schema] | None = None,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route that has an `Operation` (a route without one is a
    mistake the tests catch). `headers` are the header objects answers may carry, by name;
    `request_schema` renders an operation's request tables as JSON Schema."""
    builder = _Builder(request_schema=request_schema, path_params=path_params or {}, headers=headers)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if route.operation is not None:
            item = paths.setdefault(path_template(route.path), {})
            item[route.method.lower()] = builder.operation(route, route.operation)
    return {
        "openapi": "3.1.0",
        "info": info,
        "paths": paths,
        "security": [{name: []} for name in security_schemes],
        "components": {"schemas": builder.schemas, "securitySchemes": security_schemes, "headers": headers},
    }
