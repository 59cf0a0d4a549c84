"""Pictures of one execution, all built from the same :func:`~stepbridge.timeline.build_timeline` rows.

* :func:`render_text` - the terminal view of ``stepbridge executions show`` (rows + event log);
* :func:`timeline_json` - the ``--json`` document;
* :func:`mermaid_path` - a Mermaid flowchart of the path the execution actually took;
* :func:`render_html` - a self-contained HTML page (inline CSS, no scripts, no external assets)
  with the timeline as a Gantt chart.

``description`` is what ``client.describe(id)`` returns and ``history`` what ``client.history(id)``
returns (or their dict forms), so these work on LocalCloud executions and deployed ones alike.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Sequence
from typing import Any

from stepbridge.runtime.vocabulary import Status, is_terminal
from stepbridge.timeline import (
    Marker,
    Timeline,
    TimelineRow,
    build_timeline,
    format_duration,
    format_entry,
    history_start,
    render_table,
)

_INTERNAL_TYPES = ("Clock.read", "Patch.patch")


def _field(obj: object, key: str) -> object:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _dict(obj: object) -> dict[str, object]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return dict(obj)
    to_dict = getattr(obj, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else dict(vars(obj))


def _json(value: object, indent: int | None = 2) -> str:
    return json.dumps(value, indent=indent, default=str, sort_keys=True, ensure_ascii=False)


def event_log(history: Sequence[object]) -> list[str]:
    """The history as timeline lines (offset, icon, description), internal bookkeeping left out."""
    start = history_start(history)
    return [format_entry(e, start) for e in history if _field(e, "detail_type") not in _INTERNAL_TYPES]


# ---- terminal and JSON ---------------------------------------------------------------------------------


def render_text(description: object, history: Sequence[object], *, now: str | None = None) -> str:
    """``stepbridge executions show``: the operations table, then every journal fact in order."""
    timeline = build_timeline(history, description, now=now)
    lines = [render_table(timeline), "", "  history:"]
    lines.extend(f"    {line}" for line in event_log(history))
    if _field(description, "cancel_requested") and not is_terminal(timeline.status):
        lines.append("  (cancel requested; the orchestrator finishes it as CANCELLED)")
    if _field(description, "deadline") and not is_terminal(timeline.status):
        lines.append(f"  (deadline {_field(description, 'deadline')}: past it the execution ends TIMED_OUT)")
    return "\n".join(lines)


def timeline_json(description: object, history: Sequence[object], *, now: str | None = None) -> dict[str, object]:
    """The ``--json`` document: the description, the timeline rows and markers, and the raw history."""
    timeline = build_timeline(history, description, now=now)
    return {
        "execution": _dict(description) if description is not None else None,
        "timeline": timeline.to_dict(),
        "history": [_dict(e) for e in history],
    }


# ---- Mermaid -------------------------------------------------------------------------------------------

_MERMAID_LABEL = 120
_SHAPES = {
    "step": ('["', '"]'),
    "lambda": ('[["', '"]]'),
    "wait": ('{{"', '"}}'),
    "sleep": ('(["', '"])'),
    "child": ('[/"', '"/]'),
    "cache": ('[("', '")]'),
    "send": ('>"', '"]'),
}
_CLASSES = {
    "succeeded": "ok",
    "cached": "ok",
    "received": "ok",
    "slept": "ok",
    "defaulted": "ok",
    "failed": "failed",
    "timed-out": "failed",
    "cancelled": "cancelled",
    "running": "active",
    "retrying": "active",
    "waiting": "active",
    "sleeping": "active",
}
_CLASS_DEFS = (
    "    classDef ok fill:#e8f5e9,stroke:#2e7d32,color:#1b5e20",
    "    classDef failed fill:#fdecea,stroke:#c62828,stroke-width:2px,color:#7f1d1d",
    "    classDef active fill:#e3f2fd,stroke:#1565c0,stroke-dasharray:4 3,color:#0d47a1",
    "    classDef cancelled fill:#eeeeee,stroke:#757575,color:#424242",
    "    classDef sent fill:#fff8e1,stroke:#f9a825,color:#5d4037",
)


def _mesc(text: str) -> str:
    text = " ".join(str(text).split())
    if len(text) > _MERMAID_LABEL:
        text = text[: _MERMAID_LABEL - 3] + "..."
    return text.replace('"', "#quot;")


def _row_label(row: TimelineRow) -> str:
    parts = [row.name]
    if row.kind == "lambda" and row.target:
        parts[0] = f"{row.name} · λ {row.target}"
    elif row.kind == "wait":
        parts[0] = f"wait {row.note or row.target or row.name}"
    elif row.kind == "sleep":
        parts[0] = f"sleep {row.name}"
    elif row.kind == "child":
        parts[0] = f"child {row.target} [{row.child_id}]"
    elif row.kind == "cache":
        parts[0] = "workflow result from cache"
    if row.attempts > 1:
        parts.append(f"{row.attempts} attempts")
    if row.duration:
        parts.append(format_duration(row.duration))
    if row.status not in ("succeeded",):
        parts.append(row.status)
    if row.failed and row.errors:
        parts.append(re.sub(r"^attempt \d+: ", "", row.errors[-1]))
    return " · ".join(parts)


def mermaid_path(history: Sequence[object], description: object = None) -> str:
    """A Mermaid ``flowchart TD`` of the path one execution took, read from its history.

    Operations in the order they ran; operations that overlapped in time are drawn side by side in
    a ``parallel`` subgraph; waits, sleeps, children and sent events have their own shapes (as in
    ``stepbridge graph``); failed steps and timed-out waits are styled ``failed`` and the edge leaving
    them is a dotted ``error`` edge; the last node is the terminal state (or what it is doing now).
    """
    timeline = build_timeline(history, description)
    lines = ["flowchart TD", f'    start(["start: {_mesc(timeline.workflow or "workflow")}"])']
    styled: dict[str, list[str]] = {}
    count = 0

    def node(label: str, shape: str, cls: str) -> str:
        nonlocal count
        count += 1
        node_id = f"n{count}"
        opening, closing = _SHAPES.get(shape, _SHAPES["step"])
        lines.append(f"    {node_id}{opening}{_mesc(label)}{closing}")
        styled.setdefault(cls, []).append(node_id)
        return node_id

    stages: list[list[tuple[int, object]]] = [[(min(r.first for r in g), r) for r in g] for g in timeline.groups()]
    sent: list[Marker] = [m for m in timeline.markers if m.kind == "sent"]
    ordered: list[tuple[int, list[Any]]] = [(s[0][0], [r for _, r in s]) for s in stages]
    ordered += [(m.index, [m]) for m in sent]
    ordered.sort(key=lambda item: item[0])

    exits: list[tuple[str, bool]] = [("start", False)]  # (node id, failed)
    subgraphs = 0
    for _, members in ordered:
        ids: list[tuple[str, bool]] = []
        if len(members) > 1:
            subgraphs += 1
            lines.append(f'    subgraph par{subgraphs} ["parallel"]')
        for member in members:
            if isinstance(member, Marker):
                ids.append((node(f"send {member.label}", "send", "sent"), False))
            else:
                cls = _CLASSES.get(member.status, "ok")
                ids.append((node(_row_label(member), member.kind, cls), member.failed))
        if len(members) > 1:
            lines.append("    end")
        for target, _ in ids:
            for source, failed in exits:
                lines.append(f"    {source} -.->|error| {target}" if failed else f"    {source} --> {target}")
        exits = ids
    terminal = _terminal_label(timeline)
    classes: dict[str, str] = {
        Status.SUCCEEDED: "ok", Status.FAILED: "failed", Status.CANCELLED: "cancelled", Status.TIMED_OUT: "failed"
    }
    cls = classes.get(timeline.status, "active")
    lines.append(f'    finish(["{_mesc(terminal)}"])')
    styled.setdefault(cls, []).append("finish")
    for source, failed in exits:
        lines.append(f"    {source} -.->|error| finish" if failed else f"    {source} --> finish")
    lines.extend(_CLASS_DEFS)
    for cls_name, ids_of in styled.items():
        lines.append(f"    class {','.join(ids_of)} {cls_name}")
    return "\n".join(lines)


def _terminal_label(timeline: Timeline) -> str:
    if timeline.status == Status.SUCCEEDED:
        return Status.SUCCEEDED + (f" in {format_duration(timeline.duration)}" if timeline.duration else "")
    if timeline.status in (Status.FAILED, Status.CANCELLED, Status.TIMED_OUT):
        error = timeline.error or {}
        kind = str(error.get("type", "")).rsplit(".", 1)[-1]
        message = str(error.get("message", ""))
        return f"{timeline.status}: {kind}: {message}" if kind else f"{timeline.status} {message}".strip()
    open_rows = [r for r in timeline.rows if r.end is None]
    doing = ", ".join(f"{r.status} {r.target or r.name}" for r in open_rows) or "in progress"
    return f"{timeline.status}: {doing}"


# ---- HTML ----------------------------------------------------------------------------------------------

_CSS = """
:root { --ok:#2e7d32; --fail:#c62828; --warn:#ef6c00; --act:#1565c0; --wait:#7b1fa2; --mute:#757575;
        --line:#e3e6ea; --ink:#1f2933; --soft:#5f6b7a; --bg:#ffffff; --panel:#f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; padding: 24px 32px 48px; font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
       Helvetica, Arial, sans-serif; color: var(--ink); background: var(--bg); }
h1 { font-size: 22px; margin: 0 12px 0 0; display: inline-block; }
h2 { font-size: 16px; margin: 28px 0 10px; }
code, pre, .mono { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 12px; }
pre { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px;
      overflow-x: auto; margin: 0; white-space: pre-wrap; word-break: break-word; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 12px;
         vertical-align: 4px; color: #fff; background: var(--mute); letter-spacing: .04em; }
.badge.SUCCEEDED { background: var(--ok); } .badge.FAILED { background: var(--fail); }
.badge.RUNNING, .badge.SCHEDULED { background: var(--act); } .badge.CANCELLED { background: var(--mute); }
.badge.TIMED_OUT { background: var(--fail); }
.facts { display: flex; flex-wrap: wrap; gap: 8px 28px; margin: 12px 0 0; padding: 0; }
.facts div { display: flex; flex-direction: column; }
.facts dt { color: var(--soft); font-size: 11px; text-transform: uppercase; letter-spacing: .06em; }
.facts dd { margin: 0; font-weight: 600; }
.progress { width: 160px; height: 8px; background: var(--line); border-radius: 4px; overflow: hidden;
            display: inline-block; vertical-align: middle; margin-right: 8px; }
.progress span { display: block; height: 100%; background: var(--act); }
.gantt { border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
.g-row { display: grid; grid-template-columns: minmax(180px, 260px) 1fr 84px 52px 92px; align-items: center;
         border-top: 1px solid var(--line); min-height: 30px; }
.g-row > div { padding: 4px 10px; }
.g-head { border-top: 0; background: var(--panel); color: var(--soft); font-size: 11px; text-transform: uppercase;
          letter-spacing: .05em; }
.g-name { font-weight: 600; overflow-wrap: anywhere; }
.g-name small { display: block; font-weight: 400; color: var(--soft); font-size: 11px; }
.g-par { box-shadow: inset 4px 0 0 #90caf9; }
.g-par .g-name::before { content: "parallel"; display: inline-block; font-size: 9px; font-weight: 700;
          text-transform: uppercase; color: #1565c0; border: 1px solid #90caf9; border-radius: 3px; padding: 0 3px;
          margin-right: 6px; vertical-align: 1px; }
.g-num { text-align: right; font-variant-numeric: tabular-nums; }
.track { position: relative; height: 30px; padding: 0 !important; margin: 0 10px; }
.tick { position: absolute; top: 0; bottom: 0; width: 1px; background: var(--line); }
.axis { height: 26px; }
.axis .tick span { position: absolute; top: 6px; left: 4px; white-space: nowrap; font-size: 10px;
                   text-transform: none; letter-spacing: 0; }
.axis .tick.last span { left: auto; right: 4px; }
.bar { position: absolute; top: 8px; height: 14px; border-radius: 3px; background: var(--ok); min-width: 4px; }
.bar.failed, .bar.timed-out { background: var(--fail); }
.bar.cancelled { background: var(--mute); } .bar.cached { background: #9e9e9e; }
.bar.running, .bar.retrying, .bar.waiting, .bar.sleeping {
  background: repeating-linear-gradient(135deg, var(--act) 0 6px, #64b5f6 6px 12px); }
.bar.k-wait.received { background: var(--wait); } .bar.k-sleep { background: #00838f; }
.bar.k-child { background: #558b2f; } .bar.k-child.failed { background: var(--fail); }
.gap { position: absolute; top: 12px; height: 6px; background: repeating-linear-gradient(90deg, #ffb74d 0 3px,
       transparent 3px 6px); }
.fail-tick { position: absolute; top: 4px; width: 3px; height: 22px; background: var(--fail); border-radius: 1px; }
.deadline { position: absolute; top: 2px; bottom: 2px; width: 0; border-left: 2px dashed var(--warn); }
.marker { position: absolute; top: 9px; width: 11px; height: 11px; margin-left: -5px; transform: rotate(45deg);
          background: #f9a825; border: 1px solid #f57f17; }
.marker.progress { background: #64b5f6; border-color: var(--act); border-radius: 50%; transform: none; }
.st { font-size: 12px; font-weight: 600; }
.st.succeeded, .st.received, .st.slept, .st.cached { color: var(--ok); }
.st.failed, .st.timed-out { color: var(--fail); } .st.cancelled { color: var(--mute); }
.st.running, .st.retrying, .st.waiting, .st.sleeping { color: var(--act); }
.note { color: var(--soft); font-size: 12px; }
table.ops { border-collapse: collapse; width: 100%; }
table.ops th, table.ops td { text-align: left; vertical-align: top; border-top: 1px solid var(--line);
  padding: 6px 8px; font-size: 12px; }
table.ops th { color: var(--soft); font-weight: 600; background: var(--panel); }
ul.notes { margin: 0; padding-left: 16px; }
.err { color: var(--fail); }
.legend { display: flex; gap: 16px; flex-wrap: wrap; color: var(--soft); font-size: 12px; margin: 8px 0 0; }
.legend i { display: inline-block; width: 14px; height: 10px; border-radius: 2px; margin-right: 5px;
            vertical-align: -1px; }
.cols { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
footer { margin-top: 32px; color: var(--soft); font-size: 11px; }
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _pct(value: float) -> str:
    return f"{max(0.0, min(100.0, value)):.3f}%"


class _Scale:
    """Maps instants to a horizontal position (percent); by stage order when no time passed."""

    def __init__(self, timeline: Timeline) -> None:
        self.timeline = timeline
        self.span = timeline.span
        self.stages = max(1, len(timeline.groups()))
        self.by_order = self.span <= 0

    def at(self, when: str | None, group: int = 0, *, end: bool = False) -> float:
        if self.by_order:
            return (group + (1 if end else 0)) / self.stages * 100
        offset = self.timeline.offset(when) or 0.0
        return offset / self.span * 100

    def ticks(self) -> list[tuple[float, str]]:
        if self.by_order:
            return [(i / self.stages * 100, f"#{i + 1}") for i in range(self.stages)]
        return [(i * 20.0, "+" + format_duration(self.span * i / 5)) for i in range(6)]


def _bar_html(scale: _Scale, row: TimelineRow) -> str:
    timeline = scale.timeline
    left = scale.at(row.start, row.group)
    if scale.by_order:
        right = scale.at(None, row.group, end=True) - 0.6
    else:
        right = scale.at(row.end or timeline.last_seen, row.group)
    classes = f"bar k-{row.kind} {row.status}"
    title = f"{row.name}: {row.status}, {format_duration(row.duration)}"
    parts = [
        f'<div class="{_e(classes)}" style="left:{_pct(left)};width:{_pct(right - left)}" title="{_e(title)}"></div>'
    ]
    if not scale.by_order:
        for retry in row.retries:
            failed_at, retry_at = retry.get("failed_at"), retry.get("retry_at")
            if failed_at:
                x = scale.at(failed_at)
                tip = f"attempt {retry.get('attempt')} failed: {retry.get('error', '')}"
                parts.append(f'<div class="fail-tick" style="left:{_pct(x)}" title="{_e(tip)}"></div>')
            if failed_at and retry_at:
                x0, x1 = scale.at(failed_at), scale.at(retry_at)
                tip = f"retry timer until {retry_at}"
                parts.append(f'<div class="gap" style="left:{_pct(x0)};width:{_pct(x1 - x0)}" title="{_e(tip)}"></div>')
        deadline_at = timeline.offset(row.deadline) if row.deadline else None
        if row.kind in ("wait", "sleep") and deadline_at is not None and 0 <= deadline_at <= scale.span:
            parts.append(
                f'<div class="deadline" style="left:{_pct(deadline_at / scale.span * 100)}" '
                f'title="{_e("deadline " + str(row.deadline))}"></div>'
            )
    return "".join(parts)


def _notes_html(row: TimelineRow) -> str:
    notes: list[str] = []
    if row.kind == "lambda" and row.target:
        notes.append(f"runs in Lambda step <code>{_e(row.target)}</code>")
    if row.kind == "child" and row.child_id:
        notes.append(f"child <code>{_e(row.target)}</code> execution <code>{_e(row.child_id)}</code>")
    elif row.note and row.kind != "sleep":  # a sleep's note is its wake-up time, listed below
        notes.append(_e(row.note))
    for retry in row.retries:
        if retry.get("retry_at"):
            delay = retry.get("delay")
            wait = f" after {format_duration(float(delay))} backoff" if isinstance(delay, int | float) else ""
            notes.append(f"attempt {_e(retry['attempt'])} retried at {_e(retry['retry_at'])}{_e(wait)}")
    if row.deadline:
        label = {"wait": "deadline", "sleep": "wakes at", "lambda": "must report by"}.get(row.kind, "next attempt at")
        notes.append(f"{label} {_e(row.deadline)}")
    notes.extend(f'<span class="err">{_e(error)}</span>' for error in row.errors)
    if not notes:
        return ""
    return '<ul class="notes">' + "".join(f"<li>{n}</li>" for n in notes) + "</ul>"


def _facts(timeline: Timeline, description: object) -> str:
    facts: list[tuple[str, str]] = [("execution", f'<span class="mono">{_e(timeline.execution_id or "-")}</span>')]
    facts.append(("started", _e(timeline.start or "-")))
    facts.append(("ended", _e(timeline.end or "-")))
    facts.append(("duration", _e(format_duration(timeline.duration))))
    facts.append(("operations", str(len(timeline.rows))))
    attempts = sum(max(0, r.attempts - 1) for r in timeline.rows)
    facts.append(("retries", str(attempts)))
    parent = _field(description, "parent_id")
    if parent:
        facts.append(("parent", f'<span class="mono">{_e(parent)}</span>'))
    progress = timeline.progress
    if progress and progress.get("total"):
        try:
            ratio = float(progress.get("step") or 0) / float(progress["total"])
        except (TypeError, ValueError, ZeroDivisionError):
            ratio = 0.0
        label = f"{progress.get('step')}/{progress.get('total')} {progress.get('message') or ''}".strip()
        facts.append(
            ("progress", f'<span class="progress"><span style="width:{_pct(ratio * 100)}"></span></span>{_e(label)}')
        )
    return '<dl class="facts">' + "".join(f"<div><dt>{k}</dt><dd>{v}</dd></div>" for k, v in facts) + "</dl>"


def _gantt(timeline: Timeline) -> str:
    scale = _Scale(timeline)
    span = format_duration(scale.span)
    axis_title = "order of operations (no time passed)" if scale.by_order else f"time (0 to {span})"
    marks = scale.ticks()
    ticks = "".join(
        f'<div class="tick{" last" if x >= 99 else ""}" style="left:{_pct(x)}"><span>{_e(label)}</span></div>'
        for x, label in marks
    )
    gridlines = "".join(f'<div class="tick" style="left:{_pct(x)}"></div>' for x, _ in scale.ticks())
    out = [
        '<div class="gantt" role="table" aria-label="execution timeline">',
        '<div class="g-row g-head" role="row"><div>operation</div>'
        f'<div class="track axis" title="{_e(axis_title)}">{ticks}</div>'
        '<div class="g-num">duration</div><div class="g-num">tries</div><div>status</div></div>',
    ]
    for stage in timeline.groups():
        parallel = len(stage) > 1
        for row in stage:
            tries = str(row.attempts) if row.kind in ("step", "lambda") else "-"
            out.append(
                f'<div class="g-row{" g-par" if parallel else ""}" role="row" data-step="{_e(row.name)}" '
                f'data-kind="{_e(row.kind)}" data-status="{_e(row.status)}">'
                f'<div class="g-name">{_e(row.name)}<small>{_e(_kind_label(row))}</small></div>'
                f'<div class="track">{gridlines}{_bar_html(scale, row)}</div>'
                f'<div class="g-num">{_e(format_duration(row.duration))}</div>'
                f'<div class="g-num">{_e(tries)}</div>'
                f'<div><span class="st {_e(row.status)}">{_e(row.status)}</span></div></div>'
            )
    if timeline.markers and not scale.by_order:
        diamonds = "".join(
            f'<div class="marker {_e(m.kind)}" style="left:{_pct(scale.at(m.time))}" '
            f'title="{_e(("progress " if m.kind == "progress" else "sent ") + m.label)}"></div>'
            for m in timeline.markers
        )
        out.append(
            '<div class="g-row" role="row"><div class="g-name">events<small>sent ◆ and progress ●</small></div>'
            f'<div class="track">{gridlines}{diamonds}</div><div></div><div></div><div></div></div>'
        )
    out.append("</div>")
    out.append(
        '<div class="legend"><span><i style="background:var(--ok)"></i>step succeeded</span>'
        '<span><i style="background:var(--fail)"></i>failed / timed out</span>'
        '<span><i style="background:var(--wait)"></i>wait (event received)</span>'
        '<span><i style="background:#00838f"></i>sleep</span><span><i style="background:#558b2f"></i>child</span>'
        '<span><i style="background:var(--act)"></i>in progress</span>'
        '<span><i style="background:#ffb74d"></i>retry backoff</span>'
        '<span><i style="border-left:2px dashed var(--warn);border-radius:0;width:4px"></i>deadline</span></div>'
    )
    if scale.by_order:
        out.append(
            '<p class="note">No time passed between these operations (they ran within one instant, as on '
            "LocalCloud's virtual clock), so bars are placed by the order of the stages.</p>"
        )
    return "".join(out)


def _kind_label(row: TimelineRow) -> str:
    return {
        "step": "inline step",
        "lambda": f"declared step · λ {row.target}",
        "wait": f"wait_for {row.target or ''}".strip(),
        "sleep": "durable timer",
        "child": f"child workflow {row.target or ''}".strip(),
        "cache": "workflow cache",
    }.get(row.kind, row.kind)


def _ops_table(timeline: Timeline) -> str:
    head = "<tr><th>#</th><th>operation</th><th>kind</th><th>start</th><th>end</th><th>duration</th>"
    head += "<th>tries</th><th>status</th><th>details</th></tr>"
    body = []
    for row in timeline.rows:
        tries = str(row.attempts) if row.kind in ("step", "lambda") else "-"
        body.append(
            f'<tr data-step="{_e(row.name)}"><td>{row.group + 1}</td><td><b>{_e(row.name)}</b></td>'
            f"<td>{_e(_kind_label(row))}</td><td class=\"mono\">{_e(row.start or '-')}</td>"
            f"<td class=\"mono\">{_e(row.end or '…')}</td><td>{_e(format_duration(row.duration))}</td>"
            f"<td>{_e(tries)}</td><td><span class=\"st {_e(row.status)}\">{_e(row.status)}</span></td>"
            f"<td>{_notes_html(row)}</td></tr>"
        )
    return f'<table class="ops">{head}{"".join(body)}</table>'


#: The report's styles; a page that embeds :func:`render_timeline_html` (the local console) includes them.
REPORT_CSS = _CSS


def render_timeline_html(description: Any, history: Sequence[Any], *, now: str | None = None) -> str:
    """The report's Gantt chart and operations table as one HTML fragment (styled by ``REPORT_CSS``).

    ``stepbridge dev`` embeds this fragment, so the console and the report draw one timeline.
    """
    timeline = build_timeline(history, description, now=now)
    return _timeline_sections(timeline)


def _timeline_sections(timeline: Timeline) -> str:
    return "\n".join(["<h2>Timeline</h2>", _gantt(timeline), "<h2>Operations</h2>", _ops_table(timeline)])


def render_html(
    description: object, history: Sequence[object], *, now: str | None = None, title: str | None = None
) -> str:
    """A self-contained HTML report of one execution: facts, a Gantt chart, every operation, the path.

    No scripts and no external assets (fonts, styles, CDNs): the file can be mailed or archived.
    """
    timeline = build_timeline(history, description, now=now)
    name = title or f"{timeline.workflow} [{timeline.execution_id}]"
    outcome_title = "result" if timeline.status == Status.SUCCEEDED else "error"
    outcome = timeline.result if timeline.status == Status.SUCCEEDED else timeline.error
    events = "\n".join(event_log(history))
    sections = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(name)} - stepbridge</title><style>{_CSS}</style></head><body>",
        f'<header><h1>{_e(timeline.workflow or "execution")}</h1>'
        f'<span class="badge {_e(timeline.status)}">{_e(timeline.status)}</span>',
        f"{_facts(timeline, description)}</header>",
        _timeline_sections(timeline),
        '<div class="cols"><section><h2>Input</h2>',
        f"<pre>{_e(_json(_field(description, 'input')))}</pre></section>",
        f"<section><h2>{outcome_title.capitalize()}</h2><pre>{_e(_json(outcome))}</pre></section></div>",
        "<h2>History</h2>",
        f"<pre>{_e(events)}</pre>",
        "<h2>Path (Mermaid)</h2>",
        '<p class="note">Paste into any Mermaid renderer; <code>stepbridge executions show ID --mermaid</code> '
        "prints the same.</p>",
        f"<pre>{_e(mermaid_path(history, description))}</pre>",
        "<footer>Generated by <code>stepbridge report</code> from the execution's journal.</footer>",
        "</body></html>",
    ]
    return "\n".join(sections) + "\n"
