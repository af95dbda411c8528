from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gateway import Gateway
from gateway._limits.guards import Guards
from gateway.local.emulator import Emulator
from gateway.local.keygen import key_entry
from gateway.local.limits import local_guards
from gateway.local.response_store import InProcessResponses
from tests.doubles import SchemaChecked

MODEL = "@cf/openai/gpt-oss-120b"
NATIVE = f"/ai/run/{MODEL}"
KEY = "gw-test-key-0123456789"


@dataclass
class Harness:
    app: Gateway
    backend: Any
    logs: list[str] = field(default_factory=list)
    key: str = KEY
    guards: Guards | None = None
    store: InProcessResponses | None = None

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}"}


MakeGateway = Callable[..., Harness]


@dataclass
class FakeClock:
    """Time that moves only when a test says so (limits' windows and retry-after, exactly)."""

    now: float = 1_800_000_000.0  # 2027-01-15T08:00:00Z: the start of a minute, 16 h before a new day

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def tiers(**limits: int) -> str:
    """A `TIERS` value with one tier, `default`, with these limits."""
    return json.dumps({"default": limits})


@pytest.fixture
def make_gateway() -> Iterator[MakeGateway]:
    """Build the smallest gateway a test needs: an emulator (or the given backend), one key,
    in-process limits (on `clock`, for tests that move time) unless `guards` are given, and an
    in-process response store (none with `stored=False`: as a Worker without the binding).

    Every body the backend receives is checked against the model page's input schema; a test
    whose gateway sent one the schema refuses fails (tests/model_schema.py)."""
    checked: list[SchemaChecked] = []

    def make(
        backend: Any = None,
        *,
        keys: str | None = None,
        guards: Guards | None = None,
        clock: Callable[[], float] | None = None,
        stored: bool = True,
        **variables: str,
    ) -> Harness:
        backend = backend if backend is not None else Emulator(token_delay_ms=0)
        env = {"GATEWAY_KEYS": json.dumps([key_entry("tester", KEY)]) if keys is None else keys, **variables}
        logs: list[str] = []
        guards = guards if guards is not None else (local_guards(clock) if clock is not None else local_guards())
        store = (InProcessResponses(clock) if clock is not None else InProcessResponses()) if stored else None
        upstream = SchemaChecked(backend)
        checked.append(upstream)
        app = Gateway(
            backend=upstream,
            env=SimpleNamespace(**env),
            log=logs.append,
            guards=guards,
            store=store,
            store_for_env=lambda env: None,
        )
        return Harness(app=app, backend=backend, logs=logs, guards=guards, store=store)

    yield make
    found = [violation for upstream in checked for violation in upstream.violations]
    assert not found, f"the gateway sent bodies the model's input schema refuses: {found}"


def readme_policy_row(heading: str) -> list[str]:
    """The cells of the first table row under a README heading: honoured, ignored, refused, approximated."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split(f"### {heading}\n", 1)[1]
    row = next(line for line in section.splitlines() if line.startswith("| `model`"))
    return [cell.strip() for cell in row.strip("|").split(" | ")]
