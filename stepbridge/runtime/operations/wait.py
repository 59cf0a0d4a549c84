"""A wait for an event (``ctx.wait_for``): ``{op}#w`` registers it (with its ``deadline``), ``{op}`` ends it.

The end is a ``result`` (the matching event, bound for good: each event satisfies one wait) or a
``timeout``. Registering puts a waiter item the router matches new events against, before the
record (see ``waits.py``); the body then looks back at the event log (events that arrived first).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from stepbridge.errors import WaitTimeout
from stepbridge.runtime import keys
from stepbridge.runtime.operations.actions import SUSPEND, Action, Raise, Record, Return, SetTimer
from stepbridge.runtime.records import JournalRecord, iso, parse_iso
from stepbridge.runtime.vocabulary import Kind, TimerReason


@dataclass(frozen=True)
class WaitState:
    """``started``: the wait's ``{op}#w`` record (``None``: not registered yet); ``final``: its result or
    timeout; ``looked``: this replay looked back at the event log and found no match."""

    started: JournalRecord | None = None
    final: JournalRecord | None = None
    looked: bool = False

    @property
    def deadline(self) -> datetime | None:
        """When the wait times out (``None``: never, or not registered)."""
        text = self.started.data.get("deadline") if self.started is not None else None
        return parse_iso(str(text)) if text else None


@dataclass(frozen=True)
class Listen:
    """Register the waiter item, then carry out ``record`` (the ``{op}#w`` record and its timeout's timer)."""

    record: Record


@dataclass(frozen=True)
class LookBack:
    """Look back at the events logged since the execution started for one that satisfies the wait."""


@dataclass(frozen=True)
class WaitFor:
    """The decisions of one wait: its ``event_type``, ``match``, ``timeout`` (seconds), producer restrictions
    ``who``, whether the code gave a ``default``, and ``timer`` (the name of its timeout's schedule)."""

    op: str
    event_type: str
    match: Mapping[str, object] | None
    timeout: float | None
    who: Mapping[str, list[str]]
    has_default: bool
    timer: str
    #: The timeout's instant when the caller computed it (business time); else registration + ``timeout``.
    until: datetime | None = None

    @staticmethod
    def state(op: str, records: Mapping[str, JournalRecord], *, looked: bool = False) -> WaitState:
        """The state of the wait ``op`` from its records."""
        return WaitState(records.get(keys.wait_key(op)), records.get(op), looked)

    def decide(self, state: WaitState, now: datetime) -> Action | Listen | LookBack:
        """What to do next (the table: ``tests/unit/test_operation_wait.py``)."""
        if state.final is not None:
            if state.final.kind == Kind.RESULT or self.has_default:
                return Return(state.final)
            waited = state.final.data.get("timeout", self.timeout)
            return Raise(WaitTimeout(f"wait '{self.op}' for event '{self.event_type}' timed out after {waited} s"))
        if state.started is None:
            return Listen(self.register(now))
        if not state.looked:
            return LookBack()
        deadline = state.deadline
        if deadline is not None and now >= deadline:
            # ``default``: the wait returns its default rather than raising WaitTimeout (for timelines).
            data = {"timeout": state.started.data.get("timeout"), **({"default": True} if self.has_default else {})}
            return Record(self.op, Kind.TIMEOUT, data, then=Return())
        return SUSPEND

    def deadline_from(self, now: datetime) -> datetime | None:
        """The deadline of a wait registered at ``now``."""
        if self.until is not None:
            return self.until
        return now + timedelta(seconds=self.timeout) if self.timeout is not None else None

    def register(self, now: datetime) -> Record:
        """The ``{op}#w`` record of a wait registered at ``now``, followed by its timeout's timer."""
        deadline_at = self.deadline_from(now)
        deadline = iso(deadline_at) if deadline_at is not None else None
        data: dict[str, object] = {
            "event_type": self.event_type,
            "match": dict(self.match or {}),
            "deadline": deadline,
            "timeout": self.timeout,
            "timer": self.timer if deadline else None,
            **self.who,
        }
        key = keys.wait_key(self.op)
        reason = keys.timer_reason(TimerReason.WAIT_TIMEOUT, self.op)
        timer = SetTimer(key, deadline_at, reason, then=None) if deadline_at else None
        # (durable: its timeout's timer is set after the write, as a sleep's)
        return Record(key, Kind.WAIT, data, durable=True, then=timer)

    @staticmethod
    def outstanding(state: WaitState) -> bool:
        """Whether the wait still waits for an event or its timeout (what the sweeper asks)."""
        return state.final is None or not state.final.is_final
