"""The two figures the conformance run measures, and the requests that measure them.

(a) import overhead: the time to ``import entry`` once ``workers`` and
    ``workers.asgi`` are loaded, i.e. what the gateway adds to a cold start;
(b) per-request overhead: the median time of one non-streaming request through
    the whole Worker, over the median for a trivial ASGI app behind the same
    adapter, interleaved in the same process.

Targets (reported, not asserted): import overhead <= 100 ms, ratio <= 1.5.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

from ._cases import answer_json, post_json

IMPORT_TARGET_MS = 100.0
RATIO_TARGET = 1.5
DEFAULT_ITERATIONS = 200

# A key the test env accepts; only its SHA-256 is configured, as in production.
TEST_KEY = "gw-conformance-test-key"
GATEWAY_ENV = {
    "GATEWAY_KEYS": json.dumps([{"name": "conformance", "sha256": hashlib.sha256(TEST_KEY.encode()).hexdigest()}]),
    "MODELS": "@cf/openai/gpt-oss-120b",
}
AUTH = {"authorization": f"Bearer {TEST_KEY}"}

PROMPT_ANSWER = {
    "response": "Hello!",
    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
}


def bench_plan() -> dict[str, Any] | None:
    """The benchmark for the plan; CONFORMANCE_BENCH_ITERATIONS=0 leaves it out."""
    iterations = int(os.environ.get("CONFORMANCE_BENCH_ITERATIONS", DEFAULT_ITERATIONS))
    if iterations <= 0:
        return None
    gateway = {
        "app": "gateway",
        "request": post_json("/ai/run/@cf/openai/gpt-oss-120b", {"prompt": "Say hello."}, AUTH).to_plan(),
        "ai": [answer_json(PROMPT_ANSWER, repeat=True)],
        "env": GATEWAY_ENV,
    }
    # While src/entry.py cannot be imported, the probe Worker stands in so the
    # harness's own overhead is still visible.
    probe = {"app": "probe", "request": post_json("/probe/echo", {"prompt": "Say hello."}).to_plan(), "env": {}}
    return {"iterations": iterations, "warmup": max(10, iterations // 10), "subjects": [gateway, probe]}


@dataclass(frozen=True)
class Figures:
    line: str
    python: str
    pyodide: str
    boot_ms: float
    sdk_import_ms: float
    gateway_import_ms: float | None
    gateway_import_error: str | None
    gateway_new_modules: list[str]
    bench: dict[str, Any] | None

    @classmethod
    def from_result(cls, line: str, result: dict[str, Any]) -> Figures:
        imports = result["imports"]
        gateway = imports["gateway"]
        return cls(
            line=line,
            python=result["runtime"]["python"],
            pyodide=result["runtime"]["pyodide"],
            boot_ms=result["runtime"]["boot_ms"],
            sdk_import_ms=imports["sdk"]["ms"] + imports["sdk_asgi"]["ms"],
            gateway_import_ms=gateway.get("ms"),
            gateway_import_error=gateway.get("error"),
            gateway_new_modules=gateway.get("new_modules", []),
            bench=result["bench"],
        )

    def lines(self) -> list[str]:
        out = [f"{self.line}: Pyodide {self.pyodide}, Python {self.python}, boot {self.boot_ms:.0f} ms"]
        out.append(f"  SDK import (workers + workers.asgi): {self.sdk_import_ms:.1f} ms")
        if self.gateway_import_ms is None:
            first_line = (self.gateway_import_error or "").strip().splitlines()[-1:]
            out.append(f"  import entry: FAILED {first_line}")
        else:
            verdict = "ok" if self.gateway_import_ms <= IMPORT_TARGET_MS else "OVER TARGET"
            out.append(
                f"  import entry over the SDK: {self.gateway_import_ms:.1f} ms "
                f"(target <= {IMPORT_TARGET_MS:.0f} ms: {verdict}); {len(self.gateway_new_modules)} new modules"
            )
        out.extend(self._bench_lines())
        return out

    def _bench_lines(self) -> list[str]:
        bench = self.bench
        if bench is None:
            return ["  per-request benchmark: not run (CONFORMANCE_BENCH_ITERATIONS=0)"]
        if "error" in bench:
            return [f"  per-request benchmark: FAILED {bench['error'][-300:]}"]
        verdict = "ok" if bench["ratio"] <= RATIO_TARGET else "OVER TARGET"
        stand_in = "" if bench["app"] == "gateway" else " (probe stand-in: the gateway did not import)"
        return [
            f"  per request, median of {bench['iterations']}{stand_in}: "
            f"Worker {bench['full_median_ms']:.2f} ms (p90 {bench['full_p90_ms']:.2f}), "
            f"trivial ASGI app {bench['trivial_median_ms']:.2f} ms (p90 {bench['trivial_p90_ms']:.2f}); "
            f"ratio {bench['ratio']:.2f} (target <= {RATIO_TARGET}: {verdict}); "
            f"Worker statuses {bench['full_statuses']}",
        ]
