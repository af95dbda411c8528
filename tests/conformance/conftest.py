"""One Pyodide boot per Pyodide line per session, shared by every conformance test.

The ``pyodide_run`` fixture is parametrized over the Pyodide lines. The first
test that needs a line runs the Node harness once with every conformance case
selected in this session (so ``-k`` narrows the run too), plus the figures;
each test then checks its own case's outcome.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ._cases import Case, PyodideRun
from ._driver import PYODIDE_LINES, HarnessFailed, HarnessUnavailable, base_plan, node_executable, run_harness
from ._figures import Figures, bench_plan

FIGURES = pytest.StashKey[list[Figures]]()


def selected_cases(session: pytest.Session) -> list[Case]:
    cases: dict[str, Case] = {}
    for item in session.items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("case") if callspec else None
        if isinstance(case, Case):
            cases[case.key] = case
    return list(cases.values())


@pytest.fixture(scope="session", params=list(PYODIDE_LINES))
def pyodide_run(request: pytest.FixtureRequest) -> Iterator[PyodideRun]:
    line: str = request.param
    try:
        node_executable()
        plan = base_plan(line)
        plan["cases"] = [case.to_plan() for case in selected_cases(request.session)]
        plan["bench"] = bench_plan()
        result = run_harness(plan)
    except HarnessUnavailable as exc:
        pytest.fail(f"the conformance harness cannot run: {exc}", pytrace=False)
    except HarnessFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    request.config.stash.setdefault(FIGURES, []).append(Figures.from_result(line, result))
    yield PyodideRun(line, result)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    figures = config.stash.get(FIGURES, [])
    if not figures:
        return
    terminalreporter.section("conformance figures (Pyodide under Node)")
    for entry in figures:
        for line in entry.lines():
            terminalreporter.write_line(line)
