"""The sweeper: find executions whose wake-up was lost and wake them.

Timers and step reports wake executions through the work queue; if such a wake-up is lost
(a Scheduler delivery that failed, a step Lambda that died before its deadline timer was
armed, a message dead-lettered), the execution would wait forever. A scheduled function runs
the sweeper every few minutes: for each RUNNING or SCHEDULED execution it looks for a due
instant that has passed by more than ``grace`` (a sleep, a wait deadline, a step deadline, a
retry) and wakes the execution. Waking is always safe: a replay that finds nothing due just
suspends again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stepbridge.runtime.ports import Effects, Store
from stepbridge.runtime.records import RUNNING, SCHEDULED, JournalRecord, WakeMessage, iso, parse_iso

_FINAL = {"result", "error", "timeout"}


def overdue_since(journal: list[JournalRecord], now: datetime, grace: timedelta) -> datetime | None:
    """The earliest due instant of a still-pending operation that passed before ``now - grace``."""
    by_op: dict[str, dict[str, JournalRecord]] = {}
    for rec in journal:
        by_op.setdefault(rec.op, {})[rec.key] = rec
    limit = now - grace
    earliest: datetime | None = None
    for op, records in by_op.items():
        final = records.get(op)
        if final is not None and final.kind in _FINAL:
            continue
        for rec in records.values():
            due_text = rec.data.get("wake_at") or rec.data.get("deadline") or rec.data.get("retry_at")
            if not due_text:
                continue
            due = parse_iso(str(due_text))
            if rec.type == "step" and rec.kind == "attempt" and f"{op}#r{rec.data.get('attempt')}" in records:
                continue  # the retry record carries the instant that matters
            if due <= limit and (earliest is None or due < earliest):
                earliest = due
    return earliest


@dataclass
class Sweeper:
    """Wakes stuck executions; ``woken`` lists the ids it woke in the last sweep."""

    store: Store
    effects: Effects
    grace: timedelta = timedelta(minutes=2)
    woken: list[str] = field(default_factory=list)

    def sweep(self, limit: int = 1000) -> list[str]:
        """One pass over RUNNING and SCHEDULED executions; returns the ids woken."""
        now = self.effects.now()
        self.woken = []
        for rec in self.store.list_executions(status=SCHEDULED, limit=limit):
            if rec.scheduled_for and parse_iso(rec.scheduled_for) <= now - self.grace:
                self._wake(rec.execution_id, now)
        for rec in self.store.list_executions(status=RUNNING, limit=limit):
            if rec.cancel_requested or overdue_since(self.store.load_journal(rec.execution_id), now, self.grace):
                self._wake(rec.execution_id, now)
        return self.woken

    def _wake(self, execution_id: str, now: datetime) -> None:
        minute = iso(now)[:16]
        self.effects.wake(WakeMessage(execution_id, "sweep", f"sweep:{minute}"))
        self.woken.append(execution_id)
