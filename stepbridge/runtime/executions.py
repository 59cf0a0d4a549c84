"""Execution lifecycle shared by the client, the HTTP API and the handlers: start, cancel, finish."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from stepbridge.errors import ExecutionAlreadyExists, ExecutionNotFound
from stepbridge.runtime import keys, payloads
from stepbridge.runtime.codec import content_hash, to_json_value
from stepbridge.runtime.execution_ids import check_execution_id
from stepbridge.runtime.ids import new_uuid
from stepbridge.runtime.limits import (
    DYNAMODB_ITEM_BYTES,
    EXECUTION_RESERVE_BYTES,
    MAX_INPUT_BYTES,
    check_json_size,
    json_size,
)
from stepbridge.runtime.ports import Effects, Store
from stepbridge.runtime.records import (
    RUNNING,
    ExecutionRecord,
    JournalRecord,
    WakeMessage,
    iso,
    parse_iso,
)
from stepbridge.runtime.vocabulary import Kind, OpType, Reason, Status


def check_input_size(data: object, *, what: str) -> int:
    """An input must leave room on the execution header for the outcome; returns its JSON size.

    The header holds the input with the result or error; inputs are capped at ``MAX_INPUT_BYTES``
    (DynamoDB's 400 KB item limit less ``EXECUTION_RESERVE_BYTES``) so that a failure can always
    be recorded beside them.
    """
    return check_json_size(data, MAX_INPUT_BYTES, lambda size: (
        f"{what} is {size:,} bytes, over the {MAX_INPUT_BYTES:,}-byte input limit (DynamoDB's 400 KB item "
        f"limit, {DYNAMODB_ITEM_BYTES:,} bytes, less {EXECUTION_RESERVE_BYTES:,} kept for the outcome); "
        "pass a reference (an id or S3 key) instead of the data"
    ))


#: Bytes an execution header item adds around its JSON body: key and index attributes, generously.
_HEADER_KEY_BYTES = 512


def header_bytes(record: ExecutionRecord) -> int:
    """The stored size of ``record``'s header item (slightly over, never under, the real one)."""
    ids = len(record.execution_id.encode()) * 3 + len(record.workflow.encode()) * 2 + len(record.created_at) * 2
    return json_size(record.to_dict()) + ids + _HEADER_KEY_BYTES


def update_execution(
    store: Store,
    execution_id: str,
    mutate: Callable[[ExecutionRecord], object],
    *,
    current: ExecutionRecord | None = None,
) -> ExecutionRecord | None:
    """Read-modify-write an execution header with optimistic locking, retrying on conflicts.

    ``current`` is a header the caller just read: the first try writes from a copy of it
    without reading again (a conflict falls back to fresh reads).
    """
    for attempt in range(20):
        rec = current.copy() if attempt == 0 and current is not None else store.get_execution(execution_id)
        if rec is None:
            return None
        if mutate(rec) is False:
            return rec
        if store.save_execution(rec):
            rec.version += 1
            return rec
    raise RuntimeError(f"could not update execution '{execution_id}': too many concurrent updates")


def start_execution(
    store: Store,
    effects: Effects,
    workflow: str,
    payload: Any,
    *,
    execution_id: str | None = None,
    at: datetime | None = None,
    deadline: str | None = None,
) -> tuple[ExecutionRecord, bool]:
    """Create an execution (idempotent by id) and wake it now or at ``at``.

    ``deadline``: an execution deadline it inherits (``continue_as_new``; the caller sets its timer with
    ``deadline.set_timer``). Returns ``(record, created)``. The same id with the same workflow and input returns the
    existing execution; with a different workflow or input it raises ``ExecutionAlreadyExists``.
    """
    exec_id = check_execution_id(execution_id) if execution_id else new_uuid().hex
    what = f"the input of workflow '{workflow}'"
    data = payloads.store_value(to_json_value(payload, what=what), what=what)
    check_input_size(data, what=f"the input of workflow '{workflow}' (execution '{exec_id}')")
    now = effects.now()
    deferred = at is not None and at > now
    record = ExecutionRecord(
        execution_id=exec_id,
        workflow=workflow,
        status=Status.SCHEDULED if deferred else Status.RUNNING,
        input=data,
        input_hash=content_hash(data),
        created_at=iso(now),
        started_at=None if deferred else iso(now),
        scheduled_for=iso(at) if deferred and at else None,
        deadline=deadline,
    )
    if not store.create_execution(record):
        existing = store.get_execution(exec_id)
        if existing is None:  # deleted in between: extremely unlikely, report clearly
            raise ExecutionAlreadyExists(f"execution '{exec_id}' could not be created; try again")
        if existing.workflow != workflow or existing.input_hash != record.input_hash:
            raise ExecutionAlreadyExists(
                f"execution '{exec_id}' already exists for workflow '{existing.workflow}' with a different input; "
                "use a new execution id or the same input"
            )
        _rearm_start(effects, existing)
        return existing, False
    if deferred and at is not None:
        effects.schedule_timer(_start_timer(exec_id), at, _start_message(exec_id))
    else:
        effects.wake(_start_message(exec_id))
    return record, True


def _rearm_start(effects: Effects, existing: ExecutionRecord) -> None:
    """A repeated start of an unfinished execution sends its start wake-up again.

    The first caller may have died between creating the execution and waking it (a crashed
    router or orchestrator, a throttled SendMessage): the execution would then sit RUNNING with
    nothing to wake it, and retries of the start would only find it. Re-sending is harmless:
    FIFO de-duplication drops it within 5 minutes, and a later wake-up replays to the same place.
    """
    if existing.status == Status.RUNNING:
        effects.wake(_start_message(existing.execution_id))
    elif existing.status == Status.SCHEDULED:
        rearm_start(effects, existing)


def rearm_start(effects: Effects, rec: ExecutionRecord, *, rearmed: str | None = None) -> None:
    """Set the start timer of a SCHEDULED execution (again); ``rearmed`` marks a copy set after an
    early delivery, so that the work queue's content-based de-duplication does not drop it."""
    if rec.scheduled_for:
        effects.schedule_timer(
            _start_timer(rec.execution_id),
            parse_iso(rec.scheduled_for),
            _start_message(rec.execution_id, {"rearmed": rearmed} if rearmed else None),
        )


def _start_message(execution_id: str, data: dict[str, Any] | None = None) -> WakeMessage:
    return WakeMessage(execution_id, Reason.START, keys.START_DEDUP, data)


_start_timer = keys.start_timer_name


def request_cancel(store: Store, effects: Effects, execution_id: str, *, compensate: bool = False) -> ExecutionRecord:
    """Ask an execution to stop; the orchestrator finishes it as CANCELLED (running compensations if asked)."""
    rec = update_execution(store, execution_id, lambda r: _mark_cancel(r, compensate))
    if rec is None:
        raise ExecutionNotFound(f"no execution '{execution_id}'")
    if not rec.terminal:
        if rec.status == Status.SCHEDULED:
            effects.cancel_timer(_start_timer(execution_id))
        effects.wake(WakeMessage(execution_id, Reason.CANCEL, keys.CANCEL_DEDUP))
    return rec


def _mark_cancel(rec: ExecutionRecord, compensate: bool) -> bool:
    if rec.terminal or rec.cancel_requested:
        return False
    rec.cancel_requested = True
    rec.cancel_compensate = compensate
    return True


def cut_cancel(store: Store, rec: ExecutionRecord, now: datetime) -> ExecutionRecord:
    """Stamp ``cancelled_at`` (the cut) the first time a ``cancel(compensate=True)`` is handled: outside
    compensations the unwinding replays then see the journal and the clock as they were at ``now`` (as at the
    deadline, runtime/deadline.py), so a report arriving while a declared compensation is in flight cannot
    move the workflow past where it was stopped. A cancel without compensation replays nothing: no cut."""

    def stamp(r: ExecutionRecord) -> bool:
        if r.terminal or not r.cancel_compensate or r.cut is not None:
            return False
        r.cancelled_at = iso(now)
        return True

    return update_execution(store, rec.execution_id, stamp, current=rec) or rec


#: The ``detail_type`` of each journal record in ``history`` (others read ``{Type}.{kind}``); public names.
HISTORY_NAMES: dict[tuple[str, str], str] = {
    (OpType.STEP, Kind.RESULT): "Step.completed",
    (OpType.STEP, Kind.ERROR): "Step.failed",
    (OpType.STEP, Kind.ATTEMPT): "Step.attempt_failed",
    (OpType.STEP, Kind.DISPATCH): "Step.dispatched",
    (OpType.STEP, Kind.RETRY): "Step.retry_scheduled",
    (OpType.STEP, Kind.STARTED): "Step.started",
    (OpType.SLEEP, Kind.TIMER): "Timer.started",
    (OpType.WAIT, Kind.WAIT): "Wait.started",
    (OpType.WAIT, Kind.RESULT): "Wait.completed",
    (OpType.WAIT, Kind.TIMEOUT): "Wait.timed_out",
    (OpType.CHILD, Kind.DISPATCH): "Child.started",
    (OpType.CHILD, Kind.RESULT): "Child.completed",
    (OpType.CHILD, Kind.ERROR): "Child.failed",
    (OpType.PROGRESS, Kind.PROGRESS): "Workflow.progress",
    (OpType.STATUS, Kind.STATUS): "Workflow.status",
    (OpType.NOW, Kind.NOW): "Clock.read",
    (OpType.CACHE, Kind.RESULT): "Workflow.cache_hit",
}
_ENDED_NAMES: dict[str, str] = {
    Status.SUCCEEDED: "Workflow.completed",
    Status.FAILED: "Workflow.failed",
    Status.CANCELLED: "Workflow.cancelled",
    Status.TIMED_OUT: "Workflow.timed_out",
}


def history(journal: list[JournalRecord], record: ExecutionRecord) -> list[dict[str, Any]]:
    """The execution's journal as a time-ordered list of ``{detail_type, detail, time}`` events."""
    events: list[dict[str, Any]] = [
        {
            "detail_type": "Workflow.started",
            "detail": {"workflow": record.workflow, "input": record.input},
            "time": record.started_at or record.created_at,
        }
    ]
    for rec in sorted(journal, key=_history_order(journal)):
        if rec.key.startswith(keys.REPLAYED) or rec.is_ack:
            continue  # bookkeeping (for the sweeper and the journal cache), not a fact of the execution
        if rec.type == OpType.SEND:
            events.append(
                {
                    "detail_type": str(rec.data.get("type")),
                    "detail": rec.data.get("detail") or {},
                    "time": rec.at,
                    "sent": True,
                    "name": rec.op,
                }
            )
            continue
        detail_type = HISTORY_NAMES.get((rec.type, rec.kind), f"{rec.type.capitalize()}.{rec.kind}")
        events.append({"detail_type": detail_type, "detail": {"name": rec.op, **rec.data}, "time": rec.at})
    if record.terminal:
        kind = _ENDED_NAMES[record.status]
        events.append(
            {
                "detail_type": kind,
                "detail": {"result": record.result, "error": record.error},
                "time": record.ended_at or "",
            }
        )
    return events


def _history_order(journal: list[JournalRecord]) -> Callable[[JournalRecord], tuple[str, float, str]]:
    """The sort key of the history's records.

    Orchestrator records carry their write order. A report of another writer (a step's attempt or
    result, a child's outcome) sorts right after the dispatch it answers, before whatever the
    orchestrator wrote on reading it - as real clocks order them in AWS, where the report is written
    before the orchestrator wakes; LocalCloud's clock may give both the same instant.
    """
    dispatched: dict[str, list[tuple[str, int]]] = {}
    for rec in journal:
        if rec.seq and rec.is_dispatch:
            dispatched.setdefault(rec.op, []).append((rec.at, rec.seq))

    def order(rec: JournalRecord) -> tuple[str, float, str]:
        if rec.seq:
            return rec.at, float(rec.seq), rec.key
        before = [seq for at, seq in dispatched.get(rec.op, []) if at <= rec.at]
        return rec.at, (max(before) if before else 0) + 0.5, rec.key

    return order


__all__ = [
    "RUNNING",
    "check_execution_id",
    "check_input_size",
    "cut_cancel",
    "header_bytes",
    "history",
    "request_cancel",
    "start_execution",
    "update_execution",
]
