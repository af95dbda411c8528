"""End to end: `gateway serve` as a real process on loopback, called over HTTP."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
NATIVE = "/ai/run/@cf/openai/gpt-oss-120b"


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    key: str
    banner: str


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


@pytest.fixture
def server() -> Iterator[Server]:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GATEWAY_KEYS", "CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "UPSTREAM_BASE_URL")
    }
    env["EMULATOR_TOKEN_DELAY_MS"] = "40"
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--port", str(port)],
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
        key = re.search(r"key:\s+(\S+)", banner).group(1)  # type: ignore[union-attr]
        yield Server(process, url, key, banner)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(5)


def test_banner_states_url_backend_models_and_the_key(server: Server) -> None:
    assert server.url in server.banner
    assert "backend:  emulator" in server.banner
    assert "@cf/openai/gpt-oss-120b" in server.banner
    assert server.key.startswith("gw-")


def test_a_request_over_http_with_the_printed_key(server: Server) -> None:
    reply = httpx.post(
        server.url + NATIVE, json={"prompt": "over the wire"}, headers={"authorization": f"Bearer {server.key}"}
    )
    assert reply.status_code == 200
    assert "over the wire" in reply.json()["result"]["response"]
    assert reply.headers["x-gateway-backend"] == "emulator"
    assert httpx.post(server.url + NATIVE, json={"prompt": "x"}).status_code == 401


def test_a_stream_over_http_arrives_incrementally(server: Server) -> None:
    body = {"messages": [{"role": "user", "content": "stream please"}], "stream": True}
    arrivals: list[float] = []
    started = time.perf_counter()
    with httpx.stream("POST", server.url + NATIVE, json=body, headers={"x-api-key": server.key}, timeout=10) as reply:
        assert reply.headers["content-type"].startswith("text/event-stream")
        lines = []
        for line in reply.iter_lines():
            if line.startswith("data: "):
                arrivals.append(time.perf_counter() - started)
                lines.append(line)
    assert lines[-1] == "data: [DONE]"
    assert len(arrivals) > 10
    assert arrivals[-1] - arrivals[0] > (len(arrivals) - 2) * 0.04 * 0.7  # paced, not one burst at the end


def test_the_server_survives_a_client_that_leaves_mid_stream(server: Server) -> None:
    body = {"messages": [{"role": "user", "content": "long answer"}], "stream": True}
    with httpx.stream("POST", server.url + NATIVE, json=body, headers={"x-api-key": server.key}) as reply:
        next(reply.iter_lines())
    time.sleep(0.3)
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_ctrl_c_stops_it_cleanly(server: Server) -> None:
    server.process.send_signal(signal.SIGINT)
    output, _ = server.process.communicate(timeout=10)
    assert server.process.returncode == 0
    assert "Traceback" not in output
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert all(server.key not in json.dumps(line) for line in logged)
