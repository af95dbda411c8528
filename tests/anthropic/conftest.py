from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

import anthropic
from tests.conftest import Harness, MakeGateway

MakeAnthropic = Callable[..., tuple[anthropic.AsyncAnthropic, Harness]]


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
