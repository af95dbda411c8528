from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import pytest

import openai
from tests.conftest import Harness, MakeGateway

MakeClient = Callable[..., tuple[openai.AsyncOpenAI, Harness]]


@pytest.fixture
def make_client(make_gateway: MakeGateway) -> MakeClient:
    """The official openai SDK, pointed at an in-process gateway (no sockets)."""

    def make(backend: Any = None, **variables: str) -> tuple[openai.AsyncOpenAI, Harness]:
        gw = make_gateway(backend, **variables)
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gw.app))
        client = openai.AsyncOpenAI(base_url="http://gateway.test/v1", api_key=gw.key, http_client=http, max_retries=0)
        return client, gw

    return make
