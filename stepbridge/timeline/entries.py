"""Reading history entries for the timeline views: a field of an entry, an error or a value in one
short line, an offset from the start. Shared by the rows (``rows.py``) and the terminal text (``text.py``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from stepbridge.runtime.records import parse_iso

#: Journal facts that are bookkeeping, not operations (left out of timelines).
INTERNAL = frozenset({"Clock.read", "Patch.patch"})


def entry_field(entry: object, key: str) -> Any:
    """A field of a history entry: ``HistoryEvent`` attributes or ``runtime.executions.history`` dicts."""
    if isinstance(entry, dict):
        return entry.get(key)
    return getattr(entry, key, None)


def error_text(error: object) -> str:
    """A stored error dict as ``Type: message`` (the type without its module)."""
    if not isinstance(error, dict):
        return str(error) if error else ""
    kind = str(error.get("type", "")).rsplit(".", 1)[-1]
    message = str(error.get("message", ""))
    return f"{kind}: {message}" if kind else message


def short(value: object, width: int = 60) -> str:
    """``value`` as compact JSON (strings as they are), cut to ``width`` characters."""
    text = json.dumps(value, default=str, separators=(",", ":")) if not isinstance(value, str) else value
    return text if len(text) <= width else text[: width - 3] + "..."


def offset_text(start: datetime | None, when: str) -> str:
    """``+HH:MM:SS`` (or ``+Nd HH:MM:SS``) from ``start`` to ``when``; blanks when either is unknown."""
    if not when or start is None:
        return "        "
    delta = parse_iso(when) - start
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"+{days}d{hours:02d}:{minutes:02d}:{secs:02d}" if days else f"+{hours:02d}:{minutes:02d}:{secs:02d}"
