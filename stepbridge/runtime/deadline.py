"""Execution deadlines: ``@app.workflow("export", timeout=timedelta(days=30))``.

Like Temporal's Workflow Execution Timeout and Lambda durable functions' ``ExecutionTimeout``: the
whole execution (every step, wait, retry and child, and later generations of ``continue_as_new``)
must end by a deadline, or it ends with status TIMED_OUT.

* **Computed once.** The first time the orchestrator handles a RUNNING execution of a workflow with
  ``timeout=`` it writes ``deadline = started_at + timeout`` on the header (conditionally: a header
  that has one keeps it, so a redeploy with another ``timeout=`` does not move the deadline of an
  execution already running) and sets a one-time timer, ``keys.deadline_timer_name``, at that instant.
  A deferred start (``at=``/``delay=``) counts from when it begins, not from when it was asked for. A
  ``continue_as_new`` generation inherits its predecessor's deadline (as Temporal's execution timeout).
* **Enforced on any wake-up.** Whatever wakes the execution at or after the deadline (its timer, a step
  report, the sweeper) marks the header ``timed_out`` - and ``cancel_requested`` with
  ``cancel_compensate``, so it unwinds exactly as ``client.cancel(id, compensate=True)``: the waiting
  operation raises :class:`~stepbridge.errors.ExecutionTimedOut` (an ``ExecutionCancelled``), ``ctx.saga()``
  blocks run their compensations, no new operation starts outside a compensation, children are
  cancelled (with compensation), and timers, waiters, open callbacks and open human tasks are removed.
  The execution then ends TIMED_OUT with the error :func:`error`; a parent awaiting it gets
  ``ChildFailed`` with ``status == "TIMED_OUT"`` and ``original`` an ``ExecutionTimedOut``.
* **Deterministic unwinding.** The header keeps the instant the deadline was handled (``timed_out_at``,
  the *cut*). Outside compensations the unwinding replays see the journal and the clock as they were at
  the cut (``JournalView.cut``; events received after it are not looked back at): a report, an event or a
  sleep's end arriving while a declared compensation is in flight cannot move the workflow past where it
  stopped, which would register compensations in another order and fail the replay. A
  ``cancel(id, compensate=True)`` gets the same cut (``cancelled_at``, ``executions.cut_cancel``).
* **Never lost.** A timer delivered early is set again; a lost one is the sweeper's: an unfinished
  execution whose deadline passed with no replay after it is stale (``sweeper.due_instants``). An
  execution that ends first deletes the timer (``Orchestrator._cleanup``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from stepbridge.runtime import keys
from stepbridge.runtime.executions import update_execution
from stepbridge.runtime.records import ExecutionRecord, WakeMessage, iso, parse_iso
from stepbridge.runtime.vocabulary import Status, TimerReason

if TYPE_CHECKING:
    from stepbridge.api.app import App
    from stepbridge.runtime.ports import Effects, Store

#: The wake-up reason of the deadline timer.
REASON = keys.timer_reason(TimerReason.EXECUTION_DEADLINE, keys.DEADLINE_KEY)
ERROR_TYPE = "stepbridge.errors.ExecutionTimedOut"
ERROR_MRO = [ERROR_TYPE, "stepbridge.errors.ExecutionCancelled", "stepbridge.errors.StepbridgeError",
             "builtins.Exception"]


def timeout_of(app: App, workflow: str) -> float | None:
    """The ``timeout=`` of ``workflow`` in seconds (``None``: none, or not a workflow of ``app``)."""
    wf = app.workflows.get(workflow)
    return None if wf is None else wf.timeout


def arm(app: App, store: Store, effects: Effects, rec: ExecutionRecord) -> ExecutionRecord:
    """Give a RUNNING execution of a timed workflow its deadline (once) and set its timer; returns the header."""
    seconds = timeout_of(app, rec.workflow)
    if seconds is None or rec.deadline is not None or rec.status != Status.RUNNING:
        return rec
    at = iso(parse_iso(rec.started_at or rec.created_at) + timedelta(seconds=seconds))

    def stamp(r: ExecutionRecord) -> bool:
        if r.deadline is not None or r.terminal:
            return False
        r.deadline = at
        return True

    updated = update_execution(store, rec.execution_id, stamp, current=rec)
    if updated is None:
        return rec
    if updated.deadline is not None and not updated.terminal:
        set_timer(effects, updated)
    return updated


def set_timer(effects: Effects, rec: ExecutionRecord, *, rearmed: str | None = None) -> None:
    """(Re)set the one-time timer at ``rec``'s deadline; ``rearmed`` marks a copy set after an early delivery
    (its message differs, so the work queue's content-based de-duplication does not drop it)."""
    assert rec.deadline is not None
    effects.schedule_timer(
        keys.deadline_timer_name(rec.execution_id),
        parse_iso(rec.deadline),
        WakeMessage(rec.execution_id, REASON, keys.timer_dedup(keys.DEADLINE_KEY),
                    {"rearmed": rearmed} if rearmed else None),
    )


def passed(rec: ExecutionRecord, now: datetime) -> bool:
    """Whether ``rec`` is past its deadline and not yet unwinding for it (nor being cancelled, nor ended)."""
    return (
        rec.deadline is not None
        and not rec.timed_out
        and not rec.cancel_requested
        and not rec.terminal
        and now >= parse_iso(rec.deadline)
    )


def expire(store: Store, rec: ExecutionRecord, now: datetime) -> ExecutionRecord:
    """Mark the header timed out at ``now`` (the cut): the next replay unwinds it (compensations) and it ends
    TIMED_OUT. Outside compensations its replays see the journal and the clock as they were at the cut."""

    def mark(r: ExecutionRecord) -> bool:
        if r.terminal or r.timed_out or r.cancel_requested:
            return False
        r.timed_out = r.cancel_requested = r.cancel_compensate = True
        r.timed_out_at = iso(now)
        return True

    return update_execution(store, rec.execution_id, mark, current=rec) or rec


def error(rec: ExecutionRecord) -> dict[str, object]:
    """The error a timed-out execution records: names the workflow, the execution and the deadline."""
    return {
        "type": ERROR_TYPE,
        "message": f"workflow '{rec.workflow}' (execution '{rec.execution_id}') passed its deadline "
        f"{rec.deadline} (its timeout= counted from {rec.started_at or rec.created_at})",
        "mro": ERROR_MRO,
    }


def delivered_early(message: WakeMessage, rec: ExecutionRecord, now: datetime) -> bool:
    """Whether ``message`` is the deadline timer arriving before the deadline (Scheduler deleted it: set it again)."""
    return message.reason == REASON and rec.deadline is not None and now < parse_iso(rec.deadline)


__all__ = ["REASON", "arm", "delivered_early", "error", "expire", "passed", "set_timer", "timeout_of"]
