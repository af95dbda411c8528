from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

import anthropic
from tests.conftest import Harness, MakeGateway

MakeAnthropic = Callable[..., tuple[anthropic.AsyncAnthropic, Harness]]

WEATHER: Any = {
    "name": "get_weather",
    "description": "Weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
# What the SDK's `messages.stream` helper yields for a thinking block then a text block, each run of
# the same event as one, and leaving out the raw `content_block_delta`s it follows with their meaning.
HELPER_RUNS = [
    "message_start",
    "content_block_start",
    "thinking",
    "signature",
    "content_block_stop",
    "content_block_start",
    "text",
    "content_block_stop",
    "message_delta",
    "message_stop",
]


@pytest.fixture
def make_anthropic(make_gateway: MakeGateway) -> MakeAnthropic:
    """The official anthropic SDK, pointed at an in-process gateway (no sockets)."""

    def make(backend: Any = None, **variables: str) -> tuple[anthropic.AsyncAnthropic, Harness]:
        gw = make_gateway(backend, **variables)
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gw.app))
        client = anthropic.AsyncAnthropic(
            base_url="http://gateway.test", api_key=gw.key, http_client=http, max_retries=0
        )
        return client, gw

    return make
