"""The router: exact paths, `{name}` segments and a trailing `{name:path}`, with 404 and 405."""

from __future__ import annotations

import pytest

from gateway._asgi.routing import Route


async def _endpoint(scope, receive, send) -> None:  # type: ignore[no-untyped-def]
    return None


@pytest.mark.parametrize(
    ("template", "path", "params"),
    [
        ("/v1/responses", "/v1/responses", {}),
        ("/v1/responses", "/v1/responses/x", None),
        ("/v1/responses/{response_id}", "/v1/responses/resp_1", {"response_id": "resp_1"}),
        ("/v1/responses/{response_id}", "/v1/responses/resp_1/input_items", None),
        ("/v1/responses/{response_id}", "/v1/responses/", None),
        ("/v1/responses/{response_id}/input_items", "/v1/responses/r/input_items", {"response_id": "r"}),
        ("/v1/responses/{response_id}/input_items", "/v1/responses/r/input_items/x", None),
        ("/ai/run/{model:path}", "/ai/run/@cf/openai/gpt-oss-120b", {"model": "@cf/openai/gpt-oss-120b"}),
        ("/ai/run/{model:path}", "/ai/run/", None),
        ("/v1/a.b/{x}", "/v1/aXb/1", None),  # literal parts are literal
    ],
)
def test_a_route_matches(template: str, path: str, params: dict[str, str] | None) -> None:
    assert Route("GET", template, _endpoint).match(path) == params
