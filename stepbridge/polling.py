"""Polling a deployed execution with backoff: what the client and the operator CLI do against AWS.

LocalCloud never polls (it runs its virtual clock instead), so only code talking to a real stack
waits here, in real time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll_until(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    first_delay: float = 0.2,
    max_delay: float = 5.0,
    factor: float = 1.5,
    sleep: Callable[[float], None] | None = None,
    clock: Callable[[], float] | None = None,
) -> tuple[T, bool]:
    """Call ``fetch`` until ``done(value)`` or ``timeout`` seconds passed; returns ``(last value, done)``.

    The wait between calls starts at ``first_delay`` and grows by ``factor`` up to ``max_delay``,
    so a short execution is seen finishing quickly and a long one costs few calls. ``sleep`` and
    ``clock`` default to ``time.sleep`` and ``time.monotonic`` (looked up at call time).
    """
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    deadline = clock() + timeout
    delay = first_delay
    while True:
        value = fetch()
        if done(value):
            return value, True
        if clock() >= deadline:
            return value, False
        sleep(delay)
        delay = min(delay * factor, max_delay)
