"""End to end: `gateway serve` as a real process on loopback, called over HTTP."""

from __future__ import annotations

import json
import signal
import time

import httpx

from tests.local.conftest import Server

NATIVE = "/ai/run/@cf/openai/gpt-oss-120b"


def test_banner_states_url_backend_models_and_the_key(server: Server) -> None:
    assert server.url in server.banner
    assert "backend:  emulator" in server.banner
    assert "@cf/openai/gpt-oss-120b" in server.banner
    assert server.key.startswith("gw-")
    assert "reasoning: encrypted_content sealed with a secret made for this run" in server.banner


def test_a_request_over_http_with_the_printed_key(server: Server) -> None:
    reply = httpx.post(
        server.url + NATIVE, json={"prompt": "over the wire"}, headers={"authorization": f"Bearer {server.key}"}
    )
    assert reply.status_code == 200
    assert "over the wire" in reply.json()["result"]["response"]
    assert reply.headers["x-gateway-backend"] == "emulator"
    assert httpx.post(server.url + NATIVE, json={"prompt": "x"}).status_code == 401


def test_a_key_reads_its_own_usage_over_http(server: Server) -> None:
    auth = {"authorization": f"Bearer {server.key}"}
    answer = httpx.post(server.url + NATIVE, json={"prompt": "count me", "max_tokens": 64}, headers=auth)
    spent = answer.json()["result"]["usage"]
    report = httpx.get(server.url + "/v1/usage", headers=auth).json()
    assert report["key"]["name"] == "local-dev" and report["key"]["tier"] == "default"  # wrangler.toml's tier
    assert report["totals"]["today"]["tokens"] == spent["prompt_tokens"] + spent["completion_tokens"]
    assert report["remaining"]["requests"]["remaining"] is not None, "the in-process limiter knows what is left"
    assert "ceiling:  300 model calls a minute" in server.banner


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
    output = server.all_output()
    assert server.process.returncode == 0
    assert "Traceback" not in output
    logged = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    assert all(server.key not in json.dumps(line) for line in logged)
