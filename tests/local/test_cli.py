"""`gateway keys create`: a new key printed once, with the entry that configures it."""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from gateway.cli import main


def test_keys_create_prints_a_key_and_its_entry(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys", "create", "--name", "alice"]) == 0
    out = capsys.readouterr().out
    key = re.search(r"^\s+(gw-\S+)$", out, re.MULTILINE).group(1)  # type: ignore[union-attr]
    entry = json.loads(re.search(r"^\s+(\{.*\})$", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert entry == {"name": "alice", "sha256": hashlib.sha256(key.encode()).hexdigest()}
    assert "wrangler secret put GATEWAY_KEYS" in out and ".dev.vars" in out
    assert len(key) > 40


def test_two_keys_differ(capsys: pytest.CaptureFixture[str]) -> None:
    main(["keys", "create", "--name", "a"])
    main(["keys", "create", "--name", "a"])
    keys = re.findall(r"^\s+(gw-\S+)$", capsys.readouterr().out, re.MULTILINE)
    assert len(set(keys)) == 2


def test_keys_create_needs_a_name() -> None:
    with pytest.raises(SystemExit) as caught:
        main(["keys", "create"])
    assert caught.value.code == 2
