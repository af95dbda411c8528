"""The official openai SDK and the model page's own examples, against a running `gateway serve`."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
import requests

import openai
from tests.local.conftest import Server


def test_the_sdk_against_a_running_server(server: Server) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.key, max_retries=0)
    chat = client.chat.completions.create(model="gpt-oss-120b", messages=[{"role": "user", "content": "ping"}])
    assert "ping" in (chat.choices[0].message.content or "")
    with client.responses.stream(model="gpt-oss-120b", input="pong") as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert "pong" in final.output_text
    assert [m.id for m in client.models.list()] == ["@cf/openai/gpt-oss-120b"]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url + "/v1", api_key="nope", max_retries=0).models.list()


def test_the_model_page_requests_example_verbatim(server: Server) -> None:
    ACCOUNT_ID = "any-account"
    AUTH_TOKEN = server.key
    response = requests.post(
        f"{server.url}/client/v4/accounts/{ACCOUNT_ID}/ai/v1/responses",
        headers={"Authorization": f"Bearer {AUTH_TOKEN}"},
        json={
            "model": "@cf/openai/gpt-oss-120b",
            "input": "Tell me all about PEP-8",
        },
    )
    result = response.json()
    assert response.status_code == 200
    assert result["object"] == "response" and "PEP-8" in result["output"][-1]["content"][0]["text"]


def test_the_model_page_curl_example_verbatim(server: Server) -> None:
    curl = shutil.which("curl")
    assert curl, "curl is needed for this test (apt-get install curl)"
    body = (
        '{\n    "model": "@cf/openai/gpt-oss-120b",\n    "input": "What are the benefits of open-source models?"\n  }'
    )
    output = subprocess.run(
        [
            curl,
            "-s",
            f"{server.url}/client/v4/accounts/acct/ai/v1/responses",
            "-H",
            "Content-Type: application/json",
            "-H",
            f"Authorization: Bearer {server.key}",
            "-d",
            body,
        ],
        capture_output=True,
        text=True,
        timeout=20,
        check=True,
    ).stdout
    assert "benefits of open-source models" in json.loads(output)["output"][-1]["content"][0]["text"]


def test_the_model_page_worker_example_body(server: Server) -> None:
    reply = requests.post(
        f"{server.url}/ai/run/@cf/openai/gpt-oss-120b",
        headers={"x-api-key": server.key},
        json={"instructions": "You are a concise.", "input": "What is the origin of the phrase Hello, World?"},
    )
    result = reply.json()["result"]
    assert result["object"] == "response" and "Hello, World?" in result["output"][-1]["content"][0]["text"]


def test_stored_responses_and_encrypted_reasoning_against_a_running_server(server: Server) -> None:
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=server.key, max_retries=0)
    first = client.responses.create(model="gpt-oss-120b", input="Remember me.", include=["reasoning.encrypted_content"])
    assert getattr(first.output[0], "encrypted_content", None), "the run's own secret seals reasoning"
    second = client.responses.create(model="gpt-oss-120b", input="Who?", previous_response_id=first.id)
    assert client.responses.retrieve(second.id).previous_response_id == first.id
    assert [item.id for item in client.responses.input_items.list(second.id)] == [
        item.id for item in client.responses.input_items.list(second.id, order="asc")
    ][::-1]
