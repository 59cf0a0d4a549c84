"""Tags of an execution for the console's filter, derived from what its journal says.

stepbridge has no user-set execution tags (DESIGN.md names none), so the console labels each
execution with facts an operator filters by: ``child`` (started by another execution),
``deferred`` (started with ``at=``/``delay=``), ``retried`` (a step needed more than one attempt),
``waiting`` / ``sleeping`` (an open ``wait_for`` / timer), ``task`` (it opened a human task),
``error:<Type>`` (it failed with that error), plus ``key=value`` for each scalar entry of its
custom status (``ctx.set_status``) when this version records one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stepbridge.timeline import build_timeline


def _field(obj: Any, key: str) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, key, None)


def execution_tags(description: Any, history: Sequence[Any]) -> list[str]:
    """The sorted tags of one execution (``description`` = ``client.describe``, ``history`` = ``client.history``)."""
    tags: set[str] = set()
    if _field(description, "parent_id"):
        tags.add("child")
    if _field(description, "scheduled_for"):
        tags.add("deferred")
    error = _field(description, "error")
    if isinstance(error, Mapping) and error.get("type"):
        tags.add("error:" + str(error["type"]).rsplit(".", 1)[-1])
    custom = _field(description, "custom_status")
    if isinstance(custom, Mapping):
        tags.update(f"{k}={v}" for k, v in custom.items() if isinstance(v, str | int | float | bool))
    if any(str(_field(e, "detail_type") or "").startswith("Task.") for e in history):
        tags.add("task")
    timeline = build_timeline(history, description)
    for row in timeline.rows:
        if row.name.startswith("task:"):  # ctx.task's operations are named task:{name}... (runtime/humantask.py)
            tags.add("task")
        if row.attempts > 1:
            tags.add("retried")
        if row.status == "waiting":
            tags.add("waiting")
        if row.status == "sleeping":
            tags.add("sleeping")
    return sorted(tags)
