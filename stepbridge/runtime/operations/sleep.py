"""A durable sleep (``ctx.sleep``/``ctx.sleep_until``): one ``timer`` record keyed by the op, with its ``wake_at``.

The timer is armed right after the record is written (the record is durable: a write that took
effect but reported a failure must not leave a sleep that no timer stands for). A sleep ends
silently: the replay that passes its instant names it in its next log record's ``passed``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from stepbridge.runtime import keys
from stepbridge.runtime.operations.actions import SUSPEND, Action, Record, Return, SetTimer
from stepbridge.runtime.records import JournalRecord, iso, parse_iso
from stepbridge.runtime.vocabulary import Kind, TimerReason


@dataclass(frozen=True)
class SleepState:
    """``record``: the sleep's record (``None``: not recorded yet) and ``wake_at`` its instant; ``fresh``: this
    replay wrote it just now (its timer is still to be armed)."""

    record: JournalRecord | None = None
    wake_at: datetime | None = None
    fresh: bool = False


#: The state of a sleep with no record yet (one frozen value: the sleep's first replay asks for it several times).
_UNRECORDED = SleepState()


@dataclass(frozen=True)
class Sleep:
    """The decisions of one sleep: ``wake_at`` (the instant the code asked for, used when not recorded yet) and
    ``timer`` (the name of its schedule, stored on the record)."""

    op: str
    wake_at: datetime
    timer: str

    @staticmethod
    def state(op: str, records: Mapping[str, JournalRecord], *, fresh: bool = False) -> SleepState:
        """The state of the sleep ``op`` from its records."""
        rec = records.get(op)
        if rec is None:
            return _UNRECORDED
        wake_at = rec.data.get("wake_at")
        return SleepState(rec, parse_iso(str(wake_at)) if wake_at else None, fresh)

    def decide(self, state: SleepState, now: datetime) -> Action:
        """Record the sleep, arm its timer and wait, or end it (the table: ``tests/unit/test_operation_sleep.py``)."""
        if state.record is None:
            return Record(self.op, Kind.TIMER, {"wake_at": iso(self.wake_at), "timer": self.timer}, durable=True)
        assert state.wake_at is not None
        if now >= state.wake_at:
            return Return(state.record)
        if state.fresh:
            return SetTimer(self.op, state.wake_at, keys.timer_reason(TimerReason.SLEEP, self.op))
        return SUSPEND

    @staticmethod
    def outstanding(state: SleepState, now: datetime) -> bool:
        """Whether the sleep still waits for its timer at ``now`` (what the sweeper asks)."""
        return state.wake_at is not None and state.wake_at > now
