"""How an answer ends: `stop` sequences cut by the gateway, the finish reason, and the reasoning share.

Workers AI's gpt-oss forms take no `stop`, so the gateway cuts the text itself. Streamed text is
held back only as long as it could still be the start of a stop sequence, so text reaches the
client as soon as it is known not to be cut.
"""

from __future__ import annotations

from .backend import Usage

__all__ = ["FinishState", "StopCutter", "cut_at_stop", "first_stop", "reasoning_tokens"]


def first_stop(text: str, stops: tuple[str, ...]) -> tuple[int, str] | None:
    """Where the first stop sequence in `text` starts, and which one it is (the earliest wins)."""
    found = [(text.find(stop), stop) for stop in stops if stop and stop in text]
    return min(found, key=lambda item: item[0]) if found else None


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """The text before the first stop sequence, and whether one was found."""
    found = first_stop(text, stops)
    return (text, False) if found is None else (text[: found[0]], True)


class StopCutter:
    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(stop for stop in stops if stop)
        self.stopped = False
        self.matched: str | None = None  # the stop sequence that ended the text (Anthropic reports it)
        self._held = ""

    def feed(self, text: str) -> str:
        """What can be sent now. After a stop sequence, nothing more is ever sent."""
        if self.stopped or not self.stops:
            return "" if self.stopped else text
        pending = self._held + text
        found = first_stop(pending, self.stops)
        if found is not None:
            self.stopped, self.matched, self._held = True, found[1], ""
            return pending[: found[0]]
        keep = self._longest_partial(pending)
        self._held = pending[len(pending) - keep :] if keep else ""
        return pending[: len(pending) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _longest_partial(self, text: str) -> int:
        """Length of the longest suffix of `text` that begins some stop sequence."""
        best = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(text)), 0, -1):
                if stop.startswith(text[-size:]):
                    best = max(best, size)
                    break
        return best


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
        found = first_stop(text, self.cutter.stops)
        if found is None:
            return text
        self.cutter.stopped, self.cutter.matched = True, found[1]
        return text[: found[0]]

    def reason(self, upstream: str | None, has_tool_calls: bool, usage: Usage) -> str:
        if has_tool_calls:
            return "tool_calls"
        if self.cutter.stopped:
            return "stop"
        if upstream == "length":
            return "length"
        if upstream is None and (usage.output_tokens or 0) >= self.max_tokens:
            return "length"  # the upstream did not say; a full token budget means it was cut
        return "stop"


def reasoning_tokens(usage: Usage, reasoning: str, visible: str) -> int:
    """The upstream's count when it gives one; otherwise output tokens split by text length."""
    if usage.reasoning_tokens is not None:
        return usage.reasoning_tokens
    total = len(reasoning) + len(visible)
    return round((usage.output_tokens or 0) * len(reasoning) / total) if total else 0
