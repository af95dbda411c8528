"""Completions (the prompt form) and the model list, through the official SDK."""

from __future__ import annotations

from typing import Any

import pytest

from tests.client import request, run
from tests.conftest import MakeGateway
from tests.openai.conftest import MakeClient


def test_completions_create(make_client: MakeClient) -> None:
    client, gw = make_client()
    reply = run(client.completions.create(model="openai/gpt-oss-120b", prompt="Once upon a time", max_tokens=200))
    assert reply.object == "text_completion" and reply.model == "openai/gpt-oss-120b"
    assert "Once upon a time" in reply.choices[0].text and reply.choices[0].finish_reason == "stop"
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert gw.backend.calls[-1][1] == {"prompt": "Once upon a time", "max_tokens": 200, "stream": False}


def test_completions_stream_and_echo(make_client: MakeClient) -> None:
    client, _ = make_client()

    async def collect() -> list[Any]:
        stream = await client.completions.create(
            model="gpt-oss-120b", prompt="Echo me", echo=True, stream=True, stream_options={"include_usage": True}
        )
        return [chunk async for chunk in stream]

    chunks = run(collect())
    assert chunks[0].choices[0].text == "Echo me"
    assert "".join(c.choices[0].text for c in chunks if c.choices).startswith("Echo meThis is the gateway")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None


def test_models_list_and_retrieve_by_any_alias(make_client: MakeClient) -> None:
    client, _ = make_client(MODELS="@cf/openai/gpt-oss-120b,@cf/openai/gpt-oss-20b")

    async def listed() -> list[Any]:
        return [model async for model in client.models.list()]

    models = run(listed())
    assert [m.id for m in models] == ["@cf/openai/gpt-oss-120b", "@cf/openai/gpt-oss-20b"]
    assert all(m.object == "model" and m.owned_by == "openai" for m in models)
    for alias in ("gpt-oss-20b", "openai/gpt-oss-20b", "@cf/openai/gpt-oss-20b"):
        assert run(client.models.retrieve(alias)).id == "@cf/openai/gpt-oss-20b"


@pytest.mark.parametrize("alias", ["gpt-oss-120b", "openai/gpt-oss-120b", "@cf/openai/gpt-oss-120b"])
def test_every_alias_reaches_the_canonical_model(make_gateway: MakeGateway, alias: str) -> None:
    gw = make_gateway()
    reply = run(
        request(
            gw.app,
            "POST",
            "/v1/chat/completions",
            headers=gw.auth,
            body={"model": alias, "messages": [{"role": "user", "content": "x"}]},
        )
    )
    assert reply.status == 200 and reply.json()["model"] == alias
    assert gw.backend.calls[-1][0] == "@cf/openai/gpt-oss-120b"


def test_cloudflare_account_paths_are_accepted(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    native = run(
        request(
            gw.app,
            "POST",
            "/client/v4/accounts/abc123/ai/run/@cf/openai/gpt-oss-120b",
            body={"prompt": "hi"},
            headers=gw.auth,
        )
    )
    assert native.status == 200 and native.json()["success"] is True
    compat = run(
        request(
            gw.app,
            "POST",
            "/client/v4/accounts/abc123/ai/v1/responses",
            body={"model": "@cf/openai/gpt-oss-120b", "input": "hi"},
            headers=gw.auth,
        )
    )
    assert compat.status == 200 and compat.json()["object"] == "response"


def test_the_user_tag_is_logged_not_sent_upstream(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    run(
        request(
            gw.app,
            "POST",
            "/v1/completions",
            headers=gw.auth,
            body={"model": "gpt-oss-120b", "prompt": "x", "user": "team-a"},
        )
    )
    assert "user" not in gw.backend.calls[-1][1]
    assert '"user":"team-a"' in gw.logs[-1]
