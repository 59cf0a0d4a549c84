"""The orchestrator service: handle one wake-up message for one execution.

Called by the orchestrator Lambda for each SQS FIFO message (one execution at a time, since
the message group is the execution id). It replays the workflow and, when it ends, records
the outcome, cleans up timers and waiters, reports to a parent and cancels children.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from stepbridge.api.app import App
from stepbridge.errors import PayloadTooLarge, ResultNotSerializable
from stepbridge.runtime import deadline, engine, functionscope, keys
from stepbridge.runtime.callbacks import cancel_open_callbacks
from stepbridge.runtime.codec import dumps
from stepbridge.runtime.errorcodec import bounded_error, bounded_text, error_dict
from stepbridge.runtime.execution_ids import next_generation_id
from stepbridge.runtime.executions import (
    check_input_size,
    cut_cancel,
    header_bytes,
    rearm_start,
    request_cancel,
    start_execution,
    update_execution,
)
from stepbridge.runtime.humantask import cancel_open_tasks
from stepbridge.runtime.journalcache import JournalCache
from stepbridge.runtime.journalview import JournalView
from stepbridge.runtime.keys import timer_name
from stepbridge.runtime.lifecycle import timer_due
from stepbridge.runtime.limits import DYNAMODB_ITEM_BYTES, JOURNAL_PAYLOAD_BYTES
from stepbridge.runtime.loops import LoopFactory
from stepbridge.runtime.messages import DebounceFire, ScheduleFire, WorkMessage
from stepbridge.runtime.observability import add_metric, logger
from stepbridge.runtime.operations.sleep import Sleep
from stepbridge.runtime.operations.wait import WaitFor
from stepbridge.runtime.ports import Effects, Store
from stepbridge.runtime.records import (
    ExecutionRecord,
    JournalRecord,
    StepInvocation,
    WakeMessage,
    iso,
    parse_iso,
    report_wake,
)
from stepbridge.runtime.router import Router
from stepbridge.runtime.stepcover import next_cover, own_timer, pending_covers
from stepbridge.runtime.stepreply import HeldInvokes, alone, call_lone, may_wait
from stepbridge.runtime.sticky import Parked
from stepbridge.runtime.sweeper import needs_marker, replayed_marker
from stepbridge.runtime.vocabulary import TIMED_KINDS, Ending, Kind, OpType, Reason, Status, TimerReason

_TOO_LARGE = "stepbridge.errors.PayloadTooLarge"
_TOO_LARGE_MRO = [_TOO_LARGE, "stepbridge.errors.StepbridgeError", "builtins.Exception"]


@dataclass
class Orchestrator:
    """Replays executions when woken; stateless apart from the ports."""

    app: App
    store: Store
    effects: Effects
    loop_factory: LoopFactory | None = None
    overrides: dict[str, Callable[..., object]] = field(default_factory=dict)
    stats: dict[str, int] = field(default_factory=lambda: {"replays": 0, "finished": 0})
    #: Journals of recently resumed executions (``None``: read the whole journal on every wake-up).
    cache: JournalCache | None = None
    #: Seconds left in the current Lambda invocation (from its context), bounding inline steps; ``None`` = unknown.
    remaining: Callable[[], float] | None = None
    #: How to wait between in-process write retries (``None`` = ``time.sleep``; LocalCloud: no wait).
    pause: Callable[[float], None] | None = None
    #: This invocation handles one execution only, so it may wait for a lone declared step's answer
    #: (runtime/stepreply.py) without delaying another execution's wake-up.
    exclusive: bool = True

    def handle(self, message: WorkMessage) -> None:
        """Process one work message (idempotent: a duplicate or late message is harmless)."""
        # Inline steps and workflow code run in the orchestrator's function: its declared secrets apply.
        scope = functionscope.FunctionScope("the orchestrator", self.app.orchestrator_config.secrets)
        token = functionscope.enter(scope)
        try:
            self._handle(message)
        finally:
            functionscope.leave(token)

    def _handle(self, message: WorkMessage) -> None:
        match message:
            case ScheduleFire():
                Router(self.app, self.store, self.effects).fire_schedule(message)
            case DebounceFire():
                Router(self.app, self.store, self.effects).fire_debounce(message)
            case WakeMessage():
                wake: WakeMessage | None = message
                while wake is not None:  # a declared step's answer is the next wake-up (runtime/stepreply.py)
                    wake = self._wake(wake)

    def _wake(self, message: WakeMessage) -> WakeMessage | None:
        """Handle one wake-up; returns the next one when a declared step answered in-process."""
        journal: list[JournalRecord] | None = None
        if self._cold(message):
            # A wake-up that will read the whole journal reads it with the header: one request, not two.
            rec, journal = self.store.load_execution(message.execution_id)
        else:
            rec = self.store.get_execution(message.execution_id)
        if rec is None or rec.terminal:
            self._ended(message.execution_id)
            return None
        if rec.status == Status.SCHEDULED:
            rec = self._begin_scheduled(rec)
            if rec is None or rec.status != Status.RUNNING:
                return None
        cut = rec.cut
        rec = self._deadline(rec, message)
        if rec.cancel_compensate and rec.cut is None:
            self._forget(rec.execution_id)  # the first unwinding replay reads the whole journal (as at the deadline)
            rec = cut_cancel(self.store, rec, self.effects.now())
        if rec.cut != cut:
            journal = None  # an unwinding began here: read the journal after its cut was stamped, as always
        if rec.cancel_requested and not rec.cancel_compensate:
            self._forget(rec.execution_id)
            self.finish(
                rec,
                engine.Outcome(
                    Ending.CANCELLED, error={"type": "stepbridge.errors.ExecutionCancelled", "message": "cancelled"}
                ),
                journal if journal is not None else self.store.load_journal(rec.execution_id),
            )
            return None
        return self._replay(rec, message, journal)

    def _cold(self, message: WakeMessage) -> bool:
        """Whether this wake-up will read the whole journal: no cache, no copy of it here (a first wake-up, another
        container's execution) or a suspect message (``_load``), unless the execution was seen ended here."""
        if self.cache is None:
            return True
        suspect = message.receives > 1 or message.reason == Reason.SWEEP
        return self.cache.cold(message.execution_id) or (suspect and message.execution_id in self.cache)

    def _ended(self, execution_id: str) -> None:
        if self.cache is not None:
            self.cache.ended(execution_id)

    def _deadline(self, rec: ExecutionRecord, message: WakeMessage) -> ExecutionRecord:
        """The execution deadline (runtime/deadline.py): set it once, time the execution out once it passed,
        or set its timer again when it was delivered early."""
        rec = deadline.arm(self.app, self.store, self.effects, rec)
        now = self.effects.now()
        if deadline.passed(rec, now):
            logger().info("execution deadline passed", extra={"execution_id": rec.execution_id})
            self._forget(rec.execution_id)
            return deadline.expire(self.store, rec, now)
        if deadline.delivered_early(message, rec, now):
            deadline.set_timer(self.effects, rec, rearmed=iso(now))
        return rec

    def _load(
        self, rec: ExecutionRecord, message: WakeMessage, journal: list[JournalRecord] | None = None
    ) -> tuple[list[JournalRecord], Parked | None]:
        """The journal to replay, or the records new since the execution parked here and its parked workflow
        (sticky executions). With a cache, this takes the execution's copy out of it: only a replay that
        suspends cleanly puts it back (``_replay``), so a failure or an ending drops it. ``journal``: the whole
        journal when it was read with the header (a cold wake-up), used instead of reading it again."""
        if self.cache is None:
            return (journal if journal is not None else self.store.load_journal(rec.execution_id)), None
        suspect = message.receives > 1 or message.reason == Reason.SWEEP
        if suspect:
            # The sweeper wakes executions whose announcement may have been lost: read everything. A redelivered
            # message may follow an invocation that died: its parked workflow (if it was here) is not trusted.
            self.cache.forget(rec.execution_id)
        journal, parked = self.cache.load_or_resume(self.store, rec.execution_id, message.reports, journal=journal)
        if parked is not None and (
            parked.rp.execution.cancel_requested != rec.cancel_requested
            or parked.rp.execution.timed_out != rec.timed_out
            or parked.rp.execution.cut != rec.cut
            or parked.rp.app is not self.app
        ):
            # A cancellation with compensation or the execution deadline (the journal stands still at the cut)
            # changes what waiting operations do; new code (another app: what a deployment is in LocalCloud, on
            # AWS it comes with new containers) must replay: from the top.
            records = dict(parked.rp.log.journal)
            records.update((r.key, r) for r in journal)
            parked.close()
            return list(records.values()), None
        return journal, parked

    def _forget(self, execution_id: str) -> None:
        if self.cache is not None:
            self.cache.forget(execution_id)

    def _replay(
        self, rec: ExecutionRecord, message: WakeMessage, preloaded: list[JournalRecord] | None
    ) -> WakeMessage | None:
        journal, parked = self._load(rec, message, preloaded)
        started = time.perf_counter()
        began = self.effects.now()
        # The first step invoke waits for the replay's end (runtime/stepreply.py); its failure is the invocation's.
        held = HeldInvokes(self.effects)
        try:
            outcome = self._run(rec, message, journal, parked, held)  # (a failure closes ``parked``: engine.resume)
        except BaseException:
            held.release()
            raise
        logger().debug(
            "replayed",
            extra={
                "execution_id": rec.execution_id,
                "workflow": rec.workflow,
                "outcome": outcome.kind,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )
        if outcome.kind == Ending.SUSPENDED:
            lone = None
            if self.exclusive and may_wait(self.app.step_reply_seconds, self._remaining()):
                lone = held.lone(lambda op: _alone(outcome, op))
            try:
                held.release()
            except BaseException:
                if outcome.parked is not None:
                    outcome.parked.close()  # (as a failed invoke inside the replay would have)
                raise
            try:
                self._suspended(rec, message, outcome, began)
            except Exception:
                if lone is not None:
                    self.effects.invoke_step(lone)  # as it would have been sent during the replay
                raise
            return self._ask(lone) if lone is not None else None
        held.release()
        journal = list(outcome.replay.log.journal.values()) if outcome.replay else journal
        if outcome.kind == Ending.CONTINUED:
            try:
                outcome = self._continue_as_new(rec, outcome.result)
            except (PayloadTooLarge, ResultNotSerializable) as exc:  # the new input is refused: say why
                outcome = engine.Outcome(Ending.FAILED, error=error_dict(exc))
        self.finish(rec, outcome, journal)
        return None

    def _remaining(self) -> float | None:
        return self.remaining() if self.remaining is not None else None

    def _ask(self, invocation: StepInvocation) -> WakeMessage | None:
        reply = call_lone(self.effects, invocation, self.app.step_reply_seconds)
        if reply is not None:
            self.stats["answered"] = self.stats.get("answered", 0) + 1
        return reply

    def _run(
        self,
        rec: ExecutionRecord,
        message: WakeMessage,
        journal: list[JournalRecord],
        parked: Parked | None,
        effects: Effects,
    ) -> engine.Outcome:
        """Resume the parked workflow (sticky executions) or replay the workflow from the top."""
        # A redelivered message or a sweeper's wake-up: the invocation before may have died in an inline step.
        suspect = message.receives > 1 or message.reason == Reason.SWEEP
        if parked is not None:
            self.stats["resumes"] = self.stats.get("resumes", 0) + 1
            return engine.resume(
                parked,
                rec,
                journal,
                self.store,
                effects,
                ops=_concerned(message, parked.rp.log.journal),
                suspect=suspect,
                remaining=self.remaining,
            )
        self.stats["replays"] += 1
        return engine.run(
            self.app,
            rec,
            journal,
            self.store,
            effects,
            self.loop_factory,
            self.overrides,
            suspect=suspect,
            remaining=self.remaining,
            pause=self.pause,
            sticky=self.cache is not None and self.cache.sticky,
        )

    def _suspended(self, rec: ExecutionRecord, message: WakeMessage, outcome: engine.Outcome, began: datetime) -> None:
        """After a suspension: flush acks, re-arm early timers, mark the wake-up handled, keep (or close) the
        journal copy and the parked workflow."""
        if outcome.replay is None:
            return
        view = outcome.replay.log
        try:
            view.flush_acks()
            timer_keys = message.timer_keys
            if timer_keys:  # (a wake-up that is no timer's, e.g. the start, has none to set again)
                self._rearm_early_timers(rec, timer_keys, view.journal, began)
                self._rearm_cover(rec, timer_keys, view.journal, began)
            if view.written == 0 and not view.raced:
                # (A replay that adopted a racing replay's records handled nothing on its behalf: those records'
                # due instants, fixed by the other replay's clock, may be past ``began`` and not handled by
                # anyone.)
                self._mark_replayed(rec, view, began)
        except BaseException:
            if outcome.parked is not None:
                outcome.parked.close()
            raise
        if self.cache is not None and not view.raced:
            self.cache.remember(
                rec.execution_id, view.journal, outcome.parked, size=view.journal_bytes, last_seq=view.last_seq
            )
        elif outcome.parked is not None:
            outcome.parked.close()

    def _rearm_early_timers(
        self, rec: ExecutionRecord, timer_keys: list[str], journal: dict[str, JournalRecord], began: datetime
    ) -> None:
        """Set again each timer this wake-up delivered before its instant (``timer_keys``: the wake-up's).

        EventBridge Scheduler may deliver a one-time schedule early (a flexible window, clock skew
        between its fleet and this Lambda) and deletes it once delivered: the replay found the
        operation not due and suspended, and nothing would wake the execution at the instant (only
        the sweeper, minutes later). The schedule keeps its name (a duplicate delivery while it
        still exists finds it and changes nothing); its message differs from the early one so that
        the work queue's content-based de-duplication (5 minutes) does not drop it.
        """
        for key in timer_keys:
            due = timer_due(journal, key)
            if due is None or due <= began:
                continue
            logger().info("timer delivered early: set again", extra={"execution_id": rec.execution_id, "key": key})
            self.effects.schedule_timer(
                timer_name(rec.execution_id, key),
                due,
                WakeMessage(rec.execution_id, Reason.TIMER, keys.timer_dedup(key), {"rearmed": iso(began)}),
            )

    def _rearm_cover(
        self, rec: ExecutionRecord, timer_keys: list[str], journal: dict[str, JournalRecord], began: datetime
    ) -> None:
        """After a shared deadline timer of declared steps fired (runtime/stepcover.py): set one at the earliest
        deadline still outstanding among the steps such timers stand for, so each of them is reached in time."""
        if not any(keys.covered_dispatch(k) is not None for k in timer_keys):
            return
        found = next_cover(journal, self.effects.now())
        if found is None:
            return
        dispatch, due = found
        key = keys.cover_timer_key(dispatch.key)
        self.effects.schedule_timer(
            timer_name(rec.execution_id, key),
            due,
            WakeMessage(
                rec.execution_id,
                keys.timer_reason(TimerReason.DEADLINE, dispatch.op),
                keys.timer_dedup(key),
                {"rearmed": iso(began)},
            ),
        )

    def _mark_replayed(self, rec: ExecutionRecord, replay: JournalView, began: datetime) -> None:
        """A replay that wrote nothing leaves a ``$replayed`` marker when the sweeper would otherwise
        think what it just processed (a report, a passed sleep) still waits for a replay."""
        journal = list(replay.journal.values())
        if needs_marker(rec, journal, began):
            self.store.put_journal(rec.execution_id, replayed_marker(began, replay.foreign_seen))

    def _continue_as_new(self, rec: ExecutionRecord, payload: object) -> engine.Outcome:
        new_id = next_generation_id(rec.execution_id)
        check_input_size(payload, what=f"the input of continue_as_new (execution '{new_id}')")
        # The next generation keeps the deadline (as Temporal's execution timeout spans Continue-As-New).
        new, _ = start_execution(
            self.store, self.effects, rec.workflow, payload, execution_id=new_id, deadline=rec.deadline
        )
        if new.deadline is not None and not new.terminal:
            deadline.set_timer(self.effects, new)
        return engine.Outcome(Ending.SUCCEEDED, result={"continued_as_new": new_id})

    def _begin_scheduled(self, rec: ExecutionRecord) -> ExecutionRecord | None:
        now = self.effects.now()
        if rec.cancel_requested:
            return (
                rec
                if self._finish_status(
                    rec,
                    Status.CANCELLED,
                    None,
                    {"type": "stepbridge.errors.ExecutionCancelled", "message": "cancelled before it started"},
                )
                else None
            )
        if rec.scheduled_for and now < parse_iso(rec.scheduled_for):
            # An early delivery of the start timer (Scheduler deleted it), or a duplicate while it is
            # still pending: set it again (same name, so a pending one is kept) rather than lose the start.

            rearm_start(self.effects, rec, rearmed=iso(now))
            return None

        def begin(r: ExecutionRecord) -> bool:
            if r.status != Status.SCHEDULED:
                return False
            r.status = Status.RUNNING
            r.started_at = iso(now)
            return True

        return update_execution(self.store, rec.execution_id, begin)

    def _finish_status(
        self, rec: ExecutionRecord, status: str, result: object, error: dict[str, object] | None
    ) -> bool:
        won = False

        def finish(r: ExecutionRecord) -> bool:
            nonlocal won
            if r.terminal:
                return False
            r.status, r.result, r.error, r.ended_at = status, result, error, iso(self.effects.now())
            won = True
            return True

        try:
            update_execution(self.store, rec.execution_id, finish, current=rec)
        except PayloadTooLarge as exc:
            # ``_fitted`` measured the header and found room, so this is a header the measure got wrong
            # (or one written before inputs were capped). A redelivery would fail the same way for
            # ever: record FAILED with a short error and no progress instead, which always fits.
            logger().error("the outcome did not fit on the execution header", extra={"error": str(exc)[:500]})
            status, result = Status.FAILED, None
            error = {"type": _TOO_LARGE, "message": bounded_text(str(exc), 1024)}

            def fallback(r: ExecutionRecord) -> bool:
                r.progress = None
                return finish(r)

            update_execution(self.store, rec.execution_id, fallback)
        return won

    def _fitted(
        self, rec: ExecutionRecord, status: str, result: object, error: dict[str, object] | None
    ) -> tuple[str, object, dict[str, object] | None]:
        """The outcome to record: as given when it fits on the header (and in the parent's journal),
        else FAILED with ``PayloadTooLarge`` naming the sizes - never an outcome no write can store."""
        error = bounded_error(error) if error is not None else None
        ended = rec.copy()
        ended.status, ended.result, ended.error, ended.ended_at = status, result, error, iso(self.effects.now())
        size = header_bytes(ended)
        report = len(dumps(result).encode()) + 1024 if rec.parent_id and status == Status.SUCCEEDED else 0
        if size <= DYNAMODB_ITEM_BYTES and report <= JOURNAL_PAYLOAD_BYTES:
            return status, result, error
        what = "result" if status == Status.SUCCEEDED else "error"
        value = len(dumps(result if status == Status.SUCCEEDED else error).encode())
        where = (
            f"the execution record would be {size:,} bytes"
            if size > DYNAMODB_ITEM_BYTES
            else f"the report to the parent execution '{rec.parent_id}' would be {report:,} bytes"
        )
        message = (
            f"the {what} of workflow '{rec.workflow}' is {value:,} bytes; with its input "
            f"({len(dumps(rec.input).encode()):,} bytes) {where}, over DynamoDB's 400 KB item limit "
            f"({DYNAMODB_ITEM_BYTES:,} bytes); return a reference to the data (an id or S3 key) instead"
        )
        return Status.FAILED, None, {"type": _TOO_LARGE, "message": message, "mro": _TOO_LARGE_MRO}

    def finish(self, rec: ExecutionRecord, outcome: engine.Outcome, journal: list[JournalRecord]) -> None:
        """Tidy up, cancel children, notify the parent, and only then record the terminal status.

        Every step before the status write is idempotent (deleting timers and waiters, cancel
        requests, the parent's conditional journal append and a de-duplicated wake-up). If the
        invocation dies or is throttled anywhere in between, the message is redelivered, the
        replay reaches the same outcome from the same journal and the tail runs again. Writing
        the status first would lose the tail for good: a redelivered message finds the execution
        finished and does nothing, so the parent would wait forever.
        """
        status: str = Ending(outcome.kind).status
        # Decided before anything is written, so the parent hears the outcome the header will hold.
        status, result, error = self._fitted(
            rec, status, outcome.result if status == Status.SUCCEEDED else None, outcome.error
        )
        self._cleanup(rec, journal)
        # Open human tasks and callbacks of an ended execution can never be answered: cancel them.
        cancel_open_tasks(self.store, self.effects, journal, reason=f"execution {status}")
        cancel_open_callbacks(self.store, self.effects, rec.execution_id, journal, ended=status)
        if status in (Status.CANCELLED, Status.TIMED_OUT):
            self._cancel_children(journal, compensate=rec.cancel_compensate)
        if rec.parent_id and rec.parent_op:
            self._notify_parent(rec, status, result, error)
        won = self._finish_status(rec, status, result, error)
        self._ended(rec.execution_id)  # (whoever wrote it, the header is terminal now)
        if not won:
            return
        self.stats["finished"] += 1
        add_metric(
            "WorkflowCompleted" if status == Status.SUCCEEDED else f"Workflow{status.title().replace('_', '')}",
            1,
            workflow=rec.workflow,
        )

    def _cleanup(self, rec: ExecutionRecord, journal: list[JournalRecord]) -> None:
        """Delete timers and waiters of operations that will never complete now (and the deadline's timer)."""
        now = self.effects.now()
        if rec.deadline is not None:
            self.effects.cancel_timer(keys.deadline_timer_name(rec.execution_id))
        by_op: dict[str, dict[str, JournalRecord]] = {}
        for r in journal:
            by_op.setdefault(r.op, {})[r.key] = r
        for key in pending_covers(journal, now):
            self.effects.cancel_timer(timer_name(rec.execution_id, key))
        for op, records in by_op.items():
            final = records.get(op)
            if final is not None and final.is_final:
                continue
            types: set[str] = set()
            for r in records.values():
                types.add(r.type)
                if r.kind in TIMED_KINDS and (r.kind != Kind.DISPATCH or own_timer(r)):
                    self.effects.cancel_timer(timer_name(rec.execution_id, r.key))
            if OpType.SLEEP in types and Sleep.outstanding(Sleep.state(op, records), now):
                self.effects.cancel_timer(timer_name(rec.execution_id, op))
            # (a registered wait is one of the op's records: without a wait record there is none)
            registered = WaitFor.state(op, records).started if OpType.WAIT in types else None
            if registered is not None and registered.type == OpType.WAIT:
                event_type = str(registered.data.get("event_type"))
                self.store.delete_item(keys.waiter_pk(event_type), keys.waiter_sk(rec.execution_id, op))

    def _cancel_children(self, journal: list[JournalRecord], *, compensate: bool) -> None:
        """Cancel unfinished children; a parent cancelled with compensation has its children compensate too."""
        for r in journal:
            if r.type == OpType.CHILD and r.is_dispatch:
                child = self.store.get_execution(str(r.data.get("child_id")))
                if child is not None and not child.terminal:
                    request_cancel(
                        self.store, self.effects, child.execution_id, compensate=compensate or child.cancel_compensate
                    )

    def _notify_parent(
        self, rec: ExecutionRecord, status: str, result: object, error: dict[str, object] | None
    ) -> None:
        assert rec.parent_id and rec.parent_op
        kind = Kind.RESULT if status == Status.SUCCEEDED else Kind.ERROR
        data: dict[str, object] = {"child_id": rec.execution_id, "status": status}
        if status == Status.SUCCEEDED:
            data["result"] = result
        else:
            data["error"] = error
        report = JournalRecord(
            key=rec.parent_op, op=rec.parent_op, type=OpType.CHILD, kind=kind, data=data, at=iso(self.effects.now())
        )
        won = self.store.append_journal(rec.parent_id, report)
        # A redelivered finish may find its own earlier report: announce just the key then.
        self.effects.wake(report_wake(rec.parent_id, Reason.CHILD, keys.child_dedup(rec.parent_op), report, won=won))


#: Wake-up reasons that only announce reports: they concern the operations whose records they carry.
_REPORTS_ONLY = frozenset({Reason.STEP, Reason.CHILD})


def _alone(outcome: engine.Outcome, op: str) -> bool:
    """Whether the suspended workflow waits for declared step ``op`` and nothing else (runtime/stepreply.py)."""
    parked = outcome.parked.waiting if outcome.parked is not None else None
    return alone(op, parked, outcome.replay.session.suspensions() if outcome.replay is not None else 0)


def _concerned(message: WakeMessage, known: Mapping[str, JournalRecord]) -> list[str] | None:
    """The parked operations a wake-up concerns besides those with new records: for a wake-up that only
    announces reports, those of reports already ``known`` (a duplicate); every one (``None``) for a timer,
    an event, a cancellation or anything else."""
    merged = (message.data or {}).get("reasons")
    reasons = {str(message.reason), *(str(r) for r in merged)} if isinstance(merged, list) else {str(message.reason)}
    if message.timer_keys or not reasons <= _REPORTS_ONLY:
        return None
    return [known[str(r["key"])].op for r in message.reports if str(r["key"]) in known]
