"""Stop sequences cut by the gateway, and the finish reason: tables of (input, expected)."""

from __future__ import annotations

import pytest

from gateway._upstream.backend import Usage
from gateway._upstream.finish import FinishState, StopCutter, cut_at_stop, reasoning_tokens


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("Hello END world", ("END",), ("Hello ", True)),
        ("Hello world", ("END",), ("Hello world", False)),
        ("a, b. c", (".", ","), ("a", True)),  # the earliest stop wins, whatever its order
        ("no stops", (), ("no stops", False)),
        ("ENDING", ("END",), ("", True)),
        ("x", ("",), ("x", False)),  # an empty stop sequence cuts nothing
    ],
)
def test_cut_at_stop(text: str, stops: tuple[str, ...], expected: tuple[str, bool]) -> None:
    assert cut_at_stop(text, stops) == expected


@pytest.mark.parametrize(
    ("stops", "chunks", "sent", "flushed", "stopped"),
    [
        # Text that could begin a stop sequence is held, and released when it turns out not to.
        (("END",), ["Hello E", "xtra"], ["Hello ", "Extra"], "", False),
        (("END",), ["Hello E", "N", "D and more", "after"], ["Hello ", "", "", ""], "", True),
        (("END",), ["Hello EN"], ["Hello "], "EN", False),  # the end of the answer releases it
        (("\n\n",), ["a\n", "b\n", "\nc"], ["a", "\nb", ""], "", True),
        (("<|end|>", "STOP"), ["x<|e", "nd|>y"], ["x", ""], "", True),
        ((), ["abc", "def"], ["abc", "def"], "", False),
    ],
)
def test_streamed_text_is_held_only_while_it_may_be_a_stop(
    stops: tuple[str, ...], chunks: list[str], sent: list[str], flushed: str, stopped: bool
) -> None:
    cutter = StopCutter(stops)
    assert [cutter.feed(chunk) for chunk in chunks] == sent
    assert cutter.flush() == flushed
    assert cutter.stopped is stopped


@pytest.mark.parametrize(
    ("stops", "chunks", "matched"),
    [
        (("STOP", "END"), ["one END two STOP"], "END"),  # the earliest in the text, whatever its order
        (("STOP", "END"), ["one ST", "OP"], "STOP"),  # across chunks
        (("END",), ["no stop here"], None),
    ],
)
def test_the_stop_sequence_that_cut_is_known(stops: tuple[str, ...], chunks: list[str], matched: str | None) -> None:
    cutter = StopCutter(stops)
    for chunk in chunks:
        cutter.feed(chunk)
    assert cutter.matched == matched
    whole = FinishState(stops, max_tokens=100)
    whole.cut("".join(chunks))
    assert whole.cutter.matched == matched


@pytest.mark.parametrize(
    ("upstream", "calls", "output_tokens", "cut", "expected"),
    [
        ("stop", False, 10, False, "stop"),
        ("length", False, 100, False, "length"),
        (None, False, 100, False, "length"),  # no reason given, but the whole budget was used
        (None, False, 99, False, "stop"),
        ("length", True, 100, False, "tool_calls"),  # a call wins over everything
        ("length", False, 100, True, "stop"),  # the gateway's cut is a stop
    ],
)
def test_the_finish_reason(upstream: str | None, calls: bool, output_tokens: int, cut: bool, expected: str) -> None:
    finish = FinishState(("STOP",), max_tokens=100)
    if cut:
        finish.cut("text STOP more")
    assert finish.reason(upstream, calls, Usage(output_tokens=output_tokens)) == expected


@pytest.mark.parametrize(
    ("usage", "reasoning", "visible", "expected"),
    [
        (Usage(output_tokens=100, reasoning_tokens=70), "r", "v", 70),  # the upstream's count
        (Usage(output_tokens=100), "r" * 3, "v", 75),  # else split by text length
        (Usage(output_tokens=100), "", "", 0),
        (Usage(), "r", "v", 0),
    ],
)
def test_reasoning_tokens(usage: Usage, reasoning: str, visible: str, expected: int) -> None:
    assert reasoning_tokens(usage, reasoning, visible) == expected
