"""Replay state of one orchestrator invocation: the journal, what the code asked for, and suspension.

The workflow function is re-run from the top on every invocation. Each operation it asks for
(step, sleep, wait, child, send ...) is looked up by name in the journal: recorded outcomes are
returned without running anything; the first unrecorded one runs or is dispatched, and the
workflow suspends by raising :class:`Suspend` (a ``BaseException``, so ``except Exception`` in
user code cannot swallow it).
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from stepbridge.errors import (
    DuplicateStepError,
    NonDeterminismError,
    PayloadTooLarge,
    WorkflowDefinitionError,
)
from stepbridge.runtime import keys
from stepbridge.runtime.codec import dumps

# Re-exported: the error codec lived here before it had its own module.
from stepbridge.runtime.errorcodec import error_dict as error_dict
from stepbridge.runtime.errorcodec import rebuild_error as rebuild_error
from stepbridge.runtime.guard import EngineSignal
from stepbridge.runtime.keys import timer_name as timer_name
from stepbridge.runtime.lifecycle import is_progress
from stepbridge.runtime.limits import JOURNAL_PAYLOAD_BYTES, MAX_JOURNAL_BYTES, MAX_JOURNAL_RECORDS, MAX_OP_NAME
from stepbridge.runtime.records import ACK_OP, ExecutionRecord, JournalRecord, WakeMessage, iso, parse_iso
from stepbridge.runtime.vocabulary import Kind, OpType

if TYPE_CHECKING:
    from stepbridge.api.app import App
    from stepbridge.runtime.ports import Effects, Store


#: Bytes a journal record adds around its payload (keys, type, kind, timestamps), generously.
_RECORD_OVERHEAD_BYTES = 512


class Suspend(EngineSignal):
    """The workflow must wait for something outside this invocation (a step, timer, event or child).

    ``consumed`` is set when the engine itself settles it (``ctx.gather``/``ctx.map`` keep a waiting
    branch and go on); a suspension that neither reaches the engine nor was consumed was swallowed
    by user code (``except BaseException``), and the engine suspends the execution anyway.
    """

    consumed = False


#: Seconds of the orchestrator invocation an inline step may not use: kept for journaling its outcome,
#: setting a retry timer and the rest of the batch's replays before Lambda stops the function.
INLINE_RESERVE_SECONDS = 5.0

#: Tries of a durable record's write (an inline step's outcome) before the invocation gives up, and the
#: first wait between them in seconds (doubled each time: 0.2, 0.4, 0.8), as a declared step's report.
OUTCOME_WRITE_TRIES = 4
OUTCOME_WRITE_BACKOFF = 0.2

#: Event-loop turns a new operation waits for concurrent branches to consume their recorded operations.
_SETTLE_TURNS = 64

#: Path of the current ``ctx.gather`` branch; auto-generated op names are scoped by it so that
#: concurrent branches name their operations the same way on every replay.
branch_scope: ContextVar[str] = ContextVar("stepbridge_branch_scope", default="")
#: The op whose step function is running (for ``ctx.idempotency_key``).
current_op: ContextVar[str | None] = ContextVar("stepbridge_current_op", default=None)


@dataclass
class Replay:
    """Per-invocation engine state shared by the operations of one execution."""

    app: App
    execution: ExecutionRecord
    store: Store
    effects: Effects
    journal: dict[str, JournalRecord]
    requested: dict[str, str] = field(default_factory=dict)
    new_ops: list[str] = field(default_factory=list)
    overrides: dict[str, Callable[..., Any]] = field(default_factory=dict)
    fatal: BaseException | None = None
    cancelling: bool = False
    compensating: int = 0
    _counters: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _by_op: dict[str, dict[str, JournalRecord]] = field(default_factory=dict)
    _rng: random.Random | None = None
    _seq: int = 0
    #: Records of other writers (step reports, child outcomes) this replay has read.
    foreign_seen: int = 0
    #: Journal records this invocation appended (0 = the replay changed nothing).
    written: int = 0
    #: Recorded operations the code has not asked for yet in this replay.
    _not_yet_requested: set[str] = field(default_factory=set)
    #: Keys outside the ordered log that no log record names yet (see ``JournalRecord.acks``).
    _pending_acks: set[str] = field(default_factory=set)
    #: A racing replay wrote a log slot this one then adopted: this view may miss what it named.
    raced: bool = False
    #: This invocation may follow one that died (a redelivered message, a sweeper's wake-up): an inline
    #: step journals a started marker before it runs (see ``steps._inline``).
    suspect: bool = False
    #: Seconds left in the orchestrator Lambda's invocation (its context's remaining time), if known.
    remaining: Callable[[], float] | None = None
    #: How to wait before retrying a durable write in-process (``None`` = ``time.sleep``; LocalCloud: no wait).
    pause: Callable[[float], None] | None = None
    #: Operations whose due instant this replay passed without writing about them (see :meth:`passed`).
    _pending_passed: set[str] = field(default_factory=set)
    #: Per operation, the latest ``at`` of a log record naming it in ``passed``.
    _passed_at: dict[str, str] = field(default_factory=dict)
    #: The failure of a journal write that abandoned this invocation; later writes are refused.
    abandoned: BaseException | None = None
    #: The suspensions this replay raised (see ``Suspend.consumed``).
    suspensions: list[Suspend] = field(default_factory=list)
    #: Bytes of the journal as stored (records of unknown size count as ``_RECORD_OVERHEAD_BYTES``).
    journal_bytes: int = 0
    #: The latest instant a replay recorded (see :meth:`now`).
    _floor: datetime | None = None

    def __post_init__(self) -> None:
        acked: set[str] = set()
        latest = ""
        self.journal_bytes = sum(r.size or _RECORD_OVERHEAD_BYTES for r in self.journal.values())
        for rec in self.journal.values():
            self._by_op.setdefault(rec.op, {})[rec.key] = rec
            self._seq = max(self._seq, rec.seq)
            if rec.seq and rec.at > latest:  # a replay's own record (ISO texts of one format sort by time)
                latest = rec.at
            self.foreign_seen += rec.foreign
            acked.update(rec.acks)
            self._note_passed(rec)
        self._not_yet_requested = {op for op in self._by_op if not keys.is_bookkeeping(op)}
        self._pending_acks = {k for k, r in self.journal.items() if r.foreign and k not in acked}
        self._floor = parse_iso(latest) if latest else None

    # ---- clock and identity -----------------------------------------------------------

    @property
    def execution_id(self) -> str:
        """The id of the execution being replayed."""
        return self.execution.execution_id

    def now(self) -> datetime:
        """The real (or virtual) clock; used to decide whether timers are due, never given to user code.

        Never earlier than the latest instant a replay of this execution recorded: containers' clocks
        disagree a little, and a replay on one that is behind must not find a sleep not yet over that
        a replay on one ahead already went past (it would stop short of the operations recorded after).
        """
        now = self.effects.now()
        return now if self._floor is None or now >= self._floor else self._floor

    @property
    def rng(self) -> random.Random:
        """A random generator seeded by the execution id: the same sequence on every replay."""
        if self._rng is None:
            self._rng = random.Random(self.execution_id)
        return self._rng

    # ---- naming ----------------------------------------------------------------------

    def auto_name(self, base: str) -> str:
        """A deterministic name for an unnamed operation: ``base``, ``base#2`` ... scoped by gather branch."""
        scoped = keys.scoped_name(base, branch_scope.get())
        self._counters[scoped] += 1
        return keys.numbered_name(scoped, self._counters[scoped])

    def request(self, op: str, op_type: OpType) -> dict[str, JournalRecord]:
        """Claim ``op`` for this replay and return its recorded records (possibly empty).

        Raises ``DuplicateStepError`` for a second use of the name and ``NonDeterminismError``
        when the journal recorded the name as another kind of operation.
        """
        refuse_while_suspending()
        if not isinstance(op, str) or not op or len(op.encode("utf-8", "surrogatepass")) > MAX_OP_NAME or "\x00" in op:
            self._fatal(
                WorkflowDefinitionError(
                    f"step name {op!r} must be a non-empty string of at most {MAX_OP_NAME} bytes of UTF-8 "
                    "(it is part of DynamoDB sort keys)"
                )
            )
        if keys.is_bookkeeping(op):
            self._fatal(WorkflowDefinitionError(f"step name {op!r}: names starting with '$' are reserved"))
        if op in self.requested:
            self._fatal(
                DuplicateStepError(
                    f"workflow '{self.execution.workflow}' used the step name '{op}' twice in execution "
                    f"'{self.execution_id}'; step names must be unique within an execution (build them in loops, "
                    'e.g. f"send-{item.id}")'
                )
            )
        self.requested[op] = op_type
        self._not_yet_requested.discard(op)
        records = self._by_op.get(op, {})
        if records:
            recorded_type = next(iter(records.values())).type
            if recorded_type and recorded_type != op_type:
                self._fatal(
                    NonDeterminismError(
                        f"non-deterministic replay in workflow '{self.execution.workflow}': '{op}' was recorded as a "
                        f"{recorded_type} but the code now asks for a {op_type} of that name"
                    )
                )
        else:
            self.new_ops.append(op)
        return records

    async def before_new(self, op: str) -> None:
        """Call before an operation's first side effect (running a step, dispatching, publishing ...).

        Every operation the journal recorded must have been asked for by then: if the code skips or
        reorders recorded operations (a deploy changed it under a running execution), fail with a
        ``NonDeterminismError`` naming them *before* the new operation does anything - not after a
        step of the changed code has run. Concurrent branches (``gather``, ``map``) consume their
        recorded operations within a few loop turns, so they get those turns first.
        """
        if self.fatal is not None:
            raise self.fatal  # the execution already failed (user code caught it): nothing new runs
        for _ in range(_SETTLE_TURNS):
            if not self._not_yet_requested:
                break
            await asyncio.sleep(0)
        else:
            problem = self.nondeterminism()
            if problem is not None:
                self._fatal(problem)
        self._check_room(op, 1)

    def _check_room(self, op: str, size: int) -> None:
        """Fail the execution when one more record of ``size`` bytes would take its journal past a cap.

        Every replay reads the whole journal, and a cold one holds all of it in the orchestrator's
        memory (``limits.MAX_JOURNAL_BYTES``). Checked before a new operation's side effect (an
        operation that would start on a full journal never runs) and for every record written.
        Reports of declared steps and children already in flight still land; they count once read.
        """
        if len(self.journal) >= MAX_JOURNAL_RECORDS:
            self._fatal(
                WorkflowDefinitionError(
                    f"execution '{self.execution_id}' reached {MAX_JOURNAL_RECORDS} journal records at '{op}'; "
                    "split the work into child workflows or call ctx.continue_as_new(...) periodically"
                )
            )
        if self.journal_bytes + size > MAX_JOURNAL_BYTES:
            self._fatal(
                WorkflowDefinitionError(
                    f"the journal of execution '{self.execution_id}' is {self.journal_bytes:,} bytes: recording "
                    f"'{op}' would take it past the {MAX_JOURNAL_BYTES:,}-byte cap (every replay reads the whole "
                    "journal into the orchestrator's memory); split the work into child workflows or call "
                    "ctx.continue_as_new(...) periodically, and keep large data out of step results (store it in "
                    "S3 and return its key)"
                )
            )

    def _fatal(self, exc: BaseException) -> None:
        self.fatal = self.fatal or exc
        raise exc

    def records(self, op: str) -> dict[str, JournalRecord]:
        """The records of ``op`` (including ones appended during this invocation)."""
        return self._by_op.get(op, {})

    # ---- writing ----------------------------------------------------------------------

    def record(
        self,
        op: str,
        op_type: OpType,
        kind: Kind,
        data: dict[str, Any],
        *,
        key: str | None = None,
        data_size: int | None = None,
        shared: bool = False,
        durable: bool = False,
    ) -> JournalRecord:
        """Append a journal record and return the record that won.

        The write is conditional on the record's log slot (``seq``), or on its key when
        ``shared``. When a racing replay took the slot with the same operation, or another writer
        recorded a shared key first, that record is returned instead, so everyone proceeds from
        the same fact; a slot taken by another operation raises ``JournalConflict``.
        ``data_size`` is the JSON size of the payload when the caller already measured it (a
        step result), which spares serializing it once more just to check the item limit.
        ``shared`` marks a record whose key another writer may record too (a declared step's
        timeout or final error racing the step's own report): it is claimed under its key.
        ``durable``: the record is the outcome of work already done (an inline step ran), or one
        whose timer is set only after it is written (a sleep, a wait): a failed write is retried
        in-process at the same slot (:data:`OUTCOME_WRITE_TRIES`) before the invocation gives up -
        as a declared step retries its report - rather than have the work counted as lost and done
        again, or a write that took effect leave a wait without its timer.
        """
        refuse_while_suspending()
        if self.abandoned is not None:
            # Another branch of this replay hit an infrastructure failure: the invocation is abandoned
            # and its view may be out of date, so it writes nothing more (a racing replay may be ahead).
            from stepbridge.runtime.guard import InfrastructureFailure

            raise InfrastructureFailure(f"journal record '{op}' (replay abandoned)", self.abandoned)
        self._seq += 1
        rec = JournalRecord(
            key=key or op,
            op=op,
            type=op_type,
            kind=kind,
            data=data,
            at=iso(self.now()),
            seq=self._seq,
            seen=self.foreign_seen,
        )
        size = (
            data_size + len(op) * 2 + _RECORD_OVERHEAD_BYTES
            if data_size is not None
            else len(dumps(rec.to_dict()).encode())
        )
        if size > JOURNAL_PAYLOAD_BYTES:
            raise PayloadTooLarge(
                f"the journal record for '{op}' is {size} bytes, over DynamoDB's 400 KB item limit; "
                "store large data elsewhere (e.g. S3) and return a reference"
            )
        self._check_room(op, size)
        rec.size = size
        try:
            rec = self._claim(rec) if shared else self._append_log(rec, tries=OUTCOME_WRITE_TRIES if durable else 1)
        except BaseException as exc:
            if not isinstance(exc, Exception):  # an infrastructure failure or a crash, not a size error
                self.abandoned = self.abandoned or exc
            raise
        self._remember(rec)
        return rec

    def _remember(self, rec: JournalRecord) -> None:
        if rec.key not in self.journal:
            self.journal_bytes += rec.size or _RECORD_OVERHEAD_BYTES
        self.journal[rec.key] = rec
        self._by_op.setdefault(rec.op, {})[rec.key] = rec
        self._note_passed(rec)

    def _note_passed(self, rec: JournalRecord) -> None:
        for op in rec.passed:
            if rec.at > self._passed_at.get(op, ""):
                self._passed_at[op] = rec.at

    def passed(self, op: str, due: datetime) -> None:
        """``op``'s due instant ``due`` passed in this replay, which writes nothing about ``op`` (a sleep ends
        silently). Unless a record already says a replay handled it, the op rides on the next log record
        this replay writes (``JournalRecord.passed``), or on the ``$ack`` record it leaves when it suspends:
        the sweeper counts an instant as handled only when a record says so (``lifecycle.handled_at``).
        """
        if op in self._pending_passed:
            return
        latest = self._passed_at.get(op, "")
        for rec in self._by_op.get(op, {}).values():
            if is_progress(rec) and rec.at > latest:
                latest = rec.at
        if not latest or parse_iso(latest) < due:
            self._pending_passed.add(op)

    def _append_log(self, rec: JournalRecord, *, tries: int = 1) -> JournalRecord:
        """Write ``rec`` at its log slot, naming the pending acks; adopt a racing twin's identical record.

        With ``tries`` > 1 an infrastructure failure of the write is retried at the same slot (after a
        write that took effect but reported a failure, the retry finds the slot taken by this very record
        and adopts it).
        """
        rec.acks = sorted(self._pending_acks)
        if not rec.is_announcement:  # an announcement says nothing about what the replay handled
            rec.passed = sorted(self._pending_passed)
        applied, after_failure = self._append_with_retries(rec, tries)
        taken = (
            None
            if applied
            else next(
                (r for r in self.store.load_journal_since(self.execution_id, rec.seq - 1) if r.seq == rec.seq), None
            )
        )
        if applied or (after_failure and taken is not None and _same_write(taken, rec)):
            # (After a try that failed, the slot may hold this very record: that try took effect after all.
            # It is this replay's write - counting it matters: a replay that wrote nothing leaves a
            # ``$replayed`` marker saying it handled everything due, which would hide what it scheduled.)
            self.written += 1
            self._pending_acks.clear()
            if not rec.is_announcement:
                self._pending_passed.clear()
            return rec
        if taken is None or taken.key != rec.key:
            from stepbridge.runtime.guard import JournalConflict

            raise JournalConflict(self.execution_id, rec.seq, rec.key, taken.key if taken is not None else None)
        # A racing replay of the same journal (a redelivered message) recorded the same operation first.
        # Its record may name reports this view lacks: the view must not be kept for the next resume.
        self.raced = True
        self._pending_acks.difference_update(taken.acks)
        return taken

    def _append_with_retries(self, rec: JournalRecord, tries: int) -> tuple[bool, bool]:
        """``(whether the write was applied, whether an earlier try failed)``."""
        from stepbridge.runtime.guard import InfrastructureFailure

        for attempt in range(1, tries + 1):
            try:
                return self.store.append_journal(self.execution_id, rec), attempt > 1
            except InfrastructureFailure:
                if attempt == tries:
                    raise
                (self.pause or time.sleep)(OUTCOME_WRITE_BACKOFF * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _claim(self, rec: JournalRecord) -> JournalRecord:
        """Record under the key another writer may also record (first writer wins), announced in the log first.

        The announcing log record comes first so that any orchestrator that later reads the log
        learns of the claim, whichever writer wins it; a crash in between leaves an announcement
        of nothing, which readers skip. (Its kind is ``announce``: it says nothing about what the
        replay went on to do, so the sweeper does not count it as progress.)
        """
        self._pending_acks.add(rec.key)
        self._remember(self._append_log(self._ack_record(rec.seq, Kind.ANNOUNCE, rec.at)))
        # The claim is stored under its key, not in the log: it shares its announcement's position rather
        # than taking the next one, which would stay free in the log - a racing replay could record another
        # operation there unnoticed, and this replay, writing on past it, would record that operation again.
        rec.seq, rec.shared = self._seq, True
        if self.store.append_journal(self.execution_id, rec):
            self.written += 1
            return rec
        winner = self.store.get_journal(self.execution_id, rec.key)
        if winner is None:  # cannot happen for keys that are never deleted; treat the slot as ours
            return rec
        if winner.shared:
            # Another orchestrator (the same message, redelivered while this replay ran) announced and
            # claimed it after this replay read the log: its log is ahead of this view, and going on
            # would record the next operations again at other slots. Start over from the journal.
            from stepbridge.runtime.guard import JournalConflict

            raise JournalConflict(self.execution_id, rec.seq, rec.key, f"{winner.key} (claimed at {winner.seq})")
        self.foreign_seen += winner.foreign and winner.key not in self.journal
        return winner

    def flush_acks(self) -> None:
        """Write a log record naming the reports this replay read and the sleeps it passed, when no other
        record of it did.

        Called when a replay suspends. Without it, a replay that consumed a step's report and
        wrote nothing (a ``gather`` still waiting for other branches) would leave the report known
        only to this process, and an orchestrator elsewhere reading only the new log would miss it.
        """
        if not self._pending_acks and not self._pending_passed:
            return
        self._seq += 1
        self._remember(self._append_log(self._ack_record(self._seq, Kind.ACK, iso(self.now()))))

    def _ack_record(self, seq: int, kind: Kind, at: str) -> JournalRecord:
        """A log record that only names keys (``acks`` is filled in by :meth:`_append_log`)."""
        return JournalRecord(
            key=keys.ack_key(seq), op=ACK_OP, type=OpType.ACK, kind=kind, at=at, seq=seq, seen=self.foreign_seen
        )

    def fetch(self, key: str) -> JournalRecord | None:
        """Read one record written outside the log that no wake-up announced (a declared step's "started"
        marker) fresh from the store, before a decision depends on its absence."""
        found = self.journal.get(key)
        if found is not None:
            return found
        found = self.store.get_journal(self.execution_id, key)
        if found is not None:
            self.foreign_seen += found.foreign
            if found.foreign:
                self._pending_acks.add(found.key)
            self._remember(found)
        return found

    def newly_read(self, key: str) -> bool:
        """Whether this replay is the first to read the report ``key`` (no log record names it yet)."""
        return key in self._pending_acks

    # ---- timers -----------------------------------------------------------------------

    def timer_name(self, key: str) -> str:
        """A Scheduler-safe schedule name (1-64 of ``[0-9A-Za-z-_.]``) unique per execution and key."""
        return timer_name(self.execution_id, key)

    def set_timer(self, key: str, at: datetime, reason: str) -> str:
        """Create a one-time timer that wakes this execution at ``at``; returns its name."""
        name = self.timer_name(key)
        self.effects.schedule_timer(name, at, WakeMessage(self.execution_id, reason, keys.timer_dedup(key)))
        return name

    def wake_self(self, reason: str, dedup: str) -> None:
        """Enqueue a wake-up for this execution."""
        self.effects.wake(WakeMessage(self.execution_id, reason, dedup))

    def suspend(self) -> None:
        """Stop the workflow here; it resumes from the top when woken."""
        if self.cancelling and not self.compensating:
            from stepbridge.errors import ExecutionCancelled

            raise ExecutionCancelled(f"execution '{self.execution_id}' was cancelled")
        signal = Suspend()
        self.suspensions.append(signal)
        raise signal

    def swallowed_suspension(self) -> bool:
        """Whether user code caught a suspension that the engine never saw (``except BaseException:``)."""
        return any(not s.consumed for s in self.suspensions)

    def time_left(self) -> float | None:
        """Seconds an inline step may still run in this invocation: the Lambda's remaining time less
        :data:`INLINE_RESERVE_SECONDS`; ``None`` when unknown (no Lambda context)."""
        if self.remaining is None:
            return None
        return self.remaining() - INLINE_RESERVE_SECONDS

    def due(self, at_iso: str) -> bool:
        """Whether a recorded instant has passed on the clock."""
        return self.now() >= parse_iso(at_iso)

    def after(self, seconds: float) -> datetime:
        """Clock time ``seconds`` from now."""
        return self.now() + timedelta(seconds=seconds)

    # ---- end-of-run checks ---------------------------------------------------------------

    def unconsumed_ops(self) -> list[str]:
        """Recorded operations this replay never asked for (after it suspended or ended)."""
        return sorted(op for op in self._by_op if op not in self.requested and not keys.is_bookkeeping(op))

    def nondeterminism(self) -> NonDeterminismError | None:
        """An error when the code skipped recorded operations, naming them and what it asked for instead."""
        missing = self.unconsumed_ops()
        if not missing:
            return None
        instead = ", ".join(f"'{o}'" for o in self.new_ops) or "nothing new"
        return NonDeterminismError(
            f"non-deterministic replay in workflow '{self.execution.workflow}' (execution '{self.execution_id}'): "
            f"the journal recorded {', '.join(repr(o) for o in missing)} but the code now asked for {instead}; "
            "a running execution must take the same path (did the workflow code change?)"
        )

    def consumed_event_ids(self) -> set[str]:
        """Ids of events already bound to a ``wait_for`` of this execution (each satisfies one wait at most)."""
        return {
            str(r.data.get("event", {}).get("id"))
            for r in self.journal.values()
            if r.type == OpType.WAIT and r.kind == Kind.RESULT
        }


def refuse_while_suspending() -> None:
    """Raise ``Suspend`` again when called while a suspension unwinds the workflow.

    The workflow suspends by raising ``Suspend`` through the user's code, so a plain ``finally:``
    (or ``except BaseException:``) block runs at that moment. An operation started there - a
    cleanup step, a lock release - must not run or be journaled now: it belongs to the replay in
    which the ``try`` block really ends. While such a block handles the ``Suspend``,
    ``sys.exc_info()`` names it (coroutines keep their own exception state across ``await``).
    """
    if isinstance(sys.exc_info()[1], Suspend):
        raise Suspend()


def _same_write(taken: JournalRecord, rec: JournalRecord) -> bool:
    """Whether the record found at ``rec``'s slot is ``rec`` itself (the same key, time, data, acks and passes)."""
    return (
        taken.key == rec.key
        and taken.at == rec.at
        and taken.data == rec.data
        and sorted(taken.acks) == sorted(rec.acks)
        and sorted(taken.passed) == sorted(rec.passed)
    )


def parse_or_none(value: str | None) -> datetime | None:
    """``parse_iso`` that passes ``None`` through."""
    return parse_iso(value) if value else None
