"""Admission: `x-ratelimit-*` durations in OpenAI's format, and `retry-after` values."""

from __future__ import annotations

import pytest

from gateway._limits.admission import UNKNOWN_WAIT_S, format_duration, retry_after_s


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (0.02, "20ms"),
        (0.0001, "1ms"),
        (1.5, "1.5s"),
        (42.8, "42.8s"),
        (59.9999, "60s"),
        (60, "1m0s"),
        (3723, "1h2m3s"),
    ],
)
def test_reset_durations_are_in_openais_format(seconds: float, shown: str) -> None:
    assert format_duration(seconds) == shown


@pytest.mark.parametrize(("seconds", "expected"), [(None, UNKNOWN_WAIT_S), (0.0, 0.001), (-3.0, 0.001), (42.8, 42.8)])
def test_retry_after_is_never_zero_and_says_something_when_unknown(seconds: float | None, expected: float) -> None:
    assert retry_after_s(seconds) == expected
