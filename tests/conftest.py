from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from gateway import Gateway
from gateway.emulator import Emulator
from gateway.keys import key_entry

MODEL = "@cf/openai/gpt-oss-120b"
NATIVE = f"/ai/run/{MODEL}"
KEY = "gw-test-key-0123456789"


@dataclass
class Harness:
    app: Gateway
    backend: Any
    logs: list[str] = field(default_factory=list)
    key: str = KEY

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}"}


MakeGateway = Callable[..., Harness]


@pytest.fixture
def make_gateway() -> MakeGateway:
    """Build the smallest gateway a test needs: an emulator (or the given backend) and one key."""

    def make(backend: Any = None, *, keys: str | None = None, **variables: str) -> Harness:
        backend = backend if backend is not None else Emulator(token_delay_ms=0)
        env = {"GATEWAY_KEYS": json.dumps([key_entry("tester", KEY)]) if keys is None else keys, **variables}
        logs: list[str] = []
        app = Gateway(backend=backend, env=SimpleNamespace(**env), log=logs.append)
        return Harness(app=app, backend=backend, logs=logs)

    return make
