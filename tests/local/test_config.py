"""The local server's configuration: [vars] < .dev.vars < environment, and backend choice."""

from __future__ import annotations

from pathlib import Path

from gateway.local.config import load_env, parse_dev_vars
from gateway.local.server import banner, build_local_app, choose_backend


def write_project(root: Path, dev_vars: str | None = None) -> None:
    (root / "wrangler.toml").write_text('name = "x"\n[vars]\nMODELS = "from-toml"\nLOG_PROMPTS = "false"\nA = "toml"\n')
    if dev_vars is not None:
        (root / ".dev.vars").write_text(dev_vars)


def test_later_sources_win(tmp_path: Path) -> None:
    write_project(tmp_path, 'A="dev"\nB=dev\n# comment\nexport C=dev\n')
    env = load_env(tmp_path, environ={"B": "environ"})
    assert env["MODELS"] == "from-toml"
    assert (env["A"], env["B"], env["C"]) == ("dev", "environ", "dev")


def test_dev_vars_parsing() -> None:
    assert parse_dev_vars("X='[1, 2]'\n\nY = plain \nnot a line\n") == {"X": "[1, 2]", "Y": "plain"}


def test_backend_choice() -> None:
    assert choose_backend({}) == "emulator"
    assert choose_backend({"UPSTREAM_BASE_URL": "http://127.0.0.1:1/v1"}) == "openai"
    assert (
        choose_backend({"CLOUDFLARE_ACCOUNT_ID": "a", "CLOUDFLARE_API_TOKEN": "t", "UPSTREAM_BASE_URL": "http://x"})
        == "rest"
    )
    assert choose_backend({"CLOUDFLARE_ACCOUNT_ID": "a"}) == "emulator"


def test_without_keys_a_key_is_made_for_the_run(tmp_path: Path) -> None:
    write_project(tmp_path)
    local = build_local_app(tmp_path, environ={})
    assert local.generated_key and local.generated_key.startswith("gw-")
    assert local.backend.name == "emulator"
    configured = build_local_app(tmp_path, environ={"GATEWAY_KEYS": '[{"name":"a","sha256":"' + "0" * 64 + '"}]'})
    assert configured.generated_key is None


def test_without_a_reasoning_secret_one_is_made_for_the_run_and_said(tmp_path: Path) -> None:
    write_project(tmp_path)
    local = build_local_app(tmp_path, environ={})
    assert local.generated_secret and len(local.env["REASONING_SECRET"]) >= 32
    assert "secret made for this run" in banner(local, "http://127.0.0.1:1")
    assert build_local_app(tmp_path, environ={}).env["REASONING_SECRET"] != local.env["REASONING_SECRET"]
    kept = build_local_app(tmp_path, environ={"REASONING_SECRET": "k" * 40})
    assert not kept.generated_secret and kept.env["REASONING_SECRET"] == "k" * 40
    assert "secret made for this run" not in banner(kept, "http://127.0.0.1:1")


def test_the_banner_names_what_operates_on_the_traffic(tmp_path: Path) -> None:
    write_project(tmp_path)
    environ = {
        "MODELS": "@cf/openai/gpt-oss-120b,@cf/openai/gpt-oss-20b",
        "AI_GATEWAY_ID": "team-gw",
        "FALLBACK_MODEL": "@cf/openai/gpt-oss-20b",
        "ACCOUNT_REQUESTS_PER_MINUTE": "300",
    }
    text = banner(build_local_app(tmp_path, environ=environ), "http://127.0.0.1:1")
    assert "ai gateway: team-gw  (only the rest backend goes through it, not emulator)" in text
    assert "fallback: @cf/openai/gpt-oss-20b" in text
    assert "ceiling:  300 model calls a minute across keys (in-process)" in text
    assert "ai gateway" not in banner(build_local_app(tmp_path, environ={}), "http://127.0.0.1:1")
