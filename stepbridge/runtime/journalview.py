"""``JournalView``: one invocation's view of an execution's journal, and the only way it writes to it.

It holds the records read so far (by key and by operation), the log position, the reports this
replay read that no log record names yet (acks), the instants it passed without writing (passes),
and the write protocol: a log record is conditional on its slot, a shared record is claimed under
its key after an announcement (see :meth:`JournalView.record`). Everything here is changed only
through its methods; what the workflow code asked for lives in ``session.ReplaySession``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, NoReturn

from stepbridge.errors import PayloadTooLarge, WorkflowDefinitionError
from stepbridge.runtime import keys
from stepbridge.runtime.codec import dumps
from stepbridge.runtime.guard import InfrastructureFailure, JournalConflict
from stepbridge.runtime.lifecycle import is_progress
from stepbridge.runtime.limits import JOURNAL_PAYLOAD_BYTES, MAX_JOURNAL_BYTES, MAX_JOURNAL_RECORDS
from stepbridge.runtime.records import ACK_OP, JournalRecord, iso, parse_iso
from stepbridge.runtime.suspension import refuse_while_suspending
from stepbridge.runtime.vocabulary import Kind, OpType

if TYPE_CHECKING:
    from stepbridge.runtime.ports import Store

#: Bytes a journal record adds around its payload (keys, type, kind, timestamps), generously.
RECORD_OVERHEAD_BYTES = 512

#: Tries of a durable record's write (an inline step's outcome) before the invocation gives up, and the
#: first wait between them in seconds (doubled each time: 0.2, 0.4, 0.8), as a declared step's report.
OUTCOME_WRITE_TRIES = 4
OUTCOME_WRITE_BACKOFF = 0.2

def _raise(exc: BaseException) -> NoReturn:
    raise exc


def _never() -> bool:
    return False


class JournalView:
    """The journal of one execution as this invocation knows it, and its writes (see the module doc)."""

    def __init__(
        self,
        execution_id: str,
        store: Store,
        clock: Callable[[], datetime],
        journal: dict[str, JournalRecord],
        *,
        pause: Callable[[float], None] | None = None,
        fail: Callable[[BaseException], NoReturn] = _raise,
    ) -> None:
        self.execution_id = execution_id
        self._store = store
        self._clock = clock
        #: The records by key (read-only for callers: written through :meth:`record`, :meth:`fetch`).
        self.journal = journal
        self._pause = pause
        self._fail = fail
        self._by_op: dict[str, dict[str, JournalRecord]] = {}
        self._seq = 0
        #: Records of other writers (step reports, child outcomes) this replay has read.
        self.foreign_seen = 0
        #: Journal records this invocation appended (0 = the replay changed nothing).
        self.written = 0
        #: A racing replay wrote a log slot this one then adopted: this view may miss what it named.
        self.raced = False
        #: The failure of a journal write that abandoned this invocation; later writes are refused.
        self.abandoned: BaseException | None = None
        self._pending_passed: set[str] = set()
        self._passed_at: dict[str, str] = {}
        self.journal_bytes = sum(r.size or RECORD_OVERHEAD_BYTES for r in journal.values())
        acked: set[str] = set()
        latest = ""
        for rec in journal.values():
            self._by_op.setdefault(rec.op, {})[rec.key] = rec
            self._seq = max(self._seq, rec.seq)
            if rec.seq and rec.at > latest:  # a replay's own record (ISO texts of one format sort by time)
                latest = rec.at
            self.foreign_seen += rec.foreign
            acked.update(rec.acks)
            self._note_passed(rec)
        #: Keys outside the ordered log that no log record names yet (see ``JournalRecord.acks``).
        self._pending_acks = {k for k, r in journal.items() if r.foreign and k not in acked}
        self._floor = parse_iso(latest) if latest else None
        #: An execution unwinding at its deadline (runtime/deadline.py): while ``frozen()`` (outside compensations)
        #: the clock stops at ``cut`` and records written after it are invisible, so a report, an event or a
        #: timer arriving during a declared compensation cannot move the workflow past where it was stopped.
        self.cut: str | None = None
        self.frozen: Callable[[], bool] = _never

    @property
    def last_seq(self) -> int:
        """The last log slot this view knows (its own writes included)."""
        return self._seq

    def resumed(self, store: Store, clock: Callable[[], datetime], new: Iterable[JournalRecord]) -> None:
        """A parked workflow goes on in a new invocation (runtime/sticky.py): count its writes afresh and
        take in ``new``, the records written since it parked (other writers' reports, read by the cache)."""
        self._store = store
        self._clock = clock
        self.written = 0
        self.raced = False
        for rec in new:
            if rec.foreign and rec.key not in self.journal:
                self.foreign_seen += 1
                self._pending_acks.add(rec.key)
            self._seq = max(self._seq, rec.seq)
            self._remember(rec)

    # ---- reading --------------------------------------------------------------------------

    def now(self) -> datetime:
        """The real (or virtual) clock; used to decide whether timers are due, never given to user code.

        Never earlier than the latest instant a replay of this execution recorded: containers' clocks
        disagree a little, and a replay on one that is behind must not find a sleep not yet over that
        a replay on one ahead already went past (it would stop short of the operations recorded after).
        """
        now = self._clock()
        now = now if self._floor is None or now >= self._floor else self._floor
        if self.cut is not None and self.frozen():
            cut = parse_iso(self.cut)
            return cut if now > cut else now
        return now

    def records(self, op: str) -> dict[str, JournalRecord]:
        """The records of ``op`` by key (including ones appended during this invocation)."""
        records = self._by_op.get(op, {})
        if self.cut is None or not self.frozen():
            return records
        # (The unwinding replays' own records are stamped at the cut, since the clock stops there: visible.)
        return {k: r for k, r in records.items() if not self.after_cut(r.at)}

    def after_cut(self, at: str) -> bool:
        """Whether an instant (ISO text) lies after the unwinding's cut while it is frozen (see ``cut``)."""
        return self.cut is not None and bool(at) and at > self.cut and self.frozen()

    def ops(self) -> Iterable[str]:
        """The names of the operations with records."""
        return self._by_op.keys()

    def newly_read(self, key: str) -> bool:
        """Whether this replay is the first to read the report ``key`` (no log record names it yet)."""
        return key in self._pending_acks

    def consumed_event_ids(self) -> set[str]:
        """Ids of events already bound to a ``wait_for`` of this execution (each satisfies one wait at most)."""
        return {
            str(r.data.get("event", {}).get("id"))
            for r in self.journal.values()
            if r.type == OpType.WAIT and r.kind == Kind.RESULT
        }

    def fetch(self, key: str) -> JournalRecord | None:
        """Read one record written outside the log that no wake-up announced (a declared step's "started"
        marker) fresh from the store, before a decision depends on its absence."""
        found = self.journal.get(key)
        if found is not None:
            return found
        found = self._store.get_journal(self.execution_id, key)
        if found is not None:
            self.foreign_seen += found.foreign
            if found.foreign:
                self._pending_acks.add(found.key)
            self._remember(found)
        return found

    # ---- room -----------------------------------------------------------------------------

    def check_room(self, op: str, size: int) -> None:
        """Fail the execution when one more record of ``size`` bytes would take its journal past a cap.

        Every replay reads the whole journal, and a cold one holds all of it in the orchestrator's
        memory (``limits.MAX_JOURNAL_BYTES``). Checked before a new operation's side effect (an
        operation that would start on a full journal never runs) and for every record written.
        Reports of declared steps and children already in flight still land; they count once read.
        """
        if len(self.journal) >= MAX_JOURNAL_RECORDS:
            self._fail(
                WorkflowDefinitionError(
                    f"execution '{self.execution_id}' reached {MAX_JOURNAL_RECORDS} journal records at '{op}'; "
                    "split the work into child workflows or call ctx.continue_as_new(...) periodically"
                )
            )
        if self.journal_bytes + size > MAX_JOURNAL_BYTES:
            self._fail(
                WorkflowDefinitionError(
                    f"the journal of execution '{self.execution_id}' is {self.journal_bytes:,} bytes: recording "
                    f"'{op}' would take it past the {MAX_JOURNAL_BYTES:,}-byte cap (every replay reads the whole "
                    "journal into the orchestrator's memory); split the work into child workflows or call "
                    "ctx.continue_as_new(...) periodically, and keep large data out of step results (store it in "
                    "S3 and return its key)"
                )
            )

    # ---- writing --------------------------------------------------------------------------

    def record(
        self,
        op: str,
        op_type: OpType,
        kind: Kind,
        data: dict[str, object],
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
            raise InfrastructureFailure(f"journal record '{op}' (replay abandoned)", self.abandoned)
        rec = self._new_record(op, op_type, kind, data, key, data_size)
        try:
            rec = self._claim(rec) if shared else self._append_log(rec, tries=OUTCOME_WRITE_TRIES if durable else 1)
        except BaseException as exc:
            if not isinstance(exc, Exception):  # an infrastructure failure or a crash, not a size error
                self.abandoned = self.abandoned or exc
            raise
        self._remember(rec)
        return rec

    def _new_record(
        self, op: str, op_type: OpType, kind: Kind, data: dict[str, object], key: str | None, data_size: int | None
    ) -> JournalRecord:
        """The next log record, sized and checked against the item and journal caps."""
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
            data_size + len(op) * 2 + RECORD_OVERHEAD_BYTES
            if data_size is not None
            else len(dumps(rec.to_dict()).encode())
        )
        if size > JOURNAL_PAYLOAD_BYTES:
            raise PayloadTooLarge(
                f"the journal record for '{op}' is {size} bytes, over DynamoDB's 400 KB item limit; "
                "store large data elsewhere (e.g. S3) and return a reference"
            )
        self.check_room(op, size)
        rec.size = size
        return rec

    def _remember(self, rec: JournalRecord) -> None:
        if rec.key not in self.journal:
            self.journal_bytes += rec.size or RECORD_OVERHEAD_BYTES
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
        announcement = rec.is_announcement
        if not announcement:  # an announcement says nothing about what the replay handled
            rec.passed = sorted(self._pending_passed)
        applied, after_failure = self._append_with_retries(rec, tries)
        taken = (
            None
            if applied
            else next(
                (r for r in self._store.load_journal_since(self.execution_id, rec.seq - 1) if r.seq == rec.seq), None
            )
        )
        if applied or (after_failure and taken is not None and _same_write(taken, rec)):
            # (After a try that failed, the slot may hold this very record: that try took effect after all.
            # It is this replay's write - counting it matters: a replay that wrote nothing leaves a
            # ``$replayed`` marker saying it handled everything due, which would hide what it scheduled.)
            self.written += 1
            self._pending_acks.clear()
            if not announcement:
                self._pending_passed.clear()
            return rec
        if taken is None or taken.key != rec.key:
            raise JournalConflict(self.execution_id, rec.seq, rec.key, taken.key if taken is not None else None)
        # A racing replay of the same journal (a redelivered message) recorded the same operation first.
        # Its record may name reports this view lacks: the view must not be kept for the next resume.
        self.raced = True
        self._pending_acks.difference_update(taken.acks)
        return taken

    def _append_with_retries(self, rec: JournalRecord, tries: int) -> tuple[bool, bool]:
        """``(whether the write was applied, whether an earlier try failed)``."""
        attempt = 1
        while True:
            try:
                return self._store.append_journal(self.execution_id, rec), attempt > 1
            except InfrastructureFailure:
                if attempt >= tries:
                    raise
                (self._pause or time.sleep)(OUTCOME_WRITE_BACKOFF * 2 ** (attempt - 1))
                attempt += 1

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
        if self._store.append_journal(self.execution_id, rec):
            self.written += 1
            return rec
        winner = self._store.get_journal(self.execution_id, rec.key)
        if winner is None:  # cannot happen for keys that are never deleted; treat the slot as ours
            return rec
        if winner.shared:
            # Another orchestrator (the same message, redelivered while this replay ran) announced and
            # claimed it after this replay read the log: its log is ahead of this view, and going on
            # would record the next operations again at other slots. Start over from the journal.
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


def _same_write(taken: JournalRecord, rec: JournalRecord) -> bool:
    """Whether the record found at ``rec``'s slot is ``rec`` itself (the same key, time, data, acks and passes)."""
    return (
        taken.key == rec.key
        and taken.at == rec.at
        and taken.data == rec.data
        and sorted(taken.acks) == sorted(rec.acks)
        and sorted(taken.passed) == sorted(rec.passed)
    )
