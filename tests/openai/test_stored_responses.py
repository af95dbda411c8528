"""Stored responses through the official openai SDK: chains, item references, retrieve, delete,
input items with pagination, encrypted reasoning, and one key never seeing another's."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

import openai
from gateway.local.emulator import Emulator, Faults
from gateway.local.keygen import key_entry
from tests.client import request, run
from tests.conftest import KEY, FakeClock, Harness, MakeGateway

MODEL = "gpt-oss-120b"
OTHER_KEY = "gw-other-key-0123456789"
SECRET = "a-reasoning-secret-of-forty-characters!!"
KEYS = json.dumps([key_entry("tester", KEY), key_entry("other", OTHER_KEY)])
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def _client(gw: Harness, key: str = KEY) -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gw.app))
    return openai.AsyncOpenAI(base_url="http://gateway.test/v1", api_key=key, http_client=http, max_retries=0)


@pytest.fixture
def gw(make_gateway: MakeGateway) -> Harness:
    return make_gateway(keys=KEYS, REASONING_SECRET=SECRET)


def _sent(gw: Harness) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = gw.backend.calls[-1][1]["messages"]
    return messages


def test_responses_are_stored_by_default_and_continue_by_previous_response_id(gw: Harness) -> None:
    client = _client(gw)
    first = run(client.responses.create(model=MODEL, input="My name is Ada.", instructions="Be brief."))
    assert first.store is True and first.previous_response_id is None
    second = run(client.responses.create(model=MODEL, input="What is my name?", previous_response_id=first.id))
    assert second.previous_response_id == first.id
    assert [(m["role"], m["content"]) for m in _sent(gw)] == [
        ("user", "My name is Ada."),
        ("assistant", first.output_text),
        ("user", "What is my name?"),
    ], "the chain's items, oldest first; the first response's instructions are not carried over"
    third = run(client.responses.create(model=MODEL, input="And again?", previous_response_id=second.id))
    assert [(m["role"], m["content"]) for m in _sent(gw)][-3:] == [
        ("user", "What is my name?"),
        ("assistant", second.output_text),
        ("user", "And again?"),
    ]
    assert len(_sent(gw)) == 5
    assert third.id not in (first.id, second.id)


def test_a_chain_keeps_one_session_for_prefix_cache_affinity(gw: Harness) -> None:
    client = _client(gw)
    first = run(client.responses.create(model=MODEL, input="Remember this. " * 40))
    affinity = gw.backend.calls[-1][2]["extraHeaders"]["x-session-affinity"]
    second = run(client.responses.create(model=MODEL, input="Go on.", previous_response_id=first.id))
    assert gw.backend.calls[-1][2]["extraHeaders"]["x-session-affinity"] == affinity
    assert second.usage is not None
    cached = second.usage.input_tokens_details.cached_tokens
    assert 0 < cached < second.usage.input_tokens, "the emulator's prefix cache saw the chain's shared prefix"
    assert second.usage.input_tokens_details.cache_write_tokens == 0


def test_a_streamed_response_is_stored_before_its_completed_event(gw: Harness) -> None:
    client = _client(gw)

    async def stream_then_continue() -> tuple[Any, Any]:
        stream = await client.responses.create(model=MODEL, input="Stream and store.", stream=True)
        completed = None
        async for event in stream:
            if event.type == "response.completed":
                completed = event.response
                # Referable at once, while the stream is still open.
                retrieved = await client.responses.retrieve(completed.id)
                assert retrieved.output_text == completed.output_text
        assert completed is not None
        follow = await client.responses.create(model=MODEL, input="Next.", previous_response_id=completed.id)
        return completed, follow

    completed, follow = run(stream_then_continue())
    assert completed.store is True and follow.previous_response_id == completed.id


def test_item_references_resolve_to_stored_items(gw: Harness) -> None:
    client = _client(gw)
    first = run(client.responses.create(model=MODEL, input="What is the get_weather in Oslo?", tools=[WEATHER]))
    reasoning, call = first.output
    assert reasoning.type == "reasoning" and call.type == "function_call"
    follow_up: Any = [
        {"role": "user", "content": "What is the get_weather in Oslo?"},
        {"type": "item_reference", "id": reasoning.id},
        {"type": "item_reference", "id": call.id},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"},
    ]
    second = run(client.responses.create(model=MODEL, input=follow_up, tools=[WEATHER]))
    assert "sunny" in second.output_text
    assistant = _sent(gw)[1]
    assert assistant["tool_calls"][0]["id"] == call.call_id
    assert assistant["reasoning"] == reasoning.content[0].text, "the referenced reasoning goes back with its turn"


def test_retrieve_and_delete(gw: Harness) -> None:
    client = _client(gw)
    created = run(client.responses.create(model=MODEL, input="Keep me."))
    retrieved = run(client.responses.retrieve(created.id))
    assert retrieved.model_dump() == created.model_dump()
    assert run(client.responses.delete(created.id)) is None
    with pytest.raises(openai.NotFoundError) as gone:
        run(client.responses.retrieve(created.id))
    assert gone.value.body["message"] == f"Response with id {created.id!r} not found."  # type: ignore[index]
    with pytest.raises(openai.NotFoundError):
        run(client.responses.delete(created.id))
    with pytest.raises(openai.NotFoundError) as chained:
        run(client.responses.create(model=MODEL, input="x", previous_response_id=created.id))
    assert chained.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_input_items_with_openais_pagination(gw: Harness) -> None:
    client = _client(gw)
    items: Any = [{"role": "user", "content": f"line {n}"} for n in range(5)]
    created = run(client.responses.create(model=MODEL, input=items))

    async def listed(**params: Any) -> list[Any]:
        return [item async for item in client.responses.input_items.list(created.id, **params)]

    newest_first = run(listed())
    assert [item.content[0].text for item in newest_first] == [f"line {n}" for n in (4, 3, 2, 1, 0)]
    assert all(item.type == "message" and item.id.startswith("msg_") for item in newest_first)
    paged = run(listed(limit=2, order="asc"))  # the SDK follows has_more / last_id
    assert [item.content[0].text for item in paged] == [f"line {n}" for n in range(5)]

    async def first_page() -> Any:
        return await client.responses.input_items.list(created.id, limit=2, order="asc")

    page = run(first_page())
    assert page.has_more is True and page.last_id == paged[1].id and page.first_id == paged[0].id
    reply = run(
        request(
            gw.app,
            "GET",
            f"/v1/responses/{created.id}/input_items",
            query="limit=500",
            headers={"authorization": f"Bearer {KEY}"},
        )
    )
    assert reply.status == 400 and reply.json()["error"]["param"] == "limit"


def test_another_keys_response_is_a_404_that_says_no_more(gw: Harness) -> None:
    mine, theirs = _client(gw), _client(gw, OTHER_KEY)
    created = run(mine.responses.create(model=MODEL, input="Private.", tools=[WEATHER]))
    messages = []

    async def listed() -> Any:
        return await theirs.responses.input_items.list(created.id)

    for call in (
        lambda: theirs.responses.retrieve(created.id),
        lambda: theirs.responses.retrieve("resp_" + "0" * 48),
        lambda: theirs.responses.delete(created.id),
        listed,
        lambda: theirs.responses.create(model=MODEL, input="x", previous_response_id=created.id),
    ):
        with pytest.raises(openai.NotFoundError) as refused:
            run(call())
        messages.append(refused.value.body["message"].replace(created.id, "ID").replace("resp_" + "0" * 48, "ID"))  # type: ignore[index]
    assert set(messages) == {"Response with id 'ID' not found."}, "a foreign id and an unknown one look the same"
    item = {"type": "item_reference", "id": created.output[0].id}
    with pytest.raises(openai.NotFoundError):
        run(theirs.responses.create(model=MODEL, input=[item]))  # type: ignore[list-item]
    assert run(mine.responses.retrieve(created.id)).id == created.id, "still there for its own key"


def test_store_false_keeps_nothing_and_references_to_it_say_send_inline(gw: Harness) -> None:
    client = _client(gw)
    unstored = run(client.responses.create(model=MODEL, input="Forget me.", store=False))
    assert unstored.store is False and unstored.id.startswith("resp_x")
    assert gw.store is not None and gw.store.archive(json_key_id()).response(unstored.id, 0) is None
    with pytest.raises(openai.BadRequestError) as chained:
        run(client.responses.create(model=MODEL, input="x", previous_response_id=unstored.id))
    assert chained.value.code == "not_stored" and "inline" in chained.value.message
    with pytest.raises(openai.BadRequestError) as referenced:
        run(client.responses.create(model=MODEL, input=[{"type": "item_reference", "id": unstored.output[1].id}]))  # type: ignore[list-item]
    assert referenced.value.code == "not_stored" and referenced.value.param == "input[0].id"  # type: ignore[attr-defined]
    with pytest.raises(openai.NotFoundError) as retrieved:
        run(client.responses.retrieve(unstored.id))
    assert "store: false" in retrieved.value.message


def json_key_id() -> str:
    import hashlib

    return hashlib.sha256(KEY.encode()).hexdigest()


def test_encrypted_reasoning_round_trip_and_a_forged_token_refused(gw: Harness) -> None:
    client, other = _client(gw), _client(gw, OTHER_KEY)
    ask = "What is the get_weather in Rome?"
    first = run(
        client.responses.create(
            model=MODEL, input=ask, tools=[WEATHER], store=False, include=["reasoning.encrypted_content"]
        )
    )
    reasoning, call = first.output
    token = reasoning.encrypted_content
    assert token is not None and token.startswith("gwr1.") and reasoning.content[0].text not in token

    def turn(sealed: str) -> Any:
        return [
            {"role": "user", "content": ask},
            {"type": "reasoning", "id": reasoning.id, "summary": [], "encrypted_content": sealed},
            {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "warm"},
        ]

    second = run(client.responses.create(model=MODEL, input=turn(token), tools=[WEATHER], store=False))
    assert "warm" in second.output_text
    assert _sent(gw)[1]["reasoning"] == reasoning.content[0].text
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    for client_, sealed in ((client, forged), (other, token), (client, "gwr1.made-up"), (client, "gAAAAAB-openai")):
        calls = len(gw.backend.calls)
        with pytest.raises(openai.BadRequestError) as refused:
            run(client_.responses.create(model=MODEL, input=turn(sealed), tools=[WEATHER], store=False))
        assert refused.value.param == "input[1].encrypted_content"  # type: ignore[attr-defined]
        assert len(gw.backend.calls) == calls, "refused before the model is called"


def test_stored_responses_expire_after_the_retention(make_gateway: MakeGateway) -> None:
    clock = FakeClock()
    gw = make_gateway(clock=clock, RESPONSES_RETENTION_DAYS="1")
    client = _client(gw)
    created = run(client.responses.create(model=MODEL, input="Brief life."))
    clock.advance(86_399)
    assert run(client.responses.retrieve(created.id)).id == created.id
    clock.advance(2)
    with pytest.raises(openai.NotFoundError):
        run(client.responses.retrieve(created.id))


def test_a_response_over_the_size_cap_is_refused_unless_store_is_false(make_gateway: MakeGateway) -> None:
    gw = make_gateway(RESPONSES_MAX_BYTES="16384")
    client = _client(gw)
    with pytest.raises(openai.BadRequestError) as refused:
        run(client.responses.create(model=MODEL, input="x" * 20_000))
    assert refused.value.param == "store" and "RESPONSES_MAX_BYTES" in refused.value.message  # type: ignore[attr-defined]
    assert gw.backend.calls == []
    assert run(client.responses.create(model=MODEL, input="x" * 20_000, store=False)).status == "completed"


def test_a_failed_stream_is_not_stored(make_gateway: MakeGateway) -> None:
    gw = make_gateway(Emulator(token_delay_ms=0, faults=Faults(midstream=6)))
    reply = run(
        request(gw.app, "POST", "/v1/responses", body={"model": MODEL, "input": "x", "stream": True}, headers=gw.auth)
    )
    events = [json.loads(data) for data in reply.events()]
    assert events[-1]["type"] == "response.failed"
    response_id = events[0]["response"]["id"]
    assert not response_id.startswith("resp_x"), "it was meant to be stored"
    missing = run(request(gw.app, "GET", f"/v1/responses/{response_id}", headers=gw.auth))
    assert missing.status == 404


def test_without_the_binding_store_is_ignored_and_references_explain(make_gateway: MakeGateway) -> None:
    gw = make_gateway(stored=False)
    reply = run(request(gw.app, "POST", "/v1/responses", body={"model": MODEL, "input": "x"}, headers=gw.auth))
    assert reply.status == 200 and reply.headers["x-gateway-ignored"] == "store"
    assert reply.json()["store"] is False
    chained = run(
        request(
            gw.app,
            "POST",
            "/v1/responses",
            body={"model": MODEL, "input": "x", "previous_response_id": "resp_1"},
            headers=gw.auth,
        )
    )
    assert chained.status == 400 and "not enabled" in chained.json()["error"]["message"]


def test_include_without_a_secret_is_named_ignored(make_gateway: MakeGateway) -> None:
    gw = make_gateway()
    body = {"model": MODEL, "input": "x", "include": ["reasoning.encrypted_content", "message.output_text.logprobs"]}
    reply = run(request(gw.app, "POST", "/v1/responses", body=body, headers=gw.auth))
    assert reply.status == 200
    assert (
        reply.headers["x-gateway-ignored"]
        == "include[reasoning.encrypted_content], include[message.output_text.logprobs]"
    )
    assert "encrypted_content" not in reply.json()["output"][0]


def test_retrieve_with_include_seals_the_reasoning(gw: Harness) -> None:
    client = _client(gw)
    created = run(client.responses.create(model=MODEL, input="Think."))
    retrieved = run(client.responses.retrieve(created.id, include=["reasoning.encrypted_content"]))
    token = retrieved.output[0].encrypted_content
    follow = [{"type": "reasoning", "summary": [], "encrypted_content": token}, {"role": "assistant", "content": "ok"}]
    follow.append({"role": "user", "content": "next"})
    assert run(client.responses.create(model=MODEL, input=follow)).status == "completed"  # type: ignore[arg-type]
    assert created.output[0].encrypted_content is None


def test_a_store_that_fails_still_delivers_the_answer_unstored(gw: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(key_id: str, record: str) -> None:
        raise ConnectionError("object unreachable")

    assert gw.store is not None
    monkeypatch.setattr(gw.store, "save", broken)
    reply = run(
        request(
            gw.app,
            "POST",
            "/v1/responses",
            body={"model": MODEL, "input": "x"},
            headers={"authorization": f"Bearer {KEY}"},
        )
    )
    assert reply.status == 200 and reply.json()["store"] is False
    assert "object unreachable" in json.loads(gw.logs[-1])["store_error"]

    async def down(key_id: str, response_id: str) -> str | None:
        raise ConnectionError("object unreachable")

    monkeypatch.setattr(gw.store, "response", down)
    lookup = run(request(gw.app, "GET", "/v1/responses/resp_1", headers={"authorization": f"Bearer {KEY}"}))
    assert lookup.status == 503 and lookup.json()["error"]["code"] == "store_unavailable"
    assert lookup.headers["retry-after"] == "1"


def test_an_answer_that_would_overflow_the_cap_is_returned_unstored(make_gateway: MakeGateway) -> None:
    gw = make_gateway(RESPONSES_MAX_BYTES="16384")
    reply = run(request(gw.app, "POST", "/v1/responses", body={"model": MODEL, "input": "y " * 8100}, headers=gw.auth))
    assert reply.status == 200, reply.body  # the input fits; the answer, which echoes it, does not
    assert reply.json()["store"] is False
    assert json.loads(gw.logs[-1])["store_error"] == "over RESPONSES_MAX_BYTES"
