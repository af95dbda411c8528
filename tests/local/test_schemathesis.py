"""schemathesis against a real `gateway serve`, from the document it serves, for every operation.

Bodies generated from the document (valid ones, and invalid ones in every way the schemas allow
describing) must never get a 5xx, and every answer must conform to the document: its status, its
content type, its headers, and every 2xx body (each stream event's too). Seeded and bounded in
examples, so a run is short and a failure reproduces.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.local.conftest import running_server

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)
# Roomy limits: the run sends a few thousand requests; the limits themselves are tested elsewhere.
ROOMY = '{"default": {"requests": 1000000, "period": 60, "tokens_per_minute": 1000000000}}'


def test_schemathesis_finds_no_server_error_and_no_answer_unlike_the_document(tmp_path: Path) -> None:
    with running_server(EMULATOR_TOKEN_DELAY_MS="0", TIERS=ROOMY) as server:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "schemathesis.cli",
                "run",
                f"{server.url}/openapi.json",
                "--header",
                f"Authorization: Bearer {server.key}",
                "--checks",
                CHECKS,
                "--max-examples",
                "25",
                "--seed",
                "20261125",
                "--phases",
                "examples,coverage,fuzzing",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=400,
            cwd=tmp_path,  # its cache of failures (.schemathesis/) stays out of the repository
        )
    summary = result.stdout[-8000:]
    assert result.returncode == 0, summary
    # Every operation it selected was tested (GETs without inputs are tested by tests/test_reference.py).
    selected = re.search(r"Selected: (\d+)/(\d+)", result.stdout)
    assert selected and selected.group(1) == selected.group(2), summary
    assert f"Tested: {selected.group(1)}" in result.stdout, summary
    generated = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert generated and generated.group(1) == generated.group(2) and int(generated.group(1)) > 1000, summary
