"""Deadline timers of declared steps: one shared by the steps an invocation dispatches, not one per step.

A declared step that never reports (crash, Lambda timeout) is caught by a deadline timer (DESIGN.md). One
timer per step costs a CreateSchedule at dispatch and a DeleteSchedule at the report: a 1,000-way gather
made 2,000 Scheduler calls, against a quota of 1,000-5,000 CreateSchedule and 1,000 DeleteSchedule requests
per second per account in the primary Regions and 250 in the others ("CreateSchedule request rate",
"DeleteSchedule request rate", https://docs.aws.amazon.com/scheduler/latest/UserGuide/scheduler-quotas.html),
all the account's executions sharing them. So, per orchestrator invocation (a run or a sticky resume):

* The **first** dispatch keeps its own timer, ``{op}#d{k}``, which its step deletes when it reports (as
  before: a sequential workflow of declared steps makes the same calls as before).
* A later dispatch whose deadline is at or after the invocation's **shared timer** is ``covered``: no timer of
  its own, and its step deletes none (``StepInvocation.disarm``). A later dispatch due before it (no shared
  timer yet, or a shorter timeout) sets one, ``$cover:{op}#d{k}`` at its own deadline, and becomes the
  ``cover``. The dispatch record says which (``data["timer"]``: ``cover`` / ``covered``; absent: its own
  timer, as in every journal written before).
* **When a shared timer fires** the replay times out the overdue steps as always (each dispatch record
  carries its own deadline), then :func:`next_cover` names the earliest deadline still outstanding among
  the shared-timer dispatches and the orchestrator sets a shared timer there. So each deadline is reached
  by a wake-up at or after it: nothing stays RUNNING for want of a timer (and the sweeper, which reads the
  deadlines from the records, still backs it up).
* At the end of the execution the orchestrator deletes the shared timers not yet due
  (:func:`pending_covers`); a leftover one only causes an idle wake-up of an ended execution.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from stepbridge.runtime import keys
from stepbridge.runtime.records import JournalRecord, parse_iso
from stepbridge.runtime.vocabulary import Kind

#: ``data["timer"]`` of a dispatch whose deadline the invocation's shared timer stands for.
COVER = "cover"
#: ``data["timer"]`` of a dispatch with no timer of its own (an earlier shared timer is due before it).
COVERED = "covered"


class CoverPlan:
    """The shared deadline timer of one orchestrator invocation (kept on its ``ReplaySession``)."""

    __slots__ = ("at", "dispatches")

    def __init__(self) -> None:
        #: Instant of the shared timer this invocation set (``None``: none yet).
        self.at: datetime | None = None
        #: Declared steps this invocation dispatched so far.
        self.dispatches = 0

    def place(self, deadline: datetime) -> str | None:
        """How the next dispatch, due at ``deadline``, is timed: ``None`` (its own timer), ``COVER`` (it sets the
        shared timer at its deadline) or ``COVERED`` (the shared timer is due before it)."""
        self.dispatches += 1
        if self.dispatches == 1:
            return None
        if self.at is not None and deadline >= self.at:
            return COVERED
        self.at = deadline
        return COVER


def _outstanding(journal: Mapping[str, JournalRecord], rec: JournalRecord) -> bool:
    """Whether the dispatch ``rec`` is its step's latest attempt with no outcome in ``journal``."""
    final = journal.get(rec.op)
    if final is not None and final.is_final:
        return False
    attempt = int(rec.data.get("attempt") or 0)
    return keys.attempt_key(rec.op, attempt) not in journal and keys.dispatch_key(rec.op, attempt + 1) not in journal


def next_cover(journal: Mapping[str, JournalRecord], now: datetime) -> tuple[JournalRecord, datetime] | None:
    """The outstanding shared-timer dispatch due soonest after ``now``, and its deadline (``None``: none)."""
    best: tuple[JournalRecord, datetime] | None = None
    for rec in journal.values():
        if rec.kind != Kind.DISPATCH or rec.data.get("timer") not in (COVER, COVERED):
            continue
        if not _outstanding(journal, rec):
            continue
        due = parse_iso(str(rec.data["deadline"]))
        if due > now and (best is None or due < best[1]):
            best = (rec, due)
    return best


def pending_covers(journal: Iterable[JournalRecord], now: datetime) -> list[str]:
    """Timer keys of the shared timers the dispatches in ``journal`` set that are not due yet."""
    return [
        keys.cover_timer_key(rec.key)
        for rec in journal
        if rec.kind == Kind.DISPATCH
        and rec.data.get("timer") == COVER
        and parse_iso(str(rec.data["deadline"])) > now
    ]


def own_timer(rec: JournalRecord) -> bool:
    """Whether the dispatch ``rec`` has a deadline timer of its own (``{op}#d{k}``)."""
    return rec.data.get("timer") not in (COVER, COVERED)


__all__ = ["COVER", "COVERED", "CoverPlan", "next_cover", "own_timer", "pending_covers"]
