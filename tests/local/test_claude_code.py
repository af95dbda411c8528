"""Claude Code itself (npm `@anthropic-ai/claude-code`, pinned in package.json) in print mode against a
running `gateway serve` on the emulator: a plain prompt, and a tool loop through one of its own tools.

Claude Code runs offline here: a fresh HOME and config directory, non-essential traffic, telemetry,
error reports and auto-updates off, and ANTHROPIC_BASE_URL on 127.0.0.1.
"""

from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

from tests.local.conftest import ROOT, MakeServer, Server

# Each request of Claude Code's reserves most of a minute of the shipped default tier (about 50 KB
# of system prompt and tools, and its output cap lowered to what the budget admits), so a second
# request in the same minute waits for the next one. The tool loop gets a tier for agents
# (README, "Use it with Claude Code").
AGENT_TIER = json.dumps(
    {"default": {"requests": 120, "period": 60, "tokens_per_minute": 2_000_000, "tokens_per_day": 50_000_000}}
)


def claude_binary() -> Path:
    """The native binary npm installed for this platform (the wrapper's postinstall copies it to
    `bin/claude.exe`, but npm may be set not to run install scripts)."""
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]
    packages = ROOT / "node_modules" / "@anthropic-ai"
    native = packages / f"claude-code-{platform.system().lower()}-{machine}" / "claude"
    if native.exists():
        return native
    wrapper = packages / "claude-code" / "bin" / "claude.exe"
    assert wrapper.exists() and wrapper.stat().st_size > 1_000_000, "Claude Code is not installed: run `npm ci`"
    return wrapper


def claude(server: Server, prompt: str, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    workdir = home / "work"
    workdir.mkdir(exist_ok=True)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": server.url,
        "ANTHROPIC_API_KEY": server.key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
        "DISABLE_AUTOUPDATER": "1",
        "CLAUDE_CODE_MAX_CONTEXT_TOKENS": "128000",  # gpt-oss's window; unknown to Claude Code
    }
    return subprocess.run(
        [str(claude_binary()), "-p", prompt, *extra],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_plain_prompt_with_the_shipped_tier(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server()  # wrangler.toml's default tier: 100,000 tokens a minute
    # Its default model, a claude-* name, for which it asks for 128,000 output tokens.
    done = claude(server, "Say hello to the gateway.", tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "offline emulator, not gpt-oss" in done.stdout


def test_a_tool_loop_through_claude_codes_read_tool(make_server: MakeServer, tmp_path: Path) -> None:
    server = make_server(TIERS=AGENT_TIER)
    notes = tmp_path / "work" / "notes.txt"
    notes.parent.mkdir()
    notes.write_text("the secret word is kumquat\n")
    # The emulator calls the tool the prompt names, with the `quoted` text as its argument, and
    # answers the next turn from the tool's result: Claude Code must have run Read in between.
    done = claude(server, f"Use the Read tool on `{notes}`.", tmp_path, "--model", "gpt-oss-120b")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "The tool returned:" in done.stdout and "the secret word is kumquat" in done.stdout
