"""What the journal says about an operation's lifecycle: pure functions over journal records.

The engine (``steps.py``, ``waits.py``), the orchestrator (re-arming an early timer) and the
sweeper all need to read the same facts from the same records: which instant a timer stands
for, which records count as a replay's progress, and the phases an operation goes through.
Where one operation stands is read by its own ``state()`` in ``runtime/operations/``, which the
engine and the sweeper both call, so that they cannot disagree about a state (they once did: the
sweeper's own reading of a declared step's records missed states the engine knew).
"""

from __future__ import annotations

from collections.abc import Mapping
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
    """Where a step stands (see ``operations.declared.DeclaredState`` and ``operations.inline.InlineState``);
    never stored."""

    NOT_DISPATCHED = "not_dispatched"
    RUNNING = "running"
    FAILED = "failed"
    RETRY_WAIT = "retry_wait"
    FINISHED = "finished"
    NOT_STARTED = "not_started"
    INTERRUPTED = "interrupted"


#: Phases of a declared step (see ``operations.declared.DeclaredState``).
NOT_DISPATCHED = Phase.NOT_DISPATCHED
RUNNING = Phase.RUNNING
FAILED = Phase.FAILED
RETRY_WAIT = Phase.RETRY_WAIT
FINISHED = Phase.FINISHED


# ---- inline steps ----------------------------------------------------------------------------

#: Phases of an inline step (see ``operations.inline.InlineState``); ``finished`` is shared with declared steps.
NOT_STARTED = Phase.NOT_STARTED
INTERRUPTED = Phase.INTERRUPTED
