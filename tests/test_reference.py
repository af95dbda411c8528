"""The OpenAPI document: valid, complete, the same fields the validators check, and true of answers.

Field lists are read two ways and compared: from the validators' own tables (walking the specs a
route registered) and from the served document (walking its JSON Schema). Then the document is
held to behaviour: every field it documents is checked by the route (a wrong value is a 400
naming it), and real answers, stream events and errors conform to the schemas it gives.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from gateway._app import PUBLIC_PATHS, ROUTES
from gateway._asgi.openapi import path_template
from gateway._asgi.routing import Route
from gateway._asgi.schema import AnyOf, Array, Obj, Spec
from gateway._native.forms import FORM_NAMES
from gateway._params import FieldPolicy
from tests.client import Reply, request, run
from tests.conftest import MODEL, Harness, MakeGateway

DOCUMENTED = [route for route in ROUTES if route.operation is not None]
POSTS = [route for route in DOCUMENTED if route.method == "POST"]
IGNORED = "Accepted and ignored"
REFUSED = "Refused with 400"


def _document(harness: Harness) -> dict[str, Any]:
    reply = run(request(harness.app, "GET", "/openapi.json"))
    assert reply.status == 200, reply.body
    document: dict[str, Any] = reply.json()
    return document


@pytest.fixture
def gateway(make_gateway: MakeGateway) -> Harness:
    return make_gateway()


@pytest.fixture
def document(gateway: Harness) -> dict[str, Any]:
    return _document(gateway)


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _operation(document: dict[str, Any], route: Route) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"][path_template(route.path)][route.method.lower()]
    return operation


def _request_schema(document: dict[str, Any], route: Route) -> dict[str, Any]:
    schema = _operation(document, route)["requestBody"]["content"]["application/json"]["schema"]
    return _resolve(document, schema)


def _validator(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator({**schema, "components": document["components"]})


# -- the two readings of the fields ---------------------------------------------------------------


def _spec_paths(spec: Spec, prefix: str = "") -> Iterator[str]:
    """Every field path a spec checks: `tools[].function.name`."""
    if isinstance(spec, Obj):
        for name, inner in spec.fields.items():
            yield prefix + name
            yield from _spec_paths(inner, prefix + name + ".")
    elif isinstance(spec, Array):
        yield from _spec_paths(spec.items, prefix.removesuffix(".") + "[].")
    elif isinstance(spec, AnyOf):
        for option in spec.options:
            yield from _spec_paths(option, prefix)


def _schema_paths(document: dict[str, Any], schema: dict[str, Any], prefix: str = "") -> Iterator[str]:
    schema = _resolve(document, schema)
    for name, inner in schema.get("properties", {}).items():
        yield prefix + name
        yield from _schema_paths(document, inner, prefix + name + ".")
    if "items" in schema:
        yield from _schema_paths(document, schema["items"], prefix.removesuffix(".") + "[].")
    for option in schema.get("anyOf", []):
        yield from _schema_paths(document, option, prefix)


def _validated_paths(tables: Any) -> dict[str, set[str]]:
    """What the route's validators check, by body kind: one kind for a policy, one per native form."""
    if isinstance(tables, FieldPolicy):
        paths = set(_spec_paths(Obj(tables.honoured))) | set(tables.ignored) | set(tables.refused)
        return {"body": paths}
    if isinstance(tables, dict):
        return {f"{FORM_NAMES[form]} form": set(_spec_paths(spec)) for form, spec in tables.items()}
    raise AssertionError(f"teach this test to read {type(tables).__name__} tables")


def _documented_paths(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, set[str]]:
    if "oneOf" in schema:
        return {option["title"]: set(_schema_paths(document, option)) for option in schema["oneOf"]}
    return {"body": set(_schema_paths(document, schema))}


# -- the document ----------------------------------------------------------------------------------


@pytest.mark.parametrize("strict", ["false", "true"])
def test_the_document_is_valid_openapi_3_1(make_gateway: MakeGateway, strict: str) -> None:
    document = _document(make_gateway(STRICT_PARAMS=strict))
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_route_is_documented_and_nothing_else(document: dict[str, Any]) -> None:
    undocumented = [f"{route.method} {route.path}" for route in ROUTES if route.operation is None]
    assert not undocumented, f"routes without an Operation: {undocumented}"
    documented = {(path, method.upper()) for path, item in document["paths"].items() for method in item}
    assert documented == {(path_template(route.path), route.method) for route in ROUTES}


@pytest.mark.parametrize("route", POSTS, ids=lambda route: route.path)
def test_the_documented_fields_are_the_validated_fields(document: dict[str, Any], route: Route) -> None:
    assert route.operation is not None
    validated = _validated_paths(route.operation.request)
    documented = _documented_paths(document, _request_schema(document, route))
    assert documented.keys() == validated.keys()
    for kind, paths in validated.items():
        assert documented[kind] - paths == set(), f"{kind}: documented but not validated"
        assert paths - documented[kind] == set(), f"{kind}: validated but not documented"


def test_ignored_and_refused_fields_say_so(document: dict[str, Any]) -> None:
    for route in POSTS:
        assert route.operation is not None
        tables = route.operation.request
        if not isinstance(tables, FieldPolicy):
            continue
        fields = _request_schema(document, route)["properties"]
        for name in tables.refused:
            assert fields[name]["description"].startswith(REFUSED), name
        for name in [name for name in tables.ignored if "." not in name]:
            assert fields[name]["description"].startswith(IGNORED), name


def test_the_policy_tables_and_strict_params_set_what_unknown_fields_do(make_gateway: MakeGateway) -> None:
    route = next(route for route in POSTS if route.path == "/v1/chat/completions")
    lenient = _request_schema(loose := _document(make_gateway()), route)
    strict = _request_schema(_document(make_gateway(STRICT_PARAMS="true")), route)
    assert lenient["additionalProperties"] is True and strict["additionalProperties"] is False
    assert lenient["required"] == ["model", "messages"]
    assert lenient["properties"]["n"]["anyOf"] == [{"type": "null"}, {"const": 1}]
    assert _validator(loose, lenient).is_valid({"model": MODEL, "messages": [], "temperature": None}) is False
    assert _validator(loose, lenient).is_valid({"model": MODEL, "messages": [{}], "temperature": None})


def test_the_document_names_the_served_models(make_gateway: MakeGateway) -> None:
    models = "@cf/openai/gpt-oss-120b,@cf/openai/gpt-oss-20b"
    document = _document(make_gateway(MODELS=models))
    route = next(route for route in POSTS if route.path == "/v1/responses")
    assert "gpt-oss-20b" in _request_schema(document, route)["properties"]["model"]["enum"]
    parameter = _operation(document, POSTS[0])["parameters"][0]
    assert parameter["schema"]["enum"] == models.split(",")


def test_the_document_is_public_and_built_once_per_app(make_gateway: MakeGateway) -> None:
    one, other = make_gateway(), make_gateway(MODELS="@cf/openai/gpt-oss-20b")
    first = run(request(one.app, "GET", "/openapi.json"))
    again = run(request(one.app, "GET", "/openapi.json"))
    assert first.status == 200 and first.headers["content-type"] == "application/json"
    assert again.body is first.body or again.body == first.body
    assert "gpt-oss-20b" in run(request(other.app, "GET", "/openapi.json")).body.decode()
    assert "gpt-oss-20b" not in first.body.decode()
    assert "/openapi.json" in PUBLIC_PATHS and "/healthz" in PUBLIC_PATHS


def test_public_operations_need_no_key_and_the_others_do(document: dict[str, Any]) -> None:
    assert {scheme for entry in document["security"] for scheme in entry} == {"bearer", "api_key"}
    for route in DOCUMENTED:
        public = _operation(document, route).get("security") == []
        assert public == (route.path in PUBLIC_PATHS), route.path


def test_building_the_document_is_off_the_workers_import_path() -> None:
    # The Worker imports `gateway`; the document's code must load only when it is asked for.
    code = (
        "import sys, gateway; lazy = [m for m in sys.modules if m.endswith(('documented', '_reference', 'openapi'))];"
        "print(lazy)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


# -- the document against behaviour ---------------------------------------------------------------

# Values of every JSON type; for each field, the first its schema refuses is sent.
WRONG: list[Any] = [{"__unknown__": [1]}, [{"__unknown__": 1}], "\u2603 not an allowed value", -12345.5, True, 10**20]
MINIMAL_FORMS: dict[str, dict[str, Any]] = {
    "prompt form": {"prompt": "hi"},
    "messages form": {"messages": [{"role": "user", "content": "hi"}]},
    "Responses form": {"input": "hi"},
    "async batch form": {"requests": [{"input": "hi"}]},
    "async batch polling form": {"request_id": "abc"},
}


def _bases(document: dict[str, Any], route: Route) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """For each body kind: a valid body, and the schema of its fields."""
    schema = _request_schema(document, route)
    if "oneOf" in schema:
        return {option["title"]: (MINIMAL_FORMS[option["title"]], option) for option in schema["oneOf"]}
    example = _operation(document, route)["requestBody"]["content"]["application/json"]["example"]
    return {"body": (example, schema)}


def _checked_fields(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, field in schema["properties"].items():
        if not field.get("description", "").startswith((IGNORED, REFUSED)):
            yield name, field


@pytest.mark.parametrize("route", POSTS, ids=lambda route: route.path)
def test_every_documented_field_is_checked_by_the_route(
    gateway: Harness, document: dict[str, Any], route: Route
) -> None:
    path = route.path.replace("{model:path}", MODEL)
    for kind, (base, schema) in _bases(document, route).items():
        if "request_id" in base:  # a poll needs a batch that was really queued
            queued = run(
                request(gateway.app, "POST", path, body=MINIMAL_FORMS["async batch form"], headers=gateway.auth)
            )
            base = {"request_id": queued.json()["result"]["request_id"]}
        assert run(request(gateway.app, "POST", path, body=base, headers=gateway.auth)).status == 200, kind
        for name, field in _checked_fields(schema):
            wrong = next((value for value in WRONG if not _validator(document, field).is_valid(value)), None)
            assert wrong is not None, f"{kind} `{name}`: its schema accepts values of every type"
            reply = run(request(gateway.app, "POST", path, body={**base, name: wrong}, headers=gateway.auth))
            error = reply.json().get("error") or {"param": reply.json()["errors"][0]["source"]["pointer"]}
            # Anthropic's envelope has no `param`: its message names the field first, in backticks.
            named = error.get("param") or error["message"].lstrip("`")
            assert reply.status in (400, 404), (kind, name, wrong, reply.body)
            assert str(named).lstrip("/").startswith(name), (kind, name, wrong, reply.body)


def _conforms(document: dict[str, Any], schema: dict[str, Any], value: Any) -> None:
    errors = [error.message for error in _validator(document, schema).iter_errors(value)]
    assert not errors, (errors[:3], value)


def _answer_schemas(document: dict[str, Any], route: Route, status: str = "200") -> dict[str, Any]:
    content: dict[str, Any] = _operation(document, route)["responses"][status]["content"]
    return content


def _stored_response_id(gateway: Harness) -> str:
    body = {"model": "gpt-oss-120b", "input": "Remember this.", "store": True}
    stored = run(request(gateway.app, "POST", "/v1/responses", body=body, headers=gateway.auth))
    response_id: str = stored.json()["id"]
    return response_id


def _send_example(gateway: Harness, document: dict[str, Any], route: Route, **extra: Any) -> Reply:
    path = route.path.replace("{model:path}", MODEL)
    if "{response_id}" in path:
        path = path.replace("{response_id}", _stored_response_id(gateway))
    if route.method in ("GET", "DELETE"):
        reply: Reply = run(request(gateway.app, route.method, path, headers=gateway.auth))
        return reply
    bases = _bases(document, route)
    base = bases["messages form"][0] if "messages form" in bases else bases["body"][0]
    reply = run(request(gateway.app, "POST", path, body={**base, **extra}, headers=gateway.auth))
    return reply


@pytest.mark.parametrize("route", DOCUMENTED, ids=lambda route: f"{route.method} {route.path}")
def test_answers_conform_to_the_document(gateway: Harness, document: dict[str, Any], route: Route) -> None:
    reply = _send_example(gateway, document, route)
    assert reply.status == 200, reply.body
    _conforms(document, _answer_schemas(document, route)["application/json"]["schema"], reply.json())
    for name in ("x-request-id", "x-gateway-backend", "server-timing"):
        assert name in reply.headers


STREAMING = [route for route in POSTS if route.operation is not None and route.operation.streams]


@pytest.mark.parametrize("route", STREAMING, ids=lambda route: route.path)
@pytest.mark.parametrize("tools", [False, True])
def test_stream_events_conform_to_the_document(
    gateway: Harness, document: dict[str, Any], route: Route, tools: bool
) -> None:
    extra: dict[str, Any] = {"stream": True}
    if tools and "tools" in _request_schema(document, route).get("properties", {}):
        extra["tools"] = [_tool_for(route)]
        extra["tool_choice"] = {"type": "any"} if route.path == "/v1/messages" else "required"
    reply = _send_example(gateway, document, route, **extra)
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/event-stream"), reply.body
    event = _answer_schemas(document, route)["text/event-stream"]["schema"]["properties"]["data"]["anyOf"][0][
        "contentSchema"
    ]
    payloads = [payload for payload in reply.events() if payload != "[DONE]"]
    assert len(payloads) >= 3
    for payload in payloads:
        _conforms(document, event, json.loads(payload))


def _tool_for(route: Route) -> dict[str, Any]:
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    if route.path == "/v1/messages":
        return {"name": "weather", "input_schema": parameters}
    if "responses" in route.path:
        return {"type": "function", "name": "weather", "parameters": parameters}
    return {"type": "function", "function": {"name": "weather", "parameters": parameters}}


@pytest.mark.parametrize("route", DOCUMENTED, ids=lambda route: f"{route.method} {route.path}")
def test_errors_conform_to_the_documented_envelope(gateway: Harness, document: dict[str, Any], route: Route) -> None:
    path = route.path.replace("{model:path}", "no-such-model")
    method = route.method if route.operation is not None and not route.operation.public else "DELETE"
    reply = run(request(gateway.app, method, path, body={"model": 5}, headers={"authorization": "Bearer wrong"}))
    assert reply.status in (400, 401, 404, 405), reply.body
    _conforms(document, _answer_schemas(document, route, "4XX")["application/json"]["schema"], reply.json())


def test_a_failed_stream_ends_with_an_event_the_document_describes(
    make_gateway: MakeGateway, document: dict[str, Any]
) -> None:
    from gateway.local.emulator import Emulator, Faults

    gateway = make_gateway(Emulator(token_delay_ms=0, faults=Faults.parse("midstream=3")))
    route = next(route for route in POSTS if route.path == "/v1/chat/completions")
    reply = _send_example(gateway, document, route, stream=True)
    assert reply.event_names()[-1:] == ["error"]
    envelope = _answer_schemas(document, route, "5XX")["application/json"]["schema"]
    _conforms(document, envelope, json.loads(reply.events()[-1]))


class _FullThenHeard:
    """Workers AI with the 120b out of capacity, and AI Gateway's headers on the 20b's answers."""

    name = "full-then-heard"

    async def run(self, model: str, inputs: dict[str, Any], options: dict[str, Any]) -> Any:
        from gateway._errors import WorkersAIError
        from gateway._upstream.backend import WithHeaders

        if model == "@cf/openai/gpt-oss-120b":
            raise WorkersAIError(3040, "Capacity temporarily exceeded, please try again.")
        answer = {"response": "Hi", "usage": {"prompt_tokens": 3, "completion_tokens": 1}}
        return WithHeaders(answer, {"cf-aig-log-id": "log-1", "cf-aig-cache-status": "MISS"})


def test_every_header_an_answer_carries_is_documented(make_gateway: MakeGateway) -> None:
    limits = {
        "requests": 10,
        "tokens_per_minute": 100000,
        "tokens_per_day": 1000000,
        "usd_per_day": 1,
        "usd_per_month": 9,
    }
    gateway = make_gateway(
        _FullThenHeard(),
        TIERS=json.dumps({"default": limits}),
        MODELS="@cf/openai/gpt-oss-120b,@cf/openai/gpt-oss-20b",
        FALLBACK_MODEL="@cf/openai/gpt-oss-20b",
        AI_GATEWAY_ID="team-gw",
        RETRY_BASE_MS="1",
    )
    headers = {**gateway.auth, "cf-aig-cache-ttl": "600"}  # not allowed for this tier: named as ignored
    reply = run(request(gateway.app, "POST", f"/ai/run/{MODEL}", body={"prompt": "hi"}, headers=headers))
    assert reply.status == 200, reply.body
    documented = set(_document(gateway)["components"]["headers"])
    carried = {name for name in reply.headers if name.startswith(("x-", "cf-aig-", "retry-", "server-"))}
    assert {"x-gateway-fallback-from", "cf-aig-log-id", "x-ratelimit-reset-usd-month", "x-gateway-ignored"} <= carried
    assert carried - documented == set()


def test_v1_usage_with_every_limit_and_spending_conforms(make_gateway: MakeGateway) -> None:
    limits = {"requests": 10, "tokens_per_minute": 100000, "max_streams": 2, "usd_per_day": 1, "usd_per_month": 9}
    gateway = make_gateway(TIERS=json.dumps({"default": limits}))
    run(request(gateway.app, "POST", f"/ai/run/{MODEL}", body={"prompt": "hi"}, headers=gateway.auth))
    reply = run(request(gateway.app, "GET", "/v1/usage", headers=gateway.auth))
    body = reply.json()
    assert body["totals"]["today"]["usd"] > 0 and body["remaining"]["streams"]["limit"] == 2
    document = _document(gateway)
    route = next(route for route in DOCUMENTED if route.path == "/v1/usage")
    _conforms(document, _answer_schemas(document, route)["application/json"]["schema"], body)
