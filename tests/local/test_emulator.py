"""The emulator: deterministic, Workers AI's shapes, tools and JSON on request."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway._errors import WorkersAIError
from gateway.local.emulator import Emulator, Faults
from tests.client import run
from tests.model_schema import violations

MODEL = "@cf/openai/gpt-oss-120b"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}


def answer(inputs: dict[str, Any], options: dict[str, Any] | None = None) -> Any:
    return run(Emulator(token_delay_ms=0).run(MODEL, inputs, options or {}))


def strip_clock(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if k not in ("created", "created_at")}


def test_the_same_input_gives_the_same_output() -> None:
    body = {"messages": [{"role": "user", "content": "Same question"}]}
    assert strip_clock(answer(body)) == strip_clock(answer(body))
    assert answer({"prompt": "x"}) == answer({"prompt": "x"})


def test_messages_form_answers_a_chat_completion_with_reasoning_then_answer() -> None:
    result = answer({"messages": [{"role": "user", "content": "Hello there"}]})
    message = result["choices"][0]["message"]
    assert result["object"] == "chat.completion"
    assert message["reasoning_content"] and "Hello there" in message["content"]
    assert "not gpt-oss" in message["content"]  # it never pretends to be the model
    usage = result["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_responses_form_answers_reasoning_and_message_items() -> None:
    result = answer({"input": "Hi", "instructions": "be brief"})
    assert [item["type"] for item in result["output"]] == ["reasoning", "message"]
    assert result["output"][1]["content"][0]["type"] == "output_text"
    assert set(result["usage"]) == {"input_tokens", "output_tokens", "total_tokens"}


def test_prompt_form_answers_response_usage_and_tool_calls() -> None:
    assert set(answer({"prompt": "Hi"})) == {"response", "usage", "tool_calls"}


def test_a_tool_is_called_when_offered_and_asked_for() -> None:
    result = answer(
        {"messages": [{"role": "user", "content": "What is the get_weather in Paris?"}], "tools": [WEATHER]}
    )
    choice = result["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    call = choice["message"]["tool_calls"][0]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}


def test_a_forced_tool_is_called_and_a_tool_result_is_answered() -> None:
    forced = answer({"messages": [{"role": "user", "content": "hi"}], "tools": [WEATHER], "tool_choice": "required"})
    assert forced["choices"][0]["message"]["tool_calls"]
    after = answer(
        {
            "messages": [
                {"role": "user", "content": "weather?"},
                {"role": "assistant", "content": "", "tool_calls": forced["choices"][0]["message"]["tool_calls"]},
                {"role": "tool", "tool_call_id": "x", "content": "sunny, 21C"},
            ],
            "tools": [WEATHER],
        }
    )
    assert "sunny, 21C" in after["choices"][0]["message"]["content"]


def test_json_is_valid_and_follows_the_schema_when_asked() -> None:
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "age", "tags"],
    }
    result = answer(
        {
            "messages": [{"role": "user", "content": "Describe Ada"}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": schema}},
        }
    )
    value = json.loads(result["choices"][0]["message"]["content"])
    assert value == {"name": "Ada", "age": 1, "tags": ["Ada"]}
    # Workers AI's own JSON Mode shape: `json_schema` is the schema itself.
    native = answer(
        {
            "messages": [{"role": "user", "content": "Describe Ada"}],
            "response_format": {"type": "json_schema", "json_schema": schema},
        }
    )
    assert json.loads(native["choices"][0]["message"]["content"]) == value
    plain = answer({"prompt": "x", "response_format": {"type": "json_object"}})
    assert isinstance(json.loads(plain["response"]), dict)


def test_max_tokens_cuts_the_answer_with_finish_reason_length() -> None:
    result = answer({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 5})
    assert result["choices"][0]["finish_reason"] == "length"
    assert result["usage"]["completion_tokens"] == 5
    assert not result["choices"][0]["message"]["content"]  # all spent on reasoning, as gpt-oss does


def test_faults_parse_from_the_variable() -> None:
    faults = Faults.parse("capacity=2, midstream=5, hang, json_to_stream=false, slow_first_token_ms=20")
    assert (faults.capacity, faults.midstream, faults.hang, faults.json_to_stream, faults.slow_first_token_ms) == (
        2,
        5,
        True,
        False,
        20.0,
    )


def test_a_tool_loop_takes_arguments_from_a_code_span_and_answers_from_the_output() -> None:
    exec_tool = {
        "type": "function",
        "function": {
            "name": "exec_command",
            "description": "run a command",
            "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}},
        },
    }
    ask = {"role": "user", "content": "Use exec_command to run `echo hi there`, please."}
    first = answer({"messages": [ask], "tools": [exec_tool]})
    call = first["choices"][0]["message"]["tool_calls"][0]
    assert json.loads(call["function"]["arguments"]) == {"cmd": "echo hi there"}
    turn = {"role": "assistant", "content": "", "tool_calls": [call], "reasoning": "run it"}
    output = {"role": "tool", "tool_call_id": call["id"], "content": "hi there"}
    second = answer({"messages": [ask, turn, output], "tools": [exec_tool]})
    assert second["choices"][0]["message"]["content"] == "The tool returned: hi there"


def test_prefix_caching_reports_shared_whole_blocks_per_session() -> None:
    emulator = Emulator(token_delay_ms=0)
    long = {"role": "system", "content": "A shared preamble of many words. " * 10}
    session = {"extraHeaders": {"x-session-affinity": "ses_1"}}
    cold = run(emulator.run(MODEL, {"messages": [long, {"role": "user", "content": "one"}]}, session))
    warm = run(emulator.run(MODEL, {"messages": [long, {"role": "user", "content": "two"}]}, session))
    other = run(emulator.run(MODEL, {"messages": [long, {"role": "user", "content": "two"}]}, {}))
    assert "prompt_tokens_details" not in cold["usage"] and "prompt_tokens_details" not in other["usage"]
    cached = warm["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached % 16 == 0 and 0 < cached < warm["usage"]["prompt_tokens"]
    small = run(
        emulator.run("@cf/openai/gpt-oss-20b", {"messages": [long, {"role": "user", "content": "two"}]}, session)
    )
    assert "prompt_tokens_details" not in small["usage"], "another model's instances hold no cache of it"


REFUSED_BY_THE_SCHEMA: list[dict[str, Any]] = [
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": []}]},
    {"messages": [{"role": "user"}]},
    {"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function", "function": {"name": "f"}}]},
    {"prompt": "hi", "messages": [{"role": "user", "content": "hi"}]},
    {"prompt": ""},
    {"prompt": "hi", "temperature": 7},
    {"prompt": "hi", "response_format": {"type": "text"}},
    {"input": "hi", "reasoning": {"effort": "none"}},
    {"requests": [{"prompt": "hi"}]},
]


@pytest.mark.parametrize("inputs", REFUSED_BY_THE_SCHEMA)
def test_the_emulator_refuses_what_the_model_schema_refuses_as_workers_ai_does(inputs: dict[str, Any]) -> None:
    assert violations(inputs)  # the table holds only bodies the page's schema refuses
    options = {"queueRequest": True} if "requests" in inputs else {}
    with pytest.raises(WorkersAIError) as caught:
        answer(inputs, options)
    assert caught.value.workers_ai_code == 5006 and caught.value.status == 400


def test_unknown_fields_of_any_type_reach_the_emulator_and_are_passed_by() -> None:
    result = answer({"prompt": "hi", "tools": 1.5, "text": "x", "reasoning": "high", "max_output_tokens": "9"})
    assert "You said: hi" in result["response"]


def test_the_tool_the_user_names_last_is_called_with_the_quoted_text() -> None:
    read = {
        "type": "function",
        "function": {
            "name": "Read",
            "description": "Read a file",
            "parameters": {
                "type": "object",
                "properties": {"file_path": {"type": "string"}},
                "required": ["file_path"],
            },
        },
    }
    bash = {
        "type": "function",
        "function": {
            "name": "Bash",
            "description": "Run a command",
            "parameters": {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]},
        },
    }
    # Claude Code puts reminders before the user's words; "already" must not be read as "Read".
    text = "<system-reminder>Bash output is already shown.</system-reminder>\nUse the Read tool on `/tmp/notes.txt`."
    result = answer({"messages": [{"role": "user", "content": text}], "tools": [bash, read]})
    (call,) = result["choices"][0]["message"]["tool_calls"]
    assert call["function"]["name"] == "Read" and json.loads(call["function"]["arguments"]) == {
        "file_path": "/tmp/notes.txt"
    }


def test_tool_results_are_answered_even_with_text_after_them() -> None:
    calls = [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]
    result = answer(
        {
            "messages": [
                {"role": "user", "content": "the get_weather in Oslo"},
                {"role": "assistant", "content": "", "tool_calls": calls},
                {"role": "tool", "tool_call_id": "c1", "content": "snow, -3C"},
                {"role": "user", "content": "<system-reminder>mentions get_weather again</system-reminder>"},
            ],
            "tools": [WEATHER],
        }
    )
    message = result["choices"][0]["message"]
    assert not message["tool_calls"] and message["content"] == "The tool returned: snow, -3C"
