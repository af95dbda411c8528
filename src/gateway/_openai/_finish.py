"""Why an answer ended (`stop`, `length`, `tool_calls`), and how much of it was reasoning."""

from __future__ import annotations

from typing import Any

from ._output import usage_numbers
from ._stop import StopCutter, cut_at_stop

__all__ = ["FinishState", "reasoning_tokens"]


class FinishState:
    """Applies `stop` sequences to the visible text and decides the finish reason."""

    def __init__(self, stops: tuple[str, ...], max_tokens: int) -> None:
        self.cutter = StopCutter(stops)
        self.max_tokens = max_tokens

    def feed(self, text: str) -> str:
        return self.cutter.feed(text)

    def flush(self) -> str:
        return self.cutter.flush()

    def cut(self, text: str) -> str:
        cut, found = cut_at_stop(text, self.cutter.stops)
        self.cutter.stopped = self.cutter.stopped or found
        return cut

    def reason(self, upstream: str | None, has_tool_calls: bool, usage: dict[str, Any] | None) -> str:
        if has_tool_calls:
            return "tool_calls"
        if self.cutter.stopped:
            return "stop"
        if upstream == "length":
            return "length"
        if upstream is None and usage_numbers(usage)[1] >= self.max_tokens:
            return "length"  # the upstream did not say; a full token budget means it was cut
        return "stop"


def reasoning_tokens(usage: dict[str, Any] | None, output_tokens: int, reasoning: str, visible: str) -> int:
    """The upstream's count when it gives one; otherwise output tokens split by text length."""
    for details in ("completion_tokens_details", "output_tokens_details"):
        counted = ((usage or {}).get(details) or {}).get("reasoning_tokens")
        if isinstance(counted, int):
            return counted
    total = len(reasoning) + len(visible)
    return round(output_tokens * len(reasoning) / total) if total else 0
