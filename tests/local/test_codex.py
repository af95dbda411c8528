"""OpenAI's Codex CLI (npm `@openai/codex`, pinned in package.json) against `gateway serve`.

Codex runs fully offline: its configuration lives in a temporary CODEX_HOME (a custom model
provider whose base_url is the local server, the key from an environment variable, no login, no
update check, no analytics, no OpenTelemetry export), and every proxy variable points at a closed port, so anything it
tried to send elsewhere would fail rather than leave the machine. The gateway's log lines show
what it asked for: every request must be served, none refused.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from tests.local.conftest import ROOT, LoggedServer, logged_server

CODEX = ROOT / "node_modules" / ".bin" / "codex"
DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, so a connection is refused


def _config(server: LoggedServer) -> str:
    # The README's "Use it with Codex" configuration, with the test's URL; the sandbox is off
    # because the command is a harmless echo and CI containers cannot always run bubblewrap.
    return f"""
model = "gpt-oss-120b"
model_provider = "gateway"
check_for_update_on_startup = false
approval_policy = "never"
sandbox_mode = "danger-full-access"

[model_providers.gateway]
name = "gpt-oss gateway"
base_url = "{server.url}/v1"
env_key = "GATEWAY_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0

[analytics]
enabled = false

[otel]
exporter = "none"
"""


def _codex(server: LoggedServer, home: Path, prompt: str) -> subprocess.CompletedProcess[str]:
    assert CODEX.exists(), f"{CODEX} is missing: run `npm ci` (package.json pins @openai/codex)"
    codex_home = home / "codex-home"
    codex_home.mkdir(exist_ok=True)
    (codex_home / "config.toml").write_text(_config(server))
    work = home / "work"
    work.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        "GATEWAY_KEY": server.key,
        "HTTP_PROXY": DEAD_PROXY,
        "HTTPS_PROXY": DEAD_PROXY,
        "ALL_PROXY": DEAD_PROXY,
        "NO_PROXY": "127.0.0.1,localhost",
        "NO_COLOR": "1",
    }
    command = [str(CODEX), "exec", "--skip-git-repo-check", "--cd", str(work), prompt]
    return subprocess.run(command, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)


def _served(server: LoggedServer) -> list[dict[str, Any]]:
    lines = [line for line in server.log_lines() if line["path"] == "/v1/responses"]
    assert lines, "Codex sent no request to /v1/responses"
    for line in lines:
        assert line["status"] == 200 and line["error"] is None, line
        # What Codex sends and this gateway cannot use is named, never refused.
        assert set(line.get("ignored", [])) <= {"client_metadata", "tools.web_search"}, line
    return lines


def test_codex_answers_a_plain_prompt(tmp_path: Path) -> None:
    with logged_server(tmp_path, EMULATOR_TOKEN_DELAY_MS="1") as server:
        done = _codex(server, tmp_path, "Say hello to the gateway.")
        lines = _served(server)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "You said: Say hello to the gateway." in done.stdout
    assert len(lines) == 1 and lines[0]["streamed"] is True


def test_codex_runs_a_command_and_answers_from_its_output(tmp_path: Path) -> None:
    prompt = "Use exec_command to run `echo hello-from-codex` and tell me what it printed."
    with logged_server(tmp_path, EMULATOR_TOKEN_DELAY_MS="1", LOG_PROMPTS="true") as server:
        done = _codex(server, tmp_path, prompt)
        lines = _served(server)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "The tool returned:" in done.stdout and "hello-from-codex" in done.stdout, done.stdout
    assert len(lines) == 2, "the call, then the answer from its output"
    first, second = (line["request_body"] for line in lines)
    assert first["store"] is False and first["include"] == ["reasoning.encrypted_content"]
    kinds = [item.get("type", "message") for item in second["input"]]
    assert kinds[-3:] == ["reasoning", "function_call", "function_call_output"], kinds
    reasoning, call, output = second["input"][-3:]
    assert reasoning["encrypted_content"].startswith("gwr1."), "Codex handed back the sealed reasoning"
    assert call["name"] == "exec_command" and "hello-from-codex" in call["arguments"]
    assert "hello-from-codex" in output["output"], "Codex ran the command and sent its output"
    assert lines[1]["cached_tokens"] > 0, "prompt_cache_key kept both turns on one prefix cache"
