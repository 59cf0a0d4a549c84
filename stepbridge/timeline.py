"""Render an execution's history as a readable terminal timeline (demo, CLI ``executions show``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from stepbridge.runtime.records import parse_iso

_ICONS = {
    "Workflow.started": ">",
    "Workflow.completed": "=",
    "Workflow.failed": "x",
    "Workflow.cancelled": "x",
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


def _short(value: Any, width: int = 60) -> str:
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
        return f"wait {name} timed out"
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
    if detail_type in ("Workflow.failed", "Workflow.cancelled"):
        err = detail.get("error") or {}
        status = "FAILED" if detail_type == "Workflow.failed" else "CANCELLED"
        return f"{status}: {err.get('message', '')}"
    return f"{detail_type} {_short(detail)}"


def render(execution_id: str, workflow: str, history: Sequence[Any], *, skip_internal: bool = True) -> str:
    """The timeline of one execution: one line per journal fact, with virtual-time offsets."""
    lines = [f"{workflow}  [{execution_id}]"]
    start_text = next((h.time for h in history if h.time), "")
    start = parse_iso(start_text) if start_text else None
    for entry in history:
        if skip_internal and entry.detail_type in ("Clock.read",):
            continue
        icon = "*" if entry.sent else _ICONS.get(entry.detail_type, " ")
        text = describe_entry(entry.detail_type, entry.detail, entry.sent)
        lines.append(f"  {_offset(start, entry.time)} {icon} {text}")
    return "\n".join(lines)
