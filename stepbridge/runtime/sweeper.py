"""The sweeper: find executions whose wake-up was lost and wake them.

Timers and step reports wake executions through the work queue. If such a wake-up is lost (a
Scheduler delivery that failed, a step Lambda that died after writing its result but before
sending the wake-up, a deadline timer that never fired), the execution would wait forever. A
scheduled function (``Sweeper`` in the template, every 5 minutes) runs :class:`Sweeper`: for
each RUNNING or SCHEDULED execution of its page (oldest first, going on from a cursor, see
:class:`Sweeper`) it asks whether something happened that no replay has processed yet, and
wakes the execution if so. Waking is always safe: a replay that finds
nothing to do just suspends again.

"Something no replay has processed" is decided from the journal alone (the sweeper's IAM role
may only Query the table, keep its cursor item and send to the queue):

* the **progress** of an execution is read per operation: a due instant of an operation was
  processed when a replay wrote a record of that operation at or after it (or named it in a
  record's ``passed``: a sleep ends without a write of its own), or left the ``$replayed`` marker
  after it; plus how many reports of other writers those replays had read (``seen``). A replay
  that died half-way has processed only what it recorded;
* an execution is **stale** when a due instant of an unfinished operation (a sleep, a step's
  deadline, a retry, a wait's timeout), its start or its execution deadline (``@app.workflow(timeout=)``)
  lies after its progress, or when the journal
  holds more reports (step outcomes, child outcomes) than the replays have seen - and that has
  been so for longer than ``grace``;
* it is also stale when it waits for **nothing**: no step, child or event is outstanding and no
  timer is pending, yet it is still RUNNING. Then its last replay died half-way (a crash or a
  throttled write, and the retries of its wake-up ended in the dead-letter queue). Such an
  execution is woken again on every sweep for ``retry_for`` (a day); after that it is left to
  the operator (the DLQ alarm and ``redrive``), so a poison execution does not cycle forever.

A replay that consumed something but wrote nothing writes the ``$replayed`` marker (see
:func:`needs_marker`), so an execution that is merely waiting (for an event, a slow step or a
child) is never woken twice for the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from stepbridge.runtime import keys, lifecycle, sla
from stepbridge.runtime.lifecycle import handled_at, is_progress
from stepbridge.runtime.observability import logger
from stepbridge.runtime.operations.child import Child
from stepbridge.runtime.operations.declared import DeclaredStep, is_declared
from stepbridge.runtime.operations.inline import InlineStep
from stepbridge.runtime.operations.sleep import Sleep
from stepbridge.runtime.operations.wait import WaitFor
from stepbridge.runtime.ports import Effects, Item, Store
from stepbridge.runtime.records import (
    RUNNING,
    SCHEDULED,
    ExecutionRecord,
    JournalRecord,
    WakeMessage,
    iso,
    parse_iso,
    status_cursor,
)
from stepbridge.runtime.vocabulary import INSTANT_TYPES, Kind, OpType, Reason

#: Key of the marker a replay that wrote nothing leaves (its ``at`` = when the replay began).
REPLAYED = keys.REPLAYED


@dataclass(frozen=True)
class Progress:
    """What the replays of an execution have processed.

    ``at``: the latest instant any replay wrote something at (it had begun, so the execution's
    start was handled); ``finished``: the latest ``$replayed`` marker (a replay that began then
    and suspended cleanly handled everything due by then); ``handled``: per operation, the
    latest instant a replay recorded handling it (:func:`lifecycle.handled_at`); ``seen``: the
    most reports of other writers any replay had read.
    """

    at: datetime | None
    seen: int
    finished: datetime | None = None
    handled: dict[str, datetime] = field(default_factory=dict)

    def processed(self, op: str | None, instant: datetime) -> bool:
        """Whether a replay handled ``instant``, a due instant of ``op`` (``None``: the execution's start)."""
        if self.finished is not None and instant <= self.finished:
            return True
        if op is None:
            return self.at is not None and instant <= self.at
        done = self.handled.get(op)
        return done is not None and instant <= done


def progress(journal: list[JournalRecord]) -> Progress:
    """What the replays processed, read from the orchestrator's records and the ``$replayed`` marker."""
    latest: datetime | None = None
    finished: datetime | None = None
    seen = 0
    for rec in journal:
        if is_progress(rec) or rec.key == REPLAYED:
            at = parse_iso(rec.at) if rec.at else None
            if at is not None and (latest is None or at > latest):
                latest = at
            if at is not None and rec.key == REPLAYED and (finished is None or at > finished):
                finished = at
            seen = max(seen, rec.seen)
    return Progress(latest, seen, finished, handled_at(journal))


def due_instants(record: ExecutionRecord, journal: list[JournalRecord]) -> list[tuple[str | None, datetime]]:
    """``(operation, instant)`` at which something should have woken the execution: its start (operation
    ``None``) and the due times of unfinished operations (sleeps, deadlines, retries, wait timeouts)."""
    instants: list[tuple[str | None, datetime]] = []
    started = record.started_at or record.created_at
    if started:
        instants.append((None, parse_iso(started)))
    if record.deadline and not record.timed_out:
        # The execution deadline (runtime/deadline.py): a replay at or after it times the execution out.
        instants.append((None, parse_iso(record.deadline)))
    by_op = _by_op(journal)
    instants.extend(sla.due_instants(by_op))  # a step's SLA deadline: its own timer is the only other wake-up
    for op, records in by_op.items():
        if keys.is_bookkeeping(op):
            continue
        final = records.get(op)
        if final is not None and final.is_final:
            continue
        for rec in records.values():
            due_text = rec.data.get("wake_at") or rec.data.get("deadline") or rec.data.get("retry_at")
            if due_text:
                instants.append((op, parse_iso(str(due_text))))
    return instants


def pending_instants(record: ExecutionRecord, journal: list[JournalRecord]) -> list[datetime]:
    """Instants at which something should have woken the execution: its start and unfinished operations' due times."""
    return [instant for _, instant in due_instants(record, journal)]


def _by_op(journal: list[JournalRecord]) -> dict[str, dict[str, JournalRecord]]:
    by_op: dict[str, dict[str, JournalRecord]] = {}
    for rec in journal:
        by_op.setdefault(rec.op, {})[rec.key] = rec
    return by_op


def unprocessed_since(
    record: ExecutionRecord, journal: list[JournalRecord], now: datetime
) -> datetime | None:
    """The earliest instant (at or before ``now``) that no replay has processed yet, or ``None``.

    An instant counts as processed only by a replay that recorded handling *it* (see
    :class:`Progress`): a replay that died half-way leaves the instants it did not get to
    unprocessed, whatever else it wrote. Reports of other writers count from when they were
    written (the newest unread one stands for all of them: the sweeper cannot tell which ones
    the replays read).
    """
    done = progress(journal)
    earliest: datetime | None = None
    for op, instant in due_instants(record, journal):
        if instant <= now and not done.processed(op, instant) and (earliest is None or instant < earliest):
            earliest = instant
    reports = [r for r in journal if r.foreign]
    if len(reports) > done.seen:
        newest = max(parse_iso(r.at) for r in reports if r.at) if any(r.at for r in reports) else now
        if newest <= now and (earliest is None or newest < earliest):
            earliest = newest
    return earliest


def waiting(journal: list[JournalRecord], now: datetime) -> bool:
    """Whether the journal shows something outstanding: a step, child or wait without outcome, a future timer.

    Each operation's state is read with the engine's own ``state()`` (``runtime/operations/``). A
    declared step whose latest attempt is recorded as failed with nothing decided after it (``failed``)
    is not outstanding - its replay recorded the failure and died before it set the retry timer or
    recorded the final error, so only a replay can go on. (An inline step's failed attempt carries its
    own ``retry_at``, a due instant.)
    """
    return any(_outstanding(op, records, now) for op, records in _by_op(journal).items() if not keys.is_bookkeeping(op))


def _outstanding(op: str, records: dict[str, JournalRecord], now: datetime) -> bool:
    """Whether the operation ``op`` waits for something outside a replay (a timer, a report, an event, a child)."""
    types = {r.type for r in records.values()}
    if OpType.SLEEP in types:
        return Sleep.outstanding(Sleep.state(op, records), now)
    if types & INSTANT_TYPES:
        return False
    if is_declared(records, op):
        return DeclaredStep.state(op, records).phase in (lifecycle.RUNNING, lifecycle.RETRY_WAIT)
    if OpType.STEP in types:
        # An inline step waits only for its retry timer; one whose attempt was started by a replay that
        # died (``interrupted``) waits for nothing: only a replay can count the attempt and go on.
        return InlineStep.state(op, records).phase == lifecycle.RETRY_WAIT
    if OpType.WAIT in types:
        return WaitFor.outstanding(WaitFor.state(op, records))
    return Child.outstanding(Child.state(op, records))


def stuck_since(journal: list[JournalRecord]) -> datetime | None:
    """Since when an operation has been in a state that only a replay can move on, whatever else is outstanding.

    A declared step ``failed`` with nothing decided after it (its replay recorded the failure and
    died before setting the retry timer or recording the final error), and an inline step
    ``interrupted`` (its started marker has no outcome: the replay running it died). Another branch
    of a ``gather`` may wait for an event meanwhile, so "waits for nothing" would not notice them.
    Like an idle execution, such an execution is woken for ``retry_for`` and then left to the
    operator (a replay that dies every time is a poison message).
    """
    earliest: datetime | None = None
    for op, records in _by_op(journal).items():
        if keys.is_bookkeeping(op):
            continue
        since: JournalRecord | None = None
        if is_declared(records, op):
            state = DeclaredStep.state(op, records)
            since = state.failure if state.phase == lifecycle.FAILED else None
        elif any(r.is_started for r in records.values()):
            inline = InlineStep.state(op, records)
            since = inline.started if inline.phase == lifecycle.INTERRUPTED else None
        if since is not None and since.at:
            # (a started marker's ``alive_until`` is when the invocation that wrote it was surely stopped)
            at = max(parse_iso(since.at), parse_iso(str(since.data.get("alive_until") or since.at)))
            if earliest is None or at < earliest:
                earliest = at
    return earliest


def awaits_decision(op: str, records: dict[str, JournalRecord]) -> bool:
    """A declared step whose latest attempt is recorded as failed with nothing scheduled after it."""
    return DeclaredStep.state(op, records).phase == lifecycle.FAILED


def stale_since(record: ExecutionRecord, journal: list[JournalRecord], now: datetime) -> tuple[datetime | None, bool]:
    """``(since when the execution needs a wake-up, whether it is idle)`` - ``(None, False)`` when it does not.

    Idle means RUNNING while waiting for nothing (see the module docstring).
    """
    since = unprocessed_since(record, journal, now)
    if since is not None:
        return since, False
    stuck = stuck_since(journal)
    if stuck is not None:
        return stuck, True
    if waiting(journal, now):
        return None, False
    done = progress(journal)
    started = record.started_at or record.created_at
    idle = done.at or (parse_iso(started) if started else None)
    return idle, idle is not None


def needs_marker(record: ExecutionRecord, journal: list[JournalRecord], now: datetime) -> bool:
    """After a replay that wrote nothing: would the sweeper still see something unprocessed at ``now``?"""
    return unprocessed_since(record, journal, now) is not None


def replayed_marker(began: datetime, seen: int) -> JournalRecord:
    """The ``$replayed`` marker: a replay began at ``began`` having read ``seen`` reports of other writers."""
    return JournalRecord(
        key=REPLAYED, op=REPLAYED, type=OpType.REPLAYED, kind=Kind.REPLAYED, data={}, at=iso(began), seen=seen
    )


def overdue_since(journal: list[JournalRecord], now: datetime, grace: timedelta) -> datetime | None:
    """The earliest due instant of a still-pending operation that passed before ``now - grace``.

    (Journal-only view kept for callers that have no execution record; :class:`Sweeper` uses
    :func:`unprocessed_since`, which also knows the progress of the replays.)
    """
    limit = now - grace
    earliest: datetime | None = None
    probe = ExecutionRecord(execution_id="", workflow="", status=RUNNING)
    for instant in pending_instants(probe, journal):
        if instant <= limit and (earliest is None or instant < earliest):
            earliest = instant
    return earliest


#: Partition of the sweeper's own item: where its paging stopped, per status (sort key ``RUNNING``/``SCHEDULED``).
#: Its IAM role may read and write only this partition (``compiler/iam.py``, ``SWEEPER_PARTITION``).
CURSOR_PK = keys.SWEEPER_PK


@dataclass
class Sweeper:
    """Wakes stale executions; ``woken`` lists the ids it woke in the last sweep, ``checked`` those it looked at.

    Each sweep checks at most ``page`` executions of each unfinished status, **oldest first**,
    going on from where the previous sweep stopped (a cursor kept in the table, item
    ``SWEEPER``/``{status}``) and wrapping around to the oldest at the end. With ``n``
    unfinished executions, each one is checked at least once every ``ceil(n / page)`` sweeps; a
    lost wake-up is therefore found within ``grace + ceil(n / page) x`` the sweep interval
    (docs/RELIABILITY.md, "Recovery bound"). Newest first, an old execution waited forever
    behind ``page`` newer ones.
    """

    store: Store
    effects: Effects
    grace: timedelta = timedelta(minutes=2)
    retry_for: timedelta = timedelta(days=1)
    #: Executions of each status checked per sweep (the limit before paging). Each check is one journal Query:
    #: the page must fit the sweeper Lambda's 300 s timeout.
    page: int = 10_000
    woken: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)

    def sweep(self) -> list[str]:
        """One pass over a page of RUNNING and of SCHEDULED executions; returns the ids woken.

        A failure on one execution (a throttled Query) is logged and the sweep goes on; the next
        sweep retries it (the cursor comes back to it after a round).
        """
        now = self.effects.now()
        self.woken, self.failed, self.checked = [], [], []
        for rec in self._page(SCHEDULED):
            if rec.scheduled_for and parse_iso(rec.scheduled_for) <= now - self.grace:
                self._try(rec.execution_id, lambda r=rec: self._wake(r.execution_id, now))
        for rec in self._page(RUNNING):
            self.checked.append(rec.execution_id)
            self._try(rec.execution_id, lambda r=rec: self._check(r, now))
        return self.woken

    def _page(self, status: str) -> list[ExecutionRecord]:
        """The next ``page`` executions of ``status`` after the stored cursor, wrapping around once; the
        cursor is moved past them first (a sweep that dies half-way skips the rest of its page until the
        next round, rather than checking the same page forever)."""
        item = self.store.get_item(CURSOR_PK, status)
        after = str(item.body["after"]) if item is not None and item.body.get("after") else None
        batch = self.store.list_unfinished(status, after=after, limit=self.page)
        cursor = status_cursor(batch[-1]) if len(batch) == self.page else None
        if cursor is None and after is not None:  # the end: go on from the oldest, up to where this round began
            room = self.page - len(batch)
            head = [r for r in self.store.list_unfinished(status, after=None, limit=room) if status_cursor(r) <= after]
            batch += head
            cursor = status_cursor(head[-1]) if len(head) == room else None
        # Written on every sweep (one write per status every 5 minutes): it also tells an operator when the
        # sweeper last ran and how much it checked.
        self.store.put_item(
            Item(CURSOR_PK, status, {"after": cursor, "at": iso(self.effects.now()), "checked": len(batch)})
        )
        return batch

    def _try(self, execution_id: str, action: object) -> None:
        try:
            action()  # type: ignore[operator]
        except Exception as exc:
            self.failed.append(execution_id)
            logger().warning("sweep of an execution failed", extra={"execution_id": execution_id, "error": str(exc)})

    def _check(self, rec: ExecutionRecord, now: datetime) -> None:
        if rec.cancel_requested:
            self._wake(rec.execution_id, now)
            return
        since, idle = stale_since(rec, self.store.load_journal(rec.execution_id), now)
        if since is None or since > now - self.grace:
            return
        if idle and since < now - self.retry_for:
            return  # a poison execution: it stays with the operator (DLQ alarm, redrive)
        self._wake(rec.execution_id, now)

    def _wake(self, execution_id: str, now: datetime) -> None:
        minute = iso(now)[:16]
        self.effects.wake(WakeMessage(execution_id, Reason.SWEEP, keys.sweep_dedup(minute)))
        self.woken.append(execution_id)
