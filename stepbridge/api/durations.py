"""Durations: the API accepts seconds (int/float) or ``timedelta`` everywhere."""

from __future__ import annotations

from datetime import timedelta

Duration = float | int | timedelta


def to_seconds(value: Duration, *, what: str = "duration") -> float:
    """Return ``value`` in seconds; raise ``ValueError`` naming ``what`` when it is negative or not a duration."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be seconds (int/float) or a timedelta, got {type(value).__name__}")
    else:
        seconds = float(value)
    if seconds < 0:
        raise ValueError(f"{what} must not be negative, got {seconds} s")
    return seconds


def optional_seconds(value: Duration | None, *, what: str = "duration") -> float | None:
    """Like :func:`to_seconds` but passes ``None`` through."""
    return None if value is None else to_seconds(value, what=what)
