"""Print the conformance figures without running the suite.

    uv run python -m tests.conformance.bench [--iterations N] [--line pyodide-314] [--profile]

For each Pyodide line: boot time, the SDK's import time, the gateway's import
time over it (target <= 100 ms), and the median time of a non-streaming request
through the whole Worker over a trivial ASGI app behind the same adapter
(target <= 1.5). --profile adds a cProfile of the Worker's requests, run inside
Pyodide after the timed pass.
"""

from __future__ import annotations

import argparse
import sys

from ._driver import PYODIDE_LINES, HarnessFailed, HarnessUnavailable, base_plan, run_harness
from ._figures import DEFAULT_ITERATIONS, Figures, bench_plan


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS, help="timed requests per subject")
    parser.add_argument("--line", choices=list(PYODIDE_LINES), action="append", help="Pyodide line (default: all)")
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of the Worker's requests")
    return parser.parse_args(argv)


def measure(line: str, iterations: int, profile: bool) -> Figures:
    plan = base_plan(line)
    bench = bench_plan()
    assert bench is not None
    plan["bench"] = {**bench, "iterations": iterations, "warmup": max(10, iterations // 10), "profile": profile}
    return Figures.from_result(line, run_harness(plan))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    for line in args.line or list(PYODIDE_LINES):
        try:
            figures = measure(line, args.iterations, args.profile)
        except (HarnessUnavailable, HarnessFailed) as exc:
            print(f"cannot run the harness: {exc}", file=sys.stderr)
            return 2
        print("\n".join(figures.lines()))
        if args.profile and figures.bench and figures.bench.get("profile"):
            print(figures.bench["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
