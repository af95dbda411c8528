"""The Vercel AI SDK (`ai` + `@ai-sdk/openai`, pinned in package.json, default provider settings)
against `gateway serve`: generateText and streamText with a tool loop, reasoning summaries live,
and a three-turn conversation built from `response.messages` (which sends earlier output back as
`item_reference`). The scenarios run in ai_sdk_client.mjs; this checks what they saw and what the
gateway logged."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.local.conftest import ROOT, logged_server

SCRIPT = Path(__file__).with_name("ai_sdk_client.mjs")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "`node` is not on PATH: install Node.js 20"
    assert (ROOT / "node_modules" / "@ai-sdk" / "openai").is_dir(), "run `npm ci` (package.json pins the AI SDK)"
    with logged_server(tmp_path_factory.mktemp("ai-sdk"), EMULATOR_TOKEN_DELAY_MS="5", LOG_PROMPTS="true") as server:
        done = subprocess.run(
            [node, str(SCRIPT), server.url + "/v1", server.key],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        logs = [line for line in server.log_lines() if line["path"] != "/healthz"]
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    result["logs"] = logs
    return result


def _ok(scenario: dict[str, Any]) -> dict[str, Any]:
    assert "error" not in scenario, scenario
    return scenario


def test_every_request_is_served_and_nothing_is_ignored(report: dict[str, Any]) -> None:
    lines = report["logs"]
    assert len(lines) == 8
    assert all(line["status"] == 200 and line["error"] is None for line in lines), lines
    assert all("ignored" not in line for line in lines), [line.get("ignored") for line in lines]


def test_generate_text_runs_a_tool_loop(report: dict[str, Any]) -> None:
    loop = _ok(report["toolLoop"])
    assert loop["toolCalls"] == [["get_weather", {"city": "Paris"}]] and "Paris" in report["calls"]
    assert loop["steps"] == 2 and loop["finishReason"] == "stop"
    assert loop["text"] == "The tool returned: rainy and 12 C in Paris"
    second = report["logs"][1]["request_body"]["input"]
    assert [item.get("type", "message") for item in second] == [
        "message",
        "item_reference",  # the stored reasoning of the calling turn
        "function_call",
        "function_call_output",
    ]


def test_stream_text_runs_a_tool_loop_token_by_token(report: dict[str, Any]) -> None:
    loop = _ok(report["streamedToolLoop"])
    assert loop["text"] == "The tool returned: rainy and 12 C in Lima" and loop["steps"] == 2
    assert loop["textDeltas"] > 5
    assert {"tool-call", "tool-result", "reasoning-start", "text-delta"} <= set(loop["kinds"])


def test_reasoning_summaries_stream_live(report: dict[str, Any]) -> None:
    live = _ok(report["liveReasoning"])
    assert live["reasoningDeltas"] > 5, "summary deltas as the reasoning arrives, not one at the end"
    assert live["spreadMs"] > 30 and live["firstTextMs"] > live["spreadMs"]
    assert live["text"].startswith("The user wrote")
    body = report["logs"][4]["request_body"]
    assert body["include"] == ["reasoning.encrypted_content"] and body["reasoning"] == {"summary": "auto"}


def test_a_three_turn_conversation_from_response_messages(report: dict[str, Any]) -> None:
    turns = _ok(report["threeTurns"])
    said = ["My name is Ada.", "I live in `Oslo`.", "What do you know about me?"]
    assert [text.rsplit("You said: ", 1)[-1] for text in turns["texts"]] == said
    references = [
        sum(item.get("type") == "item_reference" for item in line["request_body"]["input"])
        for line in report["logs"][5:]
    ]
    assert references == [0, 2, 4], "each earlier reasoning and message went back by reference"
