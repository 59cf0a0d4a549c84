"""What the journal says about an operation's lifecycle: pure functions over journal records.

The engine (``steps.py``, ``waits.py``), the orchestrator (re-arming an early timer) and the
sweeper all need to read the same facts from the same records: which instant a timer stands
for, and where a declared step stands (dispatched, failed, waiting to retry, finished). They
read them here, so that they cannot disagree about a state (they once did: the sweeper's own
reading of a declared step's records missed states the engine knew).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from stepbridge.runtime import keys
from stepbridge.runtime.keys import TIMER_DEDUP_PREFIX as TIMER_DEDUP_PREFIX
from stepbridge.runtime.keys import at_most_once_marker as at_most_once_marker
from stepbridge.runtime.keys import started_marker as started_marker
from stepbridge.runtime.records import JournalRecord, parse_iso
from stepbridge.runtime.vocabulary import FINAL_KINDS as FINAL_KINDS


def timer_due(journal: Mapping[str, JournalRecord], key: str) -> datetime | None:
    """The instant the execution's timer ``key`` stands for, read from the record that set it
    (``None`` when there is none, or the operation has ended).

    Timer keys are the keys of the records that set them (a sleep's ``{op}``, a declared step's
    deadline ``{op}#d{k}``, an inline retry ``{op}#a{k}``, a declared retry ``{op}#r{k}``, the wait for an
    interrupted inline attempt's invocation to be surely over ``{op}#s{k}``) except
    a wait's timeout, ``{op}#w``, whose instant is the wait record's ``deadline``.
    """
    rec = journal.get(key)
    waited = keys.waited_op(key)
    if rec is None and waited is not None:
        rec = journal.get(waited)
    if rec is None:
        return None
    final = journal.get(rec.op)
    if final is not None and final.is_final:
        return None  # the operation is over: its timer stands for nothing any more
    due = rec.data.get("wake_at") or rec.data.get("deadline") or rec.data.get("retry_at") or rec.data.get("alive_until")
    return parse_iso(str(due)) if due else None


def is_progress(rec: JournalRecord) -> bool:
    """A record an orchestrator wrote after handling something (not a report of another writer, and
    not the announcement of a claim it may never have made)."""
    return bool(rec.seq) and not rec.is_announcement


def handled_at(journal: list[JournalRecord]) -> dict[str, datetime]:
    """For each operation, the latest instant a replay recorded having handled it.

    That is the latest ``at`` of an orchestrator record of the operation, or of one that names it in
    ``passed`` (a sleep's end rides on the next record the replay writes). A due instant of the
    operation at or before this was handled by a replay; one after it was not (whatever else the
    replay wrote: a replay that died half-way handled only what it wrote about).
    """
    latest: dict[str, datetime] = {}
    for rec in journal:
        if not is_progress(rec) or not rec.at:
            continue
        at = parse_iso(rec.at)
        for op in (rec.op, *rec.passed):
            if op not in latest or at > latest[op]:
                latest[op] = at
    return latest


# ---- declared steps --------------------------------------------------------------------------

class Phase(StrEnum):
    """Where a step stands (see :func:`declared_state` and :func:`inline_state`); never stored."""

    NOT_DISPATCHED = "not_dispatched"
    RUNNING = "running"
    FAILED = "failed"
    RETRY_WAIT = "retry_wait"
    FINISHED = "finished"
    NOT_STARTED = "not_started"
    INTERRUPTED = "interrupted"


#: Phases of a declared step (see :func:`declared_state`).
NOT_DISPATCHED = Phase.NOT_DISPATCHED
RUNNING = Phase.RUNNING
FAILED = Phase.FAILED
RETRY_WAIT = Phase.RETRY_WAIT
FINISHED = Phase.FINISHED


@dataclass(frozen=True)
class DeclaredState:
    """Where a declared step stands according to its records.

    ``attempt`` is the latest dispatch (0 before the first); ``dispatch``, ``failure`` and
    ``retry`` are that attempt's ``{op}#d{k}``, ``{op}#a{k}`` and ``{op}#r{k}`` records.

    * ``not_dispatched``: nothing recorded yet;
    * ``running``: dispatched, no outcome of this attempt yet (its deadline is ``dispatch``'s);
    * ``failed``: the attempt is recorded as failed and nothing was decided after it (no retry
      timer, no final error) - only a replay can go on, nothing outstanding will wake it;
    * ``retry_wait``: a retry of the attempt is scheduled (``retry.data["retry_at"]``);
    * ``finished``: the step's final record exists (``final``).
    """

    phase: Phase
    attempt: int = 0
    dispatch: JournalRecord | None = None
    failure: JournalRecord | None = None
    retry: JournalRecord | None = None
    final: JournalRecord | None = None


def declared_state(op: str, records: Mapping[str, JournalRecord]) -> DeclaredState:
    """The state of the declared step ``op`` from its records (keyed by record key)."""
    final = records.get(op)
    k = 0
    while keys.dispatch_key(op, k + 1) in records:
        k += 1
    if final is not None and final.is_final:
        return DeclaredState(FINISHED, k, final=final)
    if k == 0:
        return DeclaredState(NOT_DISPATCHED)
    dispatch = records[keys.dispatch_key(op, k)]
    failure = records.get(keys.attempt_key(op, k))
    if failure is None:
        return DeclaredState(RUNNING, k, dispatch)
    retry = records.get(keys.retry_key(op, k))
    return DeclaredState(RETRY_WAIT if retry is not None else FAILED, k, dispatch, failure, retry)


def is_declared(records: Mapping[str, JournalRecord], op: str) -> bool:
    """Whether ``op``'s records are a declared step's (it has a dispatch record)."""
    return keys.dispatch_key(op, 1) in records


# ---- inline steps ----------------------------------------------------------------------------

#: Phases of an inline step (see :func:`inline_state`); ``finished`` is shared with declared steps.
NOT_STARTED = Phase.NOT_STARTED
INTERRUPTED = Phase.INTERRUPTED


@dataclass(frozen=True)
class InlineState:
    """Where an inline step stands according to its records.

    ``attempt`` is the attempt to run next (failed attempts + 1), ``failure`` the latest failed
    attempt's ``{op}#a{k}`` record (with its ``retry_at``), ``started`` the marker of attempt
    ``attempt`` if one was journaled.

    * ``not_started``: nothing recorded (or only what a cache hit or earlier phases left);
    * ``retry_wait``: attempt ``attempt - 1`` failed; the next one runs at ``failure.data["retry_at"]``;
    * ``interrupted``: attempt ``attempt`` was started (its marker is journaled) and no outcome of it
      was - the invocation running it died (its container was killed, ran out of memory or time);
    * ``finished``: the step's final record exists (``final``).
    """

    phase: Phase
    attempt: int = 1
    failure: JournalRecord | None = None
    started: JournalRecord | None = None
    final: JournalRecord | None = None


def inline_state(op: str, records: Mapping[str, JournalRecord]) -> InlineState:
    """The state of the inline step ``op`` from its records (keyed by record key)."""
    final = records.get(op)
    if final is not None and final.is_final:
        return InlineState(FINISHED, final=final)
    failed = 0
    while keys.attempt_key(op, failed + 1) in records:
        failed += 1
    attempt = failed + 1
    failure = records.get(keys.attempt_key(op, failed)) if failed else None
    started = records.get(started_marker(op, attempt)) or records.get(at_most_once_marker(op))
    if started is not None:
        return InlineState(INTERRUPTED, attempt, failure, started)
    return InlineState(RETRY_WAIT if failure is not None else NOT_STARTED, attempt, failure)
