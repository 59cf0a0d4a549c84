"""One row per operation of an execution (step, declared step, wait, sleep, child), built from its history.

Each row has start, end, duration, attempts, errors, deadlines and its parallel group; the timeline
also carries progress and sent-event markers. The terminal table (``text.py``) and the HTML report
(``stepbridge.operator.report``) draw the same rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from stepbridge.runtime.records import parse_iso
from stepbridge.runtime.vocabulary import TERMINAL, Status
from stepbridge.timeline.entries import INTERNAL, entry_field, error_text, short


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (parse_iso(end) - parse_iso(start)).total_seconds()


@dataclass
class TimelineRow:
    """One operation of an execution.

    ``kind`` is ``step`` (inline, ran in the orchestrator), ``lambda`` (a declared step, its own
    function), ``wait`` (``wait_for``), ``sleep``, ``child`` or ``cache`` (a whole-workflow cache
    hit). ``status`` is ``succeeded``, ``failed``, ``cached``, ``running``, ``retrying``,
    ``waiting``, ``received``, ``timed-out`` (raised ``WaitTimeout``), ``defaulted`` (timed out and
    returned its ``default=``, not a failure), ``sleeping``, ``slept`` or ``cancelled``.
    ``deadline`` is a wait's timeout, a sleep's wake-up time, a retry's next attempt or a
    declared step's report-by time. ``group`` numbers the sequential stages; rows sharing a
    group overlapped in time (parallel). ``first``/``last`` index the history entries it spans.
    """

    name: str
    kind: str
    status: str
    start: str | None = None
    end: str | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    deadline: str | None = None
    note: str = ""
    retries: list[dict[str, Any]] = field(default_factory=list)
    child_id: str | None = None
    target: str | None = None  # a declared step's function, a child's workflow, a wait's event type
    result: object = None
    group: int = 0
    first: int = 0
    last: int = 0

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (``None`` while it has not ended)."""
        return _seconds(self.start, self.end)

    @property
    def failed(self) -> bool:
        """It ended in failure (failed step or child, timed-out wait)."""
        return self.status in ("failed", "timed-out")

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form (``--json``), with ``duration`` in seconds."""
        data = asdict(self)
        data["duration"] = self.duration
        return data


@dataclass
class Marker:
    """A point on the timeline: ``progress`` (``ctx.progress``) or ``sent`` (``ctx.send``)."""

    kind: str
    time: str
    label: str
    detail: dict[str, object] = field(default_factory=dict)
    index: int = 0

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form."""
        return asdict(self)


@dataclass
class Timeline:
    """An execution as rows (operations) and markers (progress, sent events), with its outcome."""

    execution_id: str
    workflow: str
    status: str
    start: str | None
    end: str | None
    rows: list[TimelineRow]
    markers: list[Marker]
    progress: dict[str, Any] | None = None
    result: object = None
    error: dict[str, object] | None = None
    #: The custom status (``ctx.set_status``) from the description, if any.
    custom_status: object = None
    #: The latest instant the history knows of (the end, or the last fact of a running execution).
    last_seen: str | None = None

    @property
    def duration(self) -> float | None:
        """Seconds from start to end (``None`` while running)."""
        return _seconds(self.start, self.end)

    @property
    def span(self) -> float:
        """Seconds the chart must cover: start to end, or to the last fact while running."""
        return max(0.0, _seconds(self.start, self.end or self.last_seen) or 0.0)

    def offset(self, when: str | None) -> float | None:
        """Seconds from the execution's start to ``when``."""
        return _seconds(self.start, when)

    def groups(self) -> list[list[TimelineRow]]:
        """Rows by sequential stage; a stage with several rows ran them in parallel."""
        stages: dict[int, list[TimelineRow]] = {}
        for row in self.rows:
            stages.setdefault(row.group, []).append(row)
        return [stages[k] for k in sorted(stages)]

    def row(self, name: str) -> TimelineRow:
        """The row of the operation ``name`` (``KeyError`` if there is none)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        """Plain-dict form (``stepbridge executions show --json``)."""
        return {
            "execution_id": self.execution_id,
            "workflow": self.workflow,
            "status": self.status,
            "start": self.start,
            "end": self.end,
            "duration": self.duration,
            "progress": self.progress,
            "custom_status": self.custom_status,
            "result": self.result,
            "error": self.error,
            "steps": [r.to_dict() for r in self.rows],
            "markers": [m.to_dict() for m in self.markers],
        }


_TERMINAL_TYPES = {
    "Workflow.completed": Status.SUCCEEDED,
    "Workflow.failed": Status.FAILED,
    "Workflow.cancelled": Status.CANCELLED,
    "Workflow.timed_out": Status.TIMED_OUT,
}


def build_timeline(history: Sequence[object], description: object = None, *, now: str | None = None) -> Timeline:
    """Fold ``client.history(id)`` into a :class:`Timeline` (``description`` = ``client.describe(id)``).

    Without a description the execution's identity and outcome come from the history alone.
    ``now`` (ISO-8601) is the clock's current time: a running execution's chart extends to it.
    """
    entries = list(history)
    workflow, status, start, end = "", str(Status.RUNNING), None, None
    result: object = None
    error: dict[str, object] | None = None
    times = [str(entry_field(e, "time")) for e in entries if entry_field(e, "time")]
    for entry in entries:
        detail_type, detail = entry_field(entry, "detail_type"), entry_field(entry, "detail") or {}
        if detail_type == "Workflow.started" and not entry_field(entry, "sent"):
            workflow = str(detail.get("workflow", ""))
            start = entry_field(entry, "time") or None
        elif detail_type in _TERMINAL_TYPES and not entry_field(entry, "sent"):
            status = _TERMINAL_TYPES[detail_type]
            end = entry_field(entry, "time") or None
            result, error = detail.get("result"), detail.get("error")
    progress = None
    execution_id = ""
    if description is not None:
        execution_id = str(entry_field(description, "execution_id") or "")
        workflow = str(entry_field(description, "workflow") or workflow)
        status = str(entry_field(description, "status") or status)
        start = entry_field(description, "started_at") or start
        end = entry_field(description, "ended_at") or end
        progress = entry_field(description, "progress")
        result = entry_field(description, "result") if status == Status.SUCCEEDED else result
        error = dict(entry_field(description, "error")) if entry_field(description, "error") else error
    terminal = status in TERMINAL
    last_seen = end if terminal and end else max([*times, *([now] if now else [])], default=start)
    rows, markers = _fold(entries, terminal, end, last_seen)
    if progress is None:
        last_progress = [m for m in markers if m.kind == "progress"]
        progress = dict(last_progress[-1].detail) if last_progress else None
    _assign_groups(rows)
    custom = entry_field(description, "custom_status") if description is not None else None
    return Timeline(execution_id, workflow, status, start, end, rows, markers, progress, result, error,
                    custom, last_seen)


def _fold(
    entries: list[object], terminal: bool, end: str | None, last_seen: str | None
) -> tuple[list[TimelineRow], list[Marker]]:
    rows: dict[str, TimelineRow] = {}
    markers: list[Marker] = []
    previous_time: str | None = None
    for index, entry in enumerate(entries):
        detail_type = str(entry_field(entry, "detail_type") or "")
        detail: dict[str, object] = entry_field(entry, "detail") or {}
        when: str | None = entry_field(entry, "time") or None
        if entry_field(entry, "sent"):
            markers.append(Marker("sent", when or "", detail_type, dict(detail), index))
        elif detail_type == "Workflow.progress":
            label = f"{detail.get('step')}/{detail.get('total')} {detail.get('message') or ''}".rstrip()
            info = {k: detail.get(k) for k in ("step", "total", "message")}
            markers.append(Marker("progress", when or "", label, info, index))
        elif detail_type not in INTERNAL and detail_type not in ("Workflow.started", *_TERMINAL_TYPES):
            name = str(detail.get("name") or detail_type)
            row = rows.get(name)
            if row is None:
                row = rows[name] = TimelineRow(name, "step", "running", first=index)
                row.start = previous_time if detail_type in _OUTCOME_ONLY else when
            row.last = index
            _apply(row, detail_type, detail, when)
        if when:
            previous_time = when
    for row in rows.values():
        _close(row, terminal, end, last_seen)
    return list(rows.values()), markers


#: Facts that can be an operation's first record although it began earlier (inline steps).
_OUTCOME_ONLY = frozenset({"Step.completed", "Step.failed", "Step.attempt_failed", "Workflow.cache_hit"})


def _apply(row: TimelineRow, detail_type: str, detail: dict[str, Any], when: str | None) -> None:
    """Fold one journal fact into its operation's row."""
    if detail_type == "Step.dispatched":
        row.kind = "lambda"
        row.target = str(detail.get("step") or "")
        row.attempts = max(row.attempts, int(detail.get("attempt") or 1))
        row.deadline = detail.get("deadline")
        row.status = "running"
    elif detail_type == "Step.retry_scheduled":
        row.status = "retrying"
        row.deadline = detail.get("retry_at")
        _retry(row, int(detail.get("attempt") or 0), when, detail)
    elif detail_type == "Step.attempt_failed":
        attempt = int(detail.get("attempt") or 0)
        row.attempts = max(row.attempts, attempt)
        text = error_text(detail.get("error"))
        if text and f"attempt {attempt}: {text}" not in row.errors:
            row.errors = [e for e in row.errors if e != text]  # the final error, recorded at the same instant
            row.errors.append(f"attempt {attempt}: {text}")
        if detail.get("retry_at"):
            row.status = "retrying"
            row.deadline = detail.get("retry_at")
        _retry(row, attempt, when, detail)
    elif detail_type == "Step.completed":
        row.end = when
        row.attempts = int(detail.get("attempts") or 0) if detail.get("cached") else int(detail.get("attempts") or 1)
        row.status = "cached" if detail.get("cached") else "succeeded"
        row.result = detail.get("result")
        row.deadline = None
    elif detail_type == "Step.failed":
        row.end = when
        row.attempts = max(row.attempts, int(detail.get("attempts") or 1))
        row.status = "failed"
        row.deadline = None
        text = error_text(detail.get("error"))
        if text and not any(e.endswith(text) for e in row.errors):
            row.errors.append(text)
    elif detail_type == "Timer.started":
        row.kind = "sleep"
        row.status = "sleeping"
        row.deadline = detail.get("wake_at")
        row.note = f"until {str(detail.get('wake_at', ''))[:19]}"
    elif detail_type == "Wait.started":
        row.kind = "wait"
        row.status = "waiting"
        row.target = str(detail.get("event_type") or "")
        row.deadline = detail.get("deadline")
        match = detail.get("match") or {}
        row.note = f"{row.target} {short(match, 50)}" if match else row.target
    elif detail_type == "Wait.completed":
        row.end = when
        row.status = "received"
        event = detail.get("event") or {}
        row.result = event.get("detail")
    elif detail_type == "Wait.timed_out":
        row.end = when
        if detail.get("default"):
            row.status = "defaulted"
            row.note = f"{row.note} (none before the timeout: default)".strip()
        else:
            row.status = "timed-out"
            row.errors.append(f"no {row.target or 'event'} before {str(row.deadline or '')[:19]}".strip())
    elif detail_type == "Child.started":
        row.kind = "child"
        row.child_id = str(detail.get("child_id") or "")
        row.target = str(detail.get("workflow") or "")
        row.status = "running"
        row.note = f"{row.target} [{row.child_id}]"
    elif detail_type in ("Child.completed", "Child.failed"):
        row.end = when
        fallback = Status.SUCCEEDED if detail_type == "Child.completed" else Status.FAILED
        row.status = str(detail.get("status") or fallback).lower()
        row.result = detail.get("result")
        if detail.get("error"):
            row.errors.append(error_text(detail.get("error")))
    elif detail_type == "Workflow.cache_hit":
        row.kind = "cache"
        row.status = "cached"
        row.end = when
        row.result = detail.get("result")
        row.note = "whole-workflow result from the cache"
    else:
        row.kind = detail_type.split(".", 1)[0].lower()
        row.end = when
        row.status = detail_type.split(".", 1)[-1].lower()


def _retry(row: TimelineRow, attempt: int, when: str | None, detail: dict[str, object]) -> None:
    known = next((r for r in row.retries if r["attempt"] == attempt), None)
    if known is None:
        known = {"attempt": attempt, "failed_at": when, "retry_at": None, "delay": None, "error": ""}
        row.retries.append(known)
    if detail.get("retry_at"):
        known["retry_at"] = detail.get("retry_at")
        known["delay"] = detail.get("delay")
    if detail.get("error"):
        known["error"] = error_text(detail.get("error"))
        known["failed_at"] = known["failed_at"] or when


def _close(row: TimelineRow, terminal: bool, end: str | None, last_seen: str | None) -> None:
    """Settle rows the history leaves open: slept timers, and operations cut short by the end."""
    slept = row.deadline and last_seen and parse_iso(row.deadline) <= parse_iso(last_seen)
    if row.kind == "sleep" and row.end is None and slept:
        row.end, row.status = row.deadline, "slept"
    if row.end is None and terminal:
        row.end = end
        row.status = "cancelled"
    if row.start is None:
        row.start = row.end


def _assign_groups(rows: list[TimelineRow]) -> None:
    """Number sequential stages: a row that began before the current stage ended joins it."""
    group = -1
    stage_end: datetime | None = None
    stage_open = False
    stage_last = -1
    for row in sorted(rows, key=lambda r: (parse_iso(r.start) if r.start else datetime.max, r.first)):
        start = parse_iso(row.start) if row.start else None
        joins = group >= 0 and start is not None and (
            stage_open
            or (stage_end is not None and start < stage_end)
            or (stage_end is not None and start == stage_end and row.first < stage_last)
        )
        if not joins:
            group += 1
            stage_end, stage_open, stage_last = None, False, -1
        row.group = group
        end = parse_iso(row.end) if row.end else None
        if end is None:
            stage_open = True
        elif stage_end is None or end > stage_end:
            stage_end = end
        stage_last = max(stage_last, row.last)
    rows.sort(key=lambda r: (r.group, r.first))
