"""The context window: a request that cannot fit is refused before any model call.

gpt-oss reads input and writes output within one window (`CONTEXT_WINDOW`, 128,000 tokens). A
request's output cap plus a lower bound of its input that is certain (never more than the real
count) over the window can never be served, so it gets OpenAI's 400 `context_length_exceeded`
at once instead of a model call that fails. The bound counts only text the chat template puts in
front of the model verbatim (prompt, instructions, message contents, tool-call arguments, tool
descriptions) and divides its UTF-8 size by the tokenizer's longest token (`LONGEST_TOKEN_BYTES`):
however the text is split, no token covers more bytes than that. So the check can miss a request
that is too long (Workers AI then refuses it, with the same error), but never refuses one that fits.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .._catalog import CONTEXT_WINDOW, LONGEST_TOKEN_BYTES, WORKERS_AI_DEFAULT_MAX_TOKENS
from .._errors import ContextLengthExceeded

__all__ = ["check_context_window", "input_tokens_at_least", "output_cap", "room_for_output"]


def _strings(*values: Any) -> Iterator[str]:
    for value in values:
        if isinstance(value, str):
            yield value


def _contents(content: Any) -> Iterator[str]:
    """A message's content: a string, or parts with `text`."""
    if isinstance(content, list):
        yield from _strings(*(part.get("text") for part in content if isinstance(part, dict)))
    else:
        yield from _strings(content)


def _turn(item: Any) -> Iterator[str]:
    """One message or Responses input item: its content, a tool's output, a call's arguments."""
    if not isinstance(item, dict) or item.get("type") == "reasoning":
        return  # earlier reasoning may be left out of the prompt: not certain, so not counted
    yield from _contents(item.get("content"))
    yield from _contents(item.get("output"))
    yield from _strings(item.get("arguments"))
    calls = item.get("tool_calls")
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, dict) else None
        yield from _strings(function.get("arguments") if isinstance(function, dict) else None)


def _tool_descriptions(tools: Any) -> Iterator[str]:
    for tool in tools if isinstance(tools, list) else []:
        spec = tool.get("function", tool) if isinstance(tool, dict) else None
        yield from _strings(spec.get("description") if isinstance(spec, dict) else None)


def _texts(inputs: dict[str, Any]) -> Iterator[str]:
    """The strings the chat template shows the model verbatim, by input form. Fields a form does
    not know (`tools` on the prompt form, say) are not counted: the model may never see them."""
    if "prompt" in inputs:
        yield from _strings(inputs["prompt"])
        return
    turns = inputs.get("messages", inputs.get("input"))
    if isinstance(turns, str):
        yield turns
    for item in turns if isinstance(turns, list) else []:
        yield from _turn(item)
    if "input" in inputs:
        yield from _strings(inputs.get("instructions"))
    if inputs.get("tool_choice") != "none":  # a server may leave tools out of the prompt then
        yield from _tool_descriptions(inputs.get("tools"))


def input_tokens_at_least(inputs: dict[str, Any]) -> int:
    """A certain lower bound of the tokens these inputs take: their verbatim text's bytes / 128."""
    size = sum(len(text.encode("utf-8", "surrogatepass")) for text in _texts(inputs))
    return -(-size // LONGEST_TOKEN_BYTES)


def output_cap(inputs: dict[str, Any]) -> tuple[str, int]:
    """The output limit these inputs ask for, and its field (Workers AI's default when none)."""
    for name in ("max_tokens", "max_output_tokens"):
        value = inputs.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return name, value
    return "max_tokens", WORKERS_AI_DEFAULT_MAX_TOKENS


def room_for_output(inputs: dict[str, Any]) -> int:
    return CONTEXT_WINDOW - input_tokens_at_least(inputs)


def check_context_window(inputs: dict[str, Any], *, path: str = "", cap_name: str | None = None) -> None:
    """Refuse inputs whose output cap and certain input size cannot fit the window together.
    `cap_name` is the field the client set the cap with, when it is not the one sent upstream."""
    if isinstance(inputs.get("requests"), list):
        for index, item in enumerate(inputs["requests"]):
            if isinstance(item, dict):
                check_context_window(item, path=f"requests[{index}].")
        return
    name, cap = output_cap(inputs)
    name = cap_name or name
    at_least = input_tokens_at_least(inputs)
    if cap + at_least <= CONTEXT_WINDOW:
        return
    room = CONTEXT_WINDOW - at_least
    advice = f"Lower `{name}` to at most {room}" if room > 0 else "Shorten the input"
    raise ContextLengthExceeded(
        f"This model's maximum context length is {CONTEXT_WINDOW} tokens. The input is at least {at_least} "
        f"tokens and `{name}` asks for up to {cap} more, {at_least + cap} in all. {advice}.",
        param=f"{path}{name}" if room > 0 else f"{path}messages",
    )
