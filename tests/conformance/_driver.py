"""Finding what the harness needs, and running it.

The harness (``harness.mjs``) needs Node, the npm ``pyodide`` packages in
``node_modules`` and the ``workers-runtime-sdk`` wheel pinned in ``uv.lock``.
Anything missing raises ``HarnessUnavailable`` with what to run to fix it: the
suite fails then, it never skips, because a conformance suite that quietly does
not run is worse than none.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
CACHE = HERE / ".cache"
HARNESS = HERE / "harness.mjs"
IN_PYODIDE = HERE / "in_pyodide"
APP_SOURCE = REPO / "src"

SDK_DISTRIBUTION = "workers-runtime-sdk"

# The Pyodide lines the Worker can run on, by the npm package dir that holds each.
# 0.28.x: compatibility date 2026-04-21 with `python_workers`;
# 314.0.x: the `python_workers_20260610` flag (workerd build/python_metadata.bzl).
PYODIDE_LINES = {
    "pyodide-0.28": "pyodide",
    "pyodide-314": "pyodide-314",
}

# What `_cloudflare_compat_flags` holds for compatibility date 2026-04-21 with
# `python_workers` (workerd src/workerd/io/compatibility-date.capnp).
COMPAT_FLAGS = {
    "python_workflows_implicit_dependencies": True,  # implied after 2026-02-25
    "python_request_headers_preserve_commas": True,  # from 2026-02-17
    "python_check_rng_state": True,  # implied after 2025-12-16
}

HARNESS_TIMEOUT_S = 300


class HarnessUnavailable(Exception):
    """Something the harness needs is missing; the message says how to get it."""


class HarnessFailed(Exception):
    """The harness itself crashed or hung (not a case failing): its stderr says why."""


@dataclass(frozen=True)
class PinnedWheel:
    name: str
    version: str
    filename: str
    sha256: str


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise HarnessUnavailable("`node` is not on PATH: install Node.js 20 (the version wrangler 4.86 needs).")
    return node


def pyodide_dir(line: str) -> Path:
    package = PYODIDE_LINES[line]
    directory = REPO / "node_modules" / package
    if not (directory / "pyodide.mjs").is_file():
        raise HarnessUnavailable(
            f"npm package {package!r} is not installed ({directory} has no pyodide.mjs): run `npm ci` in {REPO}."
        )
    return directory


def pinned_wheel(distribution: str = SDK_DISTRIBUTION) -> PinnedWheel:
    """The wheel uv.lock pins for a distribution: the same bytes pywrangler vendors."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    for package in lock.get("package", []):
        if package["name"] == distribution:
            wheel = package["wheels"][0]
            return PinnedWheel(
                name=distribution,
                version=package["version"],
                filename=wheel["url"].rsplit("/", 1)[-1],
                sha256=wheel["hash"].removeprefix("sha256:"),
            )
    raise HarnessUnavailable(f"uv.lock pins no {distribution!r}: run `uv lock` in {REPO}.")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download_commands(pin: PinnedWheel, dest: Path) -> list[list[str]]:
    """pip from this interpreter if it has one, else pip run through uv."""
    args = ["download", f"{pin.name}=={pin.version}", "--no-deps", "--only-binary=:all:", "-d", str(dest)]
    commands = []
    if shutil.which("uv"):
        commands.append(["uv", "tool", "run", "--from", "pip", "pip", *args])
    commands.insert(0, [sys.executable, "-m", "pip", *args])
    return commands


def _download(pin: PinnedWheel, dest: Path) -> None:
    failures = []
    for command in _download_commands(pin, dest):
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode == 0 and (dest / pin.filename).is_file():
            return
        failures.append(f"$ {' '.join(command)}\n{done.stderr.strip()[-800:]}")
    raise HarnessUnavailable(
        f"Could not download {pin.filename} into {dest}. Put the wheel there by hand "
        f"(`pip download {pin.name}=={pin.version} --no-deps -d {dest}`). Tried:\n" + "\n".join(failures)
    )


def sdk_wheel() -> Path:
    """The pinned SDK wheel from the cache, downloading it (from PyPI) on first use."""
    pin = pinned_wheel()
    path = CACHE / pin.filename
    if not path.is_file():
        CACHE.mkdir(exist_ok=True)
        _download(pin, CACHE)
    if _sha256(path) != pin.sha256:
        raise HarnessUnavailable(
            f"{path} does not match the sha256 uv.lock pins ({pin.sha256}): delete it and run again."
        )
    return path


def app_source() -> Path:
    """src/, or CONFORMANCE_APP_DIR: to try the suite on a modified copy of the app."""
    directory = Path(os.environ.get("CONFORMANCE_APP_DIR", APP_SOURCE))
    if not (directory / "entry.py").is_file():
        raise HarnessUnavailable(f"{directory} has no entry.py (set CONFORMANCE_APP_DIR to the app's source dir).")
    return directory


def base_plan(line: str) -> dict[str, Any]:
    """Everything the harness needs except the cases and the benchmark."""
    return {
        "pyodide_dir": str(pyodide_dir(line)),
        "wheels": [str(sdk_wheel())],
        "app_dir": str(app_source()),
        "in_pyodide_dir": str(IN_PYODIDE),
        "compat_flags": COMPAT_FLAGS,
        "cases": [],
        "bench": None,
    }


def run_harness(plan: dict[str, Any], timeout_s: float = HARNESS_TIMEOUT_S) -> dict[str, Any]:
    """Run one Node process over the plan; its JSON report, or an error with its stderr."""
    node = node_executable()
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        plan_path, out_path = Path(tmp, "plan.json"), Path(tmp, "result.json")
        plan_path.write_text(json.dumps(plan))
        command = [node, str(HARNESS), "--plan", str(plan_path), "--out", str(out_path)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s, check=False)
        except subprocess.TimeoutExpired as exc:
            stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else exc.stderr
            raise HarnessFailed(f"the harness took longer than {timeout_s} s:\n{stderr}") from None
        if done.returncode != 0 or not out_path.is_file():
            raise HarnessFailed(f"the harness failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        result: dict[str, Any] = json.loads(out_path.read_text())
    return result
