"""A running `gateway serve` process, shared by the end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    key: str
    banner: str
    # What it printed after the banner (its log lines), read as it goes so the pipe never fills.
    output: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def log_records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(self.output) if line.startswith("{")]

    def all_output(self, timeout: float = 10) -> str:
        """Everything it printed after the banner, once it has exited."""
        self.process.wait(timeout)
        if self.reader is not None:
            self.reader.join(timeout)
        return "".join(self.output)


def _drain(process: subprocess.Popen[str], into: list[str]) -> None:
    """Keep reading the server's output: a full pipe would block the server on its next log line."""
    assert process.stdout is not None
    for line in process.stdout:
        into.append(line)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_banner(process: subprocess.Popen[str], deadline: float) -> str:
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "try:" in line:
            return "".join(lines)
    raise AssertionError("gateway serve printed no banner:\n" + "".join(lines))


def wait_until_up(url: str, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/healthz", timeout=0.5)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("gateway serve did not start listening")


MakeServer = Callable[..., Server]


def serve_env(**variables: str) -> dict[str, str]:
    """The environment's variables but those that would choose a backend or keys, and these over them."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GATEWAY_KEYS", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "UPSTREAM_BASE_URL")
    }
    return {**env, **variables}


@contextlib.contextmanager
def running_server(*args: str, port: int | None = None, **variables: str) -> Iterator[Server]:
    """`gateway serve` on a free port (or this one) with the emulator, these variables, and a key
    made for the run (unless GATEWAY_KEYS is among them); stopped on exit."""
    port = port or free_port()
    env = serve_env(**{"EMULATOR_TOKEN_DELAY_MS": "40", **variables})
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        banner = read_banner(process, deadline)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, deadline)
        found = re.search(r"key:\s+(\S+)", banner)
        running = Server(process, url, found.group(1) if found else "", banner)
        running.reader = threading.Thread(target=_drain, args=(process, running.output), daemon=True)
        running.reader.start()
        yield running
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(5)


@dataclass
class LoggedServer:
    """A `gateway serve` whose output goes to a file, so a test can read its log lines."""

    process: subprocess.Popen[str]
    url: str
    key: str
    output: Path

    def log_lines(self) -> list[dict[str, Any]]:
        """The JSON log line of every request so far."""
        text = self.output.read_text()
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@contextlib.contextmanager
def logged_server(directory: Path, **variables: str) -> Iterator[LoggedServer]:
    """Start `gateway serve` on a free loopback port with these variables; stop it afterwards."""
    port = free_port()
    env = serve_env(**variables)
    output = directory / "gateway-serve.log"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 20
        while "try:" not in output.read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError("gateway serve printed no banner:\n" + output.read_text())
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url, deadline)
        key = re.search(r"key:\s+(\S+)", output.read_text()).group(1)  # type: ignore[union-attr]
        yield LoggedServer(process, url, key, output)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(5)


@pytest.fixture
def server() -> Iterator[Server]:
    with running_server() as running:
        yield running


@pytest.fixture
def make_server() -> Iterator[MakeServer]:
    """Start servers with variables of the test's choosing; all are stopped when the test ends."""
    with contextlib.ExitStack() as stack:
        yield lambda **variables: stack.enter_context(running_server(**variables))
