"""The virtual clock and the timer wheel of LocalCloud (EventBridge Scheduler, emulated)."""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime

from stepbridge.runtime.messages import WorkMessage


class VirtualClock:
    """UTC time that only moves when told to."""

    def __init__(self, start: datetime) -> None:
        self._now = start if start.tzinfo else start.replace(tzinfo=UTC)

    def now(self) -> datetime:
        """The current virtual time."""
        return self._now

    def set(self, when: datetime) -> None:
        """Move forward to ``when`` (never backwards)."""
        if when > self._now:
            self._now = when


@dataclass(order=True)
class Timer:
    """A pending schedule: one-time (``message``) or a recurring app schedule (``schedule``).

    Fault injection adds two more: ``again`` (a one-time timer's wake-up sent a second time, past
    the queue's de-duplication) and ``delivery`` (a rule delivery handed to the router again later).
    """

    at: datetime
    seq: int
    name: str = field(compare=False)
    message: WorkMessage | None = field(compare=False, default=None)
    schedule: str | None = field(compare=False, default=None)
    again: bool = field(compare=False, default=False)
    delivery: dict[str, object] | None = field(compare=False, default=None)


class TimerWheel:
    """Pending timers ordered by time; cancelled ones are skipped lazily."""

    def __init__(self) -> None:
        self._heap: list[Timer] = []
        self._live: dict[str, int] = {}
        self._seq = itertools.count()

    def add(
        self,
        name: str,
        at: datetime,
        message: WorkMessage | None = None,
        schedule: str | None = None,
        *,
        again: bool = False,
        delivery: dict[str, object] | None = None,
    ) -> None:
        """Add (or replace) the timer called ``name``."""
        seq = next(self._seq)
        self._live[name] = seq
        heapq.heappush(self._heap, Timer(at, seq, name, message, schedule, again, delivery))

    def cancel(self, name: str) -> None:
        """Forget the timer called ``name``."""
        self._live.pop(name, None)

    def exists(self, name: str) -> bool:
        """Whether ``name`` is pending."""
        return name in self._live

    def _clean(self) -> None:
        while self._heap and self._live.get(self._heap[0].name) != self._heap[0].seq:
            heapq.heappop(self._heap)

    def peek(self, *, one_time_only: bool = False) -> Timer | None:
        """The next pending timer (optionally ignoring recurring schedules)."""
        self._clean()
        if not self._heap:
            return None
        first = self._heap[0]  # (live after ``_clean``, and the earliest of all)
        if not one_time_only or first.schedule is None:
            return first
        live = [t for t in self._heap if self._live.get(t.name) == t.seq and t.schedule is None]
        return min(live) if live else None

    def pop_due(self, now: datetime) -> Timer | None:
        """Remove and return the earliest timer due at or before ``now``."""
        self._clean()
        if self._heap and self._heap[0].at <= now:
            timer = heapq.heappop(self._heap)
            self._live.pop(timer.name, None)
            return timer
        return None

    def pending(self) -> list[Timer]:
        """All live timers, earliest first."""
        return sorted(t for t in self._heap if self._live.get(t.name) == t.seq)
