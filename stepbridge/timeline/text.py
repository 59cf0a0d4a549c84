"""The timeline in a terminal: the event log (one line per journal fact, with offsets) and the rows as a table.

The demo and ``stepbridge run`` print the event log as the execution goes; ``stepbridge executions
show`` prints the table (``stepbridge.operator.report.render_text``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stepbridge.runtime.records import parse_iso
from stepbridge.runtime.vocabulary import Status
from stepbridge.timeline.entries import INTERNAL, entry_field, error_text, offset_text, short
from stepbridge.timeline.rows import Marker, Timeline, TimelineRow

#: The history's endings other than success, and the status each stands for.
_ENDED = {
    "Workflow.failed": Status.FAILED,
    "Workflow.cancelled": Status.CANCELLED,
    "Workflow.timed_out": Status.TIMED_OUT,
}

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


def describe_entry(detail_type: str, detail: dict[str, Any], sent: bool = False) -> str:
    """One line of text for one history entry."""
    name = detail.get("name", "")
    if sent:
        return f"sent {detail_type} {short(detail, 70)}"
    if detail_type == "Step.completed":
        cached = " (cached)" if detail.get("cached") else ""
        attempts = detail.get("attempts", 1)
        tries = f" after {attempts} attempts" if isinstance(attempts, int) and attempts > 1 else ""
        return f"step {name}{cached}{tries} -> {short(detail.get('result'))}"
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
        return f"wait for {detail.get('event_type')} {short(detail.get('match') or {}, 40)}{until}"
    if detail_type == "Wait.completed":
        return f"event received -> {short((detail.get('event') or {}).get('detail'))}"
    if detail_type == "Wait.timed_out":
        return f"wait {name} timed out" + (" (returned its default)" if detail.get("default") else "")
    if detail_type == "Child.started":
        return f"child {detail.get('workflow')} started as {detail.get('child_id')}"
    if detail_type in ("Child.completed", "Child.failed"):
        outcome = short(detail.get("result") or detail.get("error"))
        return f"child {detail.get('child_id')} {detail.get('status')} -> {outcome}"
    if detail_type == "Workflow.progress":
        return f"progress {detail.get('step')}/{detail.get('total')} {detail.get('message') or ''}".rstrip()
    if detail_type == "Workflow.started":
        return f"started {detail.get('workflow')} with {short(detail.get('input'))}"
    if detail_type == "Workflow.completed":
        return f"SUCCEEDED -> {short(detail.get('result'), 80)}"
    if detail_type in _ENDED:
        err = detail.get("error") or {}
        return f"{_ENDED[detail_type]}: {err.get('message', '')}"
    return f"{detail_type} {short(detail)}"


def history_start(history: Sequence[object]) -> datetime | None:
    """The time of the first dated history entry (the execution's start), if any."""
    start_text = next((entry_field(h, "time") for h in history if entry_field(h, "time")), "")
    return parse_iso(start_text) if start_text else None


def format_entry(entry: object, start: datetime | None) -> str:
    """One timeline line for one history entry: offset from ``start``, an icon and a description."""
    sent = bool(entry_field(entry, "sent"))
    detail_type = str(entry_field(entry, "detail_type"))
    icon = "*" if sent else _ICONS.get(detail_type, " ")
    text = describe_entry(detail_type, entry_field(entry, "detail") or {}, sent)
    return f"{offset_text(start, str(entry_field(entry, 'time') or ''))} {icon} {text}"


def render(execution_id: str, workflow: str, history: Sequence[object], *, skip_internal: bool = True) -> str:
    """The timeline of one execution: one line per journal fact, with virtual-time offsets."""
    lines = [f"{workflow}  [{execution_id}]"]
    start = history_start(history)
    for entry in history:
        if skip_internal and entry_field(entry, "detail_type") in INTERNAL:
            continue
        lines.append(f"  {format_entry(entry, start)}")
    return "\n".join(lines)


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
    return offset_text(start, at or "").strip() or "-"


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
        lines.append(f"  result: {short(timeline.result, 100)}")
    elif timeline.error:
        lines.append(f"  error: {error_text(timeline.error)}")
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
