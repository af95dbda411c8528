"""Server-sent events: framing a byte stream into whole events, and encoding them."""

from __future__ import annotations

import pytest

from gateway._asgi.sse import DONE, EventFramer, encode_event


def test_the_framer_finds_done_only_as_a_data_line() -> None:
    framer = EventFramer()
    assert framer.feed(b'data: {"text":"say data: [DONE] please"}\n\n')
    assert not framer.done
    framer.feed(b"data: [DONE]\n\n")
    assert framer.done


@pytest.mark.parametrize(
    ("chunks", "sent"),
    [
        ([b"data: a\n\n"], [b"data: a\n\n"]),
        ([b"data: a\n", b"\n"], [b"", b"data: a\n\n"]),  # held until its blank line
        ([b"data: a\n\ndata: b"], [b"data: a\n\n"]),  # the complete one goes, the partial one waits
        ([b"data: a\r\n\r\n"], [b"data: a\r\n\r\n"]),  # CRLF line ends
        ([b"data: a\r\r"], [b"data: a\r\r"]),  # CR line ends
        ([b"event: x\ndata: 1\n\n", b"data: 2\n\n"], [b"event: x\ndata: 1\n\n", b"data: 2\n\n"]),
    ],
)
def test_the_framer_releases_only_whole_events(chunks: list[bytes], sent: list[bytes]) -> None:
    framer = EventFramer()
    assert [framer.feed(chunk) for chunk in chunks] == sent


def test_the_framer_keeps_what_is_pending_after_the_last_event() -> None:
    framer = EventFramer()
    framer.feed(b"data: a\n\ndata: b")
    assert framer.pending == b"data: b"


@pytest.mark.parametrize(
    ("data", "event", "encoded"),
    [
        ({"a": 1}, None, b'data: {"a":1}\n\n'),
        ({"text": "é"}, None, 'data: {"text":"é"}\n\n'.encode()),  # UTF-8, not \u escapes
        ({"type": "x"}, "x", b'event: x\ndata: {"type":"x"}\n\n'),
    ],
)
def test_events_are_encoded_compactly_in_utf8(data: object, event: str | None, encoded: bytes) -> None:
    assert encode_event(data, event) == encoded


def test_done_is_the_data_line_openai_clients_wait_for() -> None:
    assert DONE == b"data: [DONE]\n\n"
