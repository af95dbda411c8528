"""`gateway keys create|hash|revoke|list` for the env, kv and file stores."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.local.keygen import sha256_hex
from gateway.local.server import build_local_app
from tests.client import request, run
from tests.conftest import NATIVE


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "wrangler.toml").write_text('name = "t"\n[vars]\nTIERS = \'{"default": {}, "pro": {}}\'\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GATEWAY_KEYS", raising=False)
    monkeypatch.delenv("KEYS_FILE", raising=False)
    return tmp_path


def _key(out: str) -> str:
    return re.search(r"^\s+(gw-\S+)$", out, re.MULTILINE).group(1)  # type: ignore[union-attr]


def test_create_with_policy_prints_the_entry_with_it(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "bob", "--tier", "pro", "--models", "@cf/openai/gpt-oss-20b",
                 "--expires", "2030-01-01"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    entry = json.loads(re.search(r"^\s+(\{.*\})$", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert entry == {
        "name": "bob",
        "sha256": sha256_hex(_key(out)),
        "tier": "pro",
        "models": ["@cf/openai/gpt-oss-20b"],
        "expires_at": "2030-01-01T00:00:00Z",
    }
    assert "npx wrangler secret put GATEWAY_KEYS" in out


def test_create_for_kv_prints_the_wrangler_kv_command(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "carol", "--store", "kv"]) == 0
    out = capsys.readouterr().out
    digest = sha256_hex(_key(out))
    assert f'npx wrangler kv key put --binding GATEWAY_KEYS_KV --remote {digest} \'{{"name":"carol"}}\'' in out


def test_a_bad_expiry_is_refused_before_a_key_is_made(project: Path) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        main(["keys", "create", "--name", "x", "--expires", "next week"])


def test_file_store_create_works_at_once_and_revoke_stops_it(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "dave", "--store", "file"]) == 0
    key = _key(capsys.readouterr().out)
    local = build_local_app(project, "emulator", environ={})
    assert local.generated_key is None and local.key_store is not None
    headers = {"authorization": f"Bearer {key}"}
    assert run(request(local.app, "POST", NATIVE, body={"prompt": "hi"}, headers=headers)).status == 200
    assert main(["keys", "list", "--store", "file"]) == 0
    assert re.search(
        r"^dave\s+\w{12}…\s+tier=default\s+models=all\s+expires=never\s+active$", capsys.readouterr().out, re.M
    )
    assert main(["keys", "revoke", "dave", "--store", "file"]) == 0
    reply = run(request(local.app, "POST", NATIVE, body={"prompt": "hi"}, headers=headers))
    assert reply.status == 401 and "revoked" in reply.json()["errors"][0]["message"]


def test_env_revoke_prints_the_new_list(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    keys = [{"name": "erin", "sha256": sha256_hex("k1")}, {"name": "frank", "sha256": sha256_hex("k2")}]
    monkeypatch.setenv("GATEWAY_KEYS", json.dumps(keys))
    assert main(["keys", "revoke", "erin"]) == 0
    out = capsys.readouterr().out
    updated = json.loads(re.search(r"^\s+(\[.*\])$", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert updated == [{**keys[0], "disabled": True}, keys[1]]
    assert "npx wrangler secret put GATEWAY_KEYS" in out
    assert main(["keys", "revoke", "nobody"]) == 1


def test_kv_revoke_needs_the_hash_and_prints_both_ways(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    digest = sha256_hex("k1")
    assert main(["keys", "revoke", "erin", "--store", "kv"]) == 2
    assert main(["keys", "revoke", digest, "--store", "kv", "--name", "erin"]) == 0
    out = capsys.readouterr().out
    assert f'--remote {digest} \'{{"name":"erin","disabled":true}}\'' in out
    assert f"npx wrangler kv key delete --binding GATEWAY_KEYS_KV --remote {digest}" in out


def test_hash_prints_the_sha256(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "hash", "gw-abc"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == sha256_hex("gw-abc")
