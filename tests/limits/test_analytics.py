"""Usage and cost: on every log line, in Analytics Engine per key, and never the key itself."""

from __future__ import annotations

import json
from typing import Any

from gateway._limits.bindings import AnalyticsUsage
from gateway.local.emulator import Emulator, Faults
from gateway.local.keygen import key_entry
from gateway.local.limits import local_guards
from tests.client import request, run
from tests.conftest import KEY, NATIVE, MakeGateway, tiers

MODEL = "@cf/openai/gpt-oss-120b"


class DatasetDouble:
    """An Analytics Engine dataset binding: `writeDataPoint({indexes, blobs, doubles})`."""

    def __init__(self) -> None:
        self.points: list[dict[str, Any]] = []

    def writeDataPoint(self, point: dict[str, Any]) -> None:
        self.points.append(point)


def test_each_log_line_carries_tokens_and_cost(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    reply = run(request(gw.app, "POST", NATIVE, body={"prompt": "price me"}, headers=gw.auth))
    usage = reply.json()["result"]["usage"]
    line = json.loads(gw.logs[-1])
    assert (line["input_tokens"], line["output_tokens"]) == (usage["prompt_tokens"], usage["completion_tokens"])
    expected = (usage["prompt_tokens"] * 0.35 + usage["completion_tokens"] * 0.75) / 1_000_000
    assert line["cost_usd"] == round(expected, 8)


def test_analytics_engine_gets_one_point_per_call_after_the_stream_ends(make_gateway: MakeGateway) -> None:
    dataset = DatasetDouble()
    gw = make_gateway(Emulator(token_delay_ms=1), guards=local_guards(usage=AnalyticsUsage(dataset)))
    body = {"messages": [{"role": "user", "content": "stream"}], "stream": True}
    run(request(gw.app, "POST", NATIVE, body=body, headers=gw.auth))
    run(request(gw.app, "POST", NATIVE, body={"prompt": ""}, headers=gw.auth))  # 400: no model call, no point
    line = json.loads(gw.logs[0])
    [point] = dataset.points
    assert point["blobs"] == ["tester", MODEL, "/ai/run/{model:path}", "200"]
    assert point["doubles"] == [float(line["input_tokens"]), float(line["output_tokens"]), line["cost_usd"], 0.0]
    assert len(point["indexes"][0]) == 32 and point["indexes"][0] not in KEY


def test_a_full_run_logs_no_key_anywhere(make_gateway: MakeGateway) -> None:
    second = "gw-second-key-abcdefghijklmnop"
    keys = json.dumps([key_entry("tester", KEY), {**key_entry("second", second), "disabled": True}])
    dataset = DatasetDouble()
    gw = make_gateway(
        Emulator(token_delay_ms=0, faults=Faults()),
        keys=keys,
        guards=local_guards(usage=AnalyticsUsage(dataset)),
        TIERS=tiers(requests=6, tokens_per_minute=5000, max_streams=1),
        CORS_ORIGINS="https://app.example.com",
        LOG_PROMPTS="true",
    )
    auth = {"authorization": f"Bearer {KEY}"}
    calls: list[tuple[str, str, Any, dict[str, str]]] = [
        ("GET", "/healthz", None, {}),
        ("POST", NATIVE, {"prompt": "hello"}, auth),
        ("POST", NATIVE, {"messages": [{"role": "user", "content": "hi"}], "stream": True}, {"x-api-key": KEY}),
        ("POST", NATIVE, {"input": "hi", "max_output_tokens": 100_000}, auth),  # over budget: 400
        (
            "POST",
            "/v1/chat/completions",
            {"model": "gpt-oss-120b", "messages": [{"role": "user", "content": "x"}]},
            auth,
        ),
        ("GET", "/v1/models", None, auth),
        ("POST", NATIVE, {"prompt": "hi"}, {"authorization": f"Bearer {second}"}),  # revoked
        ("POST", NATIVE, {"prompt": "hi"}, {"authorization": f"Bearer {KEY}x"}),  # unknown
        ("POST", NATIVE, {"prompt": "hi"}, {"authorization": f"Basic {KEY}"}),  # malformed
        ("OPTIONS", NATIVE, None, {"origin": "https://app.example.com", "access-control-request-method": "POST"}),
        ("POST", NATIVE, {"prompt": "hi"}, auth),
        ("POST", NATIVE, {"prompt": "hi"}, auth),  # the 7th request: 429
    ]
    statuses = [
        run(request(gw.app, method, path, body=body, headers=headers)).status for method, path, body, headers in calls
    ]
    assert statuses[-1] == 429 and statuses[6:9] == [401, 401, 401]
    assert len(gw.logs) >= len(calls)
    recorded = gw.logs + [json.dumps(point) for point in dataset.points]
    for secret in (KEY, second, KEY[3:], second[3:]):
        assert not [line for line in recorded if secret in line]
