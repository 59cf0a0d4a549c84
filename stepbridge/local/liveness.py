"""The liveness check: every execution has ended with a named cause, or something pending will move it on.

The promise of the engine (issue 13) is that **every execution either progresses or reaches a
terminal status with an error that names the cause** - under any fault. A soak run compares
outcomes with a fault-free run; this check needs no baseline. Run it on an idle LocalCloud (after
``advance`` / ``run_until_idle``), typically once faults have stopped and the sweeper has had its
recovery bound to repair what they broke::

    from stepbridge.local.liveness import liveness_violations

    cloud.faults.enabled = False
    cloud.advance(timedelta(minutes=15))          # the sweeper runs on its schedule meanwhile
    for v in liveness_violations(cloud):
        print(v)                                  # id, status, why, its last journal records

An execution is fine when it is

* SUCCEEDED or CANCELLED, or FAILED or TIMED_OUT with an error that has a type and a message;
* SCHEDULED with its start timer pending;
* RUNNING and legitimately waiting: a one-time timer of its own is pending (a sleep, a step's
  deadline, a retry, a wait's timeout, a timer another fault left behind), a message for it is
  still in the work queue or a step invoke for it in flight, a wait has its waiter registered
  with the router (and, when it has a timeout, its timer), or a child it waits for is itself fine
  and not yet finished; or its timer is gone but a due instant of its journal (a sleep's end, a
  deadline, a retry) is within the sweeper's recovery bound: the sweeper reads those instants from the
  records and wakes an execution whose instant passed more than its grace ago, every
  ``sweeper_every_minutes`` (``runtime/sweeper.py``), so it is not lost yet. Past that bound with no
  timer and no wake-up, it is reported.

Anything else is a violation: nothing scheduled will ever wake it (a lost execution), or it ended
without saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from stepbridge.compiler.model import CompileOptions
from stepbridge.runtime import keys
from stepbridge.runtime.records import JournalRecord, WakeMessage
from stepbridge.runtime.sweeper import Sweeper, pending_instants, unprocessed_since
from stepbridge.runtime.vocabulary import UNFINISHED, OpType, Status

if TYPE_CHECKING:
    from stepbridge.local.cloud import LocalCloud



#: How long after a due instant the sweeper has woken an execution whose wake-up was lost: its grace, then its
#: next run (one page of unfinished executions; the template runs it every ``sweeper_every_minutes``).
SWEEP_BOUND = Sweeper.grace + timedelta(minutes=CompileOptions().sweeper_every_minutes)


@dataclass(frozen=True)
class Violation:
    """An execution that is neither ended with a named cause nor legitimately waiting."""

    execution_id: str
    status: str
    reason: str
    #: The last journal records (by log position, then time), formatted one per line.
    last_records: tuple[str, ...] = ()

    def __str__(self) -> str:
        lines = [f"{self.execution_id} {self.status}: {self.reason}"]
        lines += [f"    {line}" for line in self.last_records]
        return "\n".join(lines)


def liveness_violations(cloud: LocalCloud, *, last: int = 6) -> list[Violation]:
    """Every execution of ``cloud`` that breaks the liveness promise, with its ``last`` journal records."""
    checker = _Checker(cloud, last)
    out = []
    for rec in sorted(cloud.store.list_executions(limit=10_000_000), key=lambda r: r.execution_id):
        reason = checker.problem(rec.execution_id)
        if reason is not None:
            out.append(Violation(rec.execution_id, rec.status, reason, checker.tail(rec.execution_id)))
    return out


class _Checker:
    def __init__(self, cloud: LocalCloud, last: int) -> None:
        self.cloud = cloud
        self.last = last
        self.store = cloud.store
        self.timers: dict[str, set[str]] = {}
        for timer in cloud.timers.pending():
            # a fault's second delivery does not count; a debounce timer belongs to no execution
            if isinstance(timer.message, WakeMessage) and not timer.again:
                self.timers.setdefault(timer.message.execution_id, set()).add(timer.name)
        self.in_flight = {inv.execution_id for inv in cloud._step_queue}
        self.queued = _queued_executions(cloud)
        self.now = cloud.now()
        self._memo: dict[str, str | None] = {}

    def tail(self, execution_id: str) -> tuple[str, ...]:
        journal = sorted(self.store.load_journal(execution_id), key=lambda r: (r.seq or 0, r.at, r.key))
        return tuple(_describe(r) for r in journal[-self.last :])

    def problem(self, execution_id: str) -> str | None:
        """Why ``execution_id`` breaks the promise, or ``None``."""
        if execution_id not in self._memo:
            self._memo[execution_id] = "(cycle)"  # a child waiting on its own ancestor is not waiting
            self._memo[execution_id] = self._problem(execution_id)
        return self._memo[execution_id]

    def _problem(self, execution_id: str) -> str | None:
        rec = self.store.get_execution(execution_id)
        if rec is None:
            return "no such execution"
        if rec.status in (Status.SUCCEEDED, Status.CANCELLED):
            return None
        if rec.status in (Status.FAILED, Status.TIMED_OUT):
            error = rec.error or {}
            if error.get("type") and str(error.get("message", "")).strip():
                return None
            return f"FAILED without an error naming the cause ({error!r})"
        if execution_id in self.queued or execution_id in self.in_flight:
            return None
        if rec.status == Status.SCHEDULED:
            return None if self.timers.get(execution_id) else "SCHEDULED but its start timer is gone"
        if rec.status != Status.RUNNING:
            return f"unknown status {rec.status}"
        if rec.cancel_requested:
            return "a cancel was requested and nothing will wake the execution to carry it out"
        if self.timers.get(execution_id):
            return None
        journal = self.store.load_journal(execution_id)
        waits = self._waiting_on(execution_id, journal)
        if waits:
            return None
        # Its timer is gone, but the sweeper wakes it within its bound after a due instant no replay processed.
        if any(at > self.now for at in pending_instants(rec, journal)):
            return None
        since = unprocessed_since(rec, journal, self.now)
        if since is not None and since + SWEEP_BOUND > self.now:
            return None
        return "RUNNING, and no timer, queued message, step invoke, registered waiter or live child will wake it"

    def _waiting_on(self, execution_id: str, journal: list[JournalRecord]) -> list[str]:
        """The unfinished waits (waiter registered) and children (themselves fine) the execution waits for."""
        by_op: dict[str, dict[str, JournalRecord]] = {}
        for r in journal:
            by_op.setdefault(r.op, {})[r.key] = r
        live: list[str] = []
        for op, records in by_op.items():
            final = records.get(op)
            if final is not None and final.is_final:
                continue
            started = records.get(keys.wait_key(op))
            if started is not None:
                waiter = keys.waiter_pk(str(started.data.get("event_type")))
                item = self.store.get_item(waiter, keys.waiter_sk(execution_id, op))
                if item is not None and not started.data.get("deadline"):
                    live.append(op)  # waits for an event, without a timeout (its timer would count above)
                continue
            child = records.get(keys.dispatch_key(op, 1))
            if child is not None and child.type == OpType.CHILD and child.data.get("child_id"):
                child_id = str(child.data["child_id"])
                child_rec = self.store.get_execution(child_id)
                unfinished = child_rec is not None and child_rec.status in UNFINISHED
                if unfinished and self.problem(child_id) is None:
                    live.append(op)
        return live


def _queued_executions(cloud: LocalCloud) -> set[str]:
    """Executions with a message waiting in the work queue (the memory backend can tell; moto's cannot be peeked)."""
    queue: Any = getattr(cloud.resources, "_queue", None)
    if queue is None:
        return set()
    return {str(m["body"].get("execution_id")) for m in queue}


def _describe(r: JournalRecord) -> str:
    data = {k: v for k, v in r.data.items() if k not in ("result", "input", "args", "event")}
    text = repr(data)
    return f"#{r.seq} {r.key} {r.type}/{r.kind} at {r.at} {text[:160]}"


__all__ = ["Violation", "liveness_violations"]
