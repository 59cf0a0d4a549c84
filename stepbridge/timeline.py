"""An execution's history as a timeline: one line per journal fact, and one row per operation.

Two views of the same ``client.history(id)``:

* :func:`render` - the event log, one line per journal fact with its offset from the start
  (the demo and ``stepbridge run`` print it as the execution goes);
* :func:`build_timeline` - one :class:`TimelineRow` per operation (step, declared step, wait,
  sleep, child) with start, end, duration, attempts, errors, deadlines and its parallel group,
  plus progress and sent-event markers. :func:`render_table` draws it for a terminal;
  ``stepbridge.operator.report`` draws the same rows as an HTML Gantt chart and a Mermaid path.

What the journal knows about time: each record carries the instant it was written. A declared
step, a wait, a sleep and a child record when they began, so their start is exact. An inline
step records only its outcome, so its start is taken from the journal fact before it (it ran
after that). Operations whose intervals overlap are drawn as one parallel group; on LocalCloud's
virtual clock work takes no time, so steps dispatched together at one instant appear in
journal order there - waits, sleeps and retries, which do take virtual time, still overlap.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from stepbridge.runtime.records import parse_iso
from stepbridge.runtime.vocabulary import TERMINAL, Status

#: Journal facts that are bookkeeping, not operations (left out of timelines).
_INTERNAL = frozenset({"Clock.read", "Patch.patch"})

_ICONS = {
    "Workflow.started": ">",
    "Workflow.completed": "=",
    "Workflow.failed": "x",
    "Workflow.cancelled": "x",
    "Workflow.timed_out": "x",
    "Step.completed": "+",
    "Step.failed": "!",
    "Step.attempt_failed": "~",
    "Step.dispatched": "-",
    "Step.retry_scheduled": ".",
    "Timer.started": "z",
    "Wait.started": "?",
    "Wait.completed": "+",
    "Wait.timed_out": "!",
    "Child.started": "-",
    "Child.completed": "+",
    "Child.failed": "!",
    "Workflow.progress": "%",
}


def _short(value: object, width: int = 60) -> str:
    text = json.dumps(value, default=str, separators=(",", ":")) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def _offset(start: datetime | None, when: str) -> str:
    if not when or start is None:
        return "        "
    delta = parse_iso(when) - start
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"+{days}d{hours:02d}:{minutes:02d}:{secs:02d}" if days else f"+{hours:02d}:{minutes:02d}:{secs:02d}"


def describe_entry(detail_type: str, detail: dict[str, Any], sent: bool = False) -> str:
    """One line of text for one history entry."""
    name = detail.get("name", "")
    if sent:
        return f"sent {detail_type} {_short(detail, 70)}"
    if detail_type == "Step.completed":
        cached = " (cached)" if detail.get("cached") else ""
        attempts = detail.get("attempts", 1)
        tries = f" after {attempts} attempts" if isinstance(attempts, int) and attempts > 1 else ""
        return f"step {name}{cached}{tries} -> {_short(detail.get('result'))}"
    if detail_type in ("Step.failed", "Step.attempt_failed"):
        err = detail.get("error") or {}
        what = "failed" if detail_type == "Step.failed" else f"attempt {detail.get('attempt')} failed"
        retry = f", retry in {detail['delay']:.1f}s" if "delay" in detail else ""
        return f"step {name} {what}: {err.get('type', '').rsplit('.', 1)[-1]}: {err.get('message', '')}{retry}"
    if detail_type == "Step.dispatched":
        return f"step {name} -> Lambda '{detail.get('step')}' (attempt {detail.get('attempt')})"
    if detail_type == "Step.retry_scheduled":
        return f"step {name} retry timer {detail.get('delay', 0):.1f}s"
    if detail_type == "Timer.started":
        return f"sleep {name} until {detail.get('wake_at', '')[:19]}"
    if detail_type == "Wait.started":
        deadline = detail.get("deadline")
        until = f" (timeout {str(deadline)[:19]})" if deadline else ""
        return f"wait for {detail.get('event_type')} {_short(detail.get('match') or {}, 40)}{until}"
    if detail_type == "Wait.completed":
        return f"event received -> {_short((detail.get('event') or {}).get('detail'))}"
    if detail_type == "Wait.timed_out":
        return f"wait {name} timed out" + (" (returned its default)" if detail.get("default") else "")
    if detail_type == "Child.started":
        return f"child {detail.get('workflow')} started as {detail.get('child_id')}"
    if detail_type in ("Child.completed", "Child.failed"):
        outcome = _short(detail.get("result") or detail.get("error"))
        return f"child {detail.get('child_id')} {detail.get('status')} -> {outcome}"
    if detail_type == "Workflow.progress":
        return f"progress {detail.get('step')}/{detail.get('total')} {detail.get('message') or ''}".rstrip()
    if detail_type == "Workflow.started":
        return f"started {detail.get('workflow')} with {_short(detail.get('input'))}"
    if detail_type == "Workflow.completed":
        return f"SUCCEEDED -> {_short(detail.get('result'), 80)}"
    if detail_type in _TERMINAL_TYPES and detail_type != "Workflow.completed":
        err = detail.get("error") or {}
        return f"{_TERMINAL_TYPES[detail_type]}: {err.get('message', '')}"
    return f"{detail_type} {_short(detail)}"


def history_start(history: Sequence[object]) -> datetime | None:
    """The time of the first dated history entry (the execution's start), if any."""
    start_text = next((_get(h, "time") for h in history if _get(h, "time")), "")
    return parse_iso(start_text) if start_text else None


def format_entry(entry: object, start: datetime | None) -> str:
    """One timeline line for one history entry: offset from ``start``, an icon and a description."""
    sent = bool(_get(entry, "sent"))
    detail_type = str(_get(entry, "detail_type"))
    icon = "*" if sent else _ICONS.get(detail_type, " ")
    text = describe_entry(detail_type, _get(entry, "detail") or {}, sent)
    return f"{_offset(start, str(_get(entry, 'time') or ''))} {icon} {text}"


def render(execution_id: str, workflow: str, history: Sequence[object], *, skip_internal: bool = True) -> str:
    """The timeline of one execution: one line per journal fact, with virtual-time offsets."""
    lines = [f"{workflow}  [{execution_id}]"]
    start = history_start(history)
    for entry in history:
        if skip_internal and _get(entry, "detail_type") in _INTERNAL:
            continue
        lines.append(f"  {format_entry(entry, start)}")
    return "\n".join(lines)


# ---- operations as rows ----------------------------------------------------------------------------


def _get(entry: object, key: str) -> Any:
    """A field of a history entry: ``HistoryEvent`` attributes or ``runtime.executions.history`` dicts."""
    if isinstance(entry, dict):
        return entry.get(key)
    return getattr(entry, key, None)


def _error_text(error: object) -> str:
    if not isinstance(error, dict):
        return str(error) if error else ""
    kind = str(error.get("type", "")).rsplit(".", 1)[-1]
    message = str(error.get("message", ""))
    return f"{kind}: {message}" if kind else message


def format_duration(seconds: float | None) -> str:
    """``0s``, ``740ms``, ``2.4s``, ``3m 05s``, ``20h 00m``, ``2d 02h``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds <= 0:
        return "0s"
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    if seconds < 60:
        text = f"{seconds:.1f}".rstrip("0").rstrip(".")
        return f"{text}s"
    total = round(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


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
    times = [str(_get(e, "time")) for e in entries if _get(e, "time")]
    for entry in entries:
        detail_type, detail = _get(entry, "detail_type"), _get(entry, "detail") or {}
        if detail_type == "Workflow.started" and not _get(entry, "sent"):
            workflow = str(detail.get("workflow", ""))
            start = _get(entry, "time") or None
        elif detail_type in _TERMINAL_TYPES and not _get(entry, "sent"):
            status = _TERMINAL_TYPES[detail_type]
            end = _get(entry, "time") or None
            result, error = detail.get("result"), detail.get("error")
    progress = None
    execution_id = ""
    if description is not None:
        execution_id = str(_get(description, "execution_id") or "")
        workflow = str(_get(description, "workflow") or workflow)
        status = str(_get(description, "status") or status)
        start = _get(description, "started_at") or start
        end = _get(description, "ended_at") or end
        progress = _get(description, "progress")
        result = _get(description, "result") if status == Status.SUCCEEDED else result
        error = dict(_get(description, "error")) if _get(description, "error") else error
    terminal = status in TERMINAL
    last_seen = end if terminal and end else max([*times, *([now] if now else [])], default=start)
    rows, markers = _fold(entries, terminal, end, last_seen)
    if progress is None:
        last_progress = [m for m in markers if m.kind == "progress"]
        progress = dict(last_progress[-1].detail) if last_progress else None
    _assign_groups(rows)
    custom = _get(description, "custom_status") if description is not None else None
    return Timeline(execution_id, workflow, status, start, end, rows, markers, progress, result, error,
                    custom, last_seen)


def _fold(
    entries: list[object], terminal: bool, end: str | None, last_seen: str | None
) -> tuple[list[TimelineRow], list[Marker]]:
    rows: dict[str, TimelineRow] = {}
    markers: list[Marker] = []
    previous_time: str | None = None
    for index, entry in enumerate(entries):
        detail_type = str(_get(entry, "detail_type") or "")
        detail: dict[str, object] = _get(entry, "detail") or {}
        when: str | None = _get(entry, "time") or None
        if _get(entry, "sent"):
            markers.append(Marker("sent", when or "", detail_type, dict(detail), index))
        elif detail_type == "Workflow.progress":
            label = f"{detail.get('step')}/{detail.get('total')} {detail.get('message') or ''}".rstrip()
            info = {k: detail.get(k) for k in ("step", "total", "message")}
            markers.append(Marker("progress", when or "", label, info, index))
        elif detail_type not in _INTERNAL and detail_type not in ("Workflow.started", *_TERMINAL_TYPES):
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
        text = _error_text(detail.get("error"))
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
        text = _error_text(detail.get("error"))
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
        row.note = f"{row.target} {_short(match, 50)}" if match else row.target
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
            row.errors.append(_error_text(detail.get("error")))
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
        known["error"] = _error_text(detail.get("error"))
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


# ---- the rows in a terminal --------------------------------------------------------------------------

_BAR = 24
_BAR_CHARS = {"lambda": "#", "step": "#", "wait": "~", "sleep": ".", "child": "=", "cache": "#"}


def _bar(timeline: Timeline, row: TimelineRow) -> str:
    span = timeline.span
    begin = timeline.offset(row.start) or 0.0
    finish = timeline.offset(row.end or timeline.last_seen) or begin
    if span <= 0:
        left, width = 0, 1
    else:
        left = min(_BAR - 1, int(begin / span * _BAR))
        width = max(1, round((finish - begin) / span * _BAR))
        width = min(width, _BAR - left)
    fill = "!" if row.failed else _BAR_CHARS.get(row.kind, "#")
    return "[" + " " * left + fill * width + " " * (_BAR - left - width) + "]"


def _when(timeline: Timeline, at: str | None) -> str:
    start = parse_iso(timeline.start) if timeline.start else None
    return _offset(start, at or "").strip() or "-"


def render_table(timeline: Timeline, *, notes: bool = True) -> str:
    """The rows as a terminal table: offsets, durations, attempts, status and a small bar chart.

    Parallel stages are bracketed (``/``, ``|``, ``\\``); notes under a row give errors, deadlines,
    retries, children and what a wait waits for.
    """
    head = f"{timeline.workflow}  [{timeline.execution_id}]  {timeline.status}" if timeline.execution_id else (
        f"{timeline.workflow}  {timeline.status}"
    )
    if timeline.duration is not None:
        head += f" in {format_duration(timeline.duration)}"
    lines = [head]
    facts = []
    if timeline.start:
        facts.append(f"started {timeline.start[:19].replace('T', ' ')} UTC")
    if timeline.end:
        facts.append(f"ended {timeline.end[:19].replace('T', ' ')} UTC")
    if timeline.progress:
        p = timeline.progress
        facts.append(f"progress {p.get('step')}/{p.get('total')} {p.get('message') or ''}".rstrip())
    if timeline.custom_status is not None:
        facts.append(f"status {json.dumps(timeline.custom_status, sort_keys=True)[:200]}")
    if facts:
        lines.append("  " + " | ".join(facts))
    width = max([len(r.name) for r in timeline.rows] + [9])
    lines.append(
        f"    {'OPERATION':<{width}}  {'KIND':<6}  {'START':>11}  {'END':>11}  {'DURATION':>8}  {'TRIES':>5}  "
        f"{'STATUS':<9}  TIMELINE ({format_duration(timeline.span)})"
    )
    pending = list(timeline.markers) if notes else []
    for stage in timeline.groups():
        while pending and pending[0].index < min(r.first for r in stage):
            lines.append(_marker_line(timeline, pending.pop(0)))
        for i, row in enumerate(stage):
            mark = " " if len(stage) == 1 else ("/" if i == 0 else ("\\" if i == len(stage) - 1 else "|"))
            tries = str(row.attempts) if row.kind in ("step", "lambda") else "-"
            lines.append(
                f"  {mark} {row.name:<{width}}  {row.kind:<6}  {_when(timeline, row.start):>11}  "
                f"{_when(timeline, row.end) if row.end else '...':>11}  {format_duration(row.duration):>8}  "
                f"{tries:>5}  {row.status:<9}  {_bar(timeline, row)}"
            )
            if notes:
                inside = "|" if len(stage) > 1 and i < len(stage) - 1 else " "
                lines.extend(f"  {inside}     {n}" for n in _notes(row))
    lines.extend(_marker_line(timeline, m) for m in pending)
    if timeline.status == Status.SUCCEEDED:
        lines.append(f"  result: {_short(timeline.result, 100)}")
    elif timeline.error:
        lines.append(f"  error: {_error_text(timeline.error)}")
    return "\n".join(lines)


def _marker_line(timeline: Timeline, marker: Marker) -> str:
    what = "progress" if marker.kind == "progress" else "sent"
    pad = max([len(r.name) for r in timeline.rows] + [9]) + 8
    return f"    {'':<{pad}}  {_when(timeline, marker.time):>11}  {what} {marker.label}"


def _notes(row: TimelineRow) -> list[str]:
    notes = []
    if row.kind == "lambda" and row.target:
        notes.append(f"runs in Lambda step '{row.target}'")
    if row.note:
        notes.append(row.note)
    for retry in row.retries:
        if retry.get("retry_at"):
            delay = retry.get("delay")
            wait = f" after {format_duration(float(delay))} backoff" if isinstance(delay, int | float) else ""
            notes.append(f"retry of attempt {retry['attempt']} at {str(retry['retry_at'])[:23]}{wait}")
    notes.extend(f"error: {e}" for e in row.errors)
    if row.deadline and row.end is None:
        label = {"wait": "times out", "sleep": "wakes", "lambda": "must report by"}.get(row.kind, "next attempt")
        notes.append(f"{label} {str(row.deadline)[:19]}")
    elif row.kind == "wait" and row.deadline:
        notes.append(f"deadline was {str(row.deadline)[:19]}")
    return notes
