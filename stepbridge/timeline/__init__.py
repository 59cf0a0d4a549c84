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

The package: ``rows.py`` builds the rows, ``text.py`` draws the terminal views, ``entries.py`` reads
history entries for both. Everything public is importable from ``stepbridge.timeline``.
"""

from __future__ import annotations

from stepbridge.timeline.rows import Marker, Timeline, TimelineRow, build_timeline
from stepbridge.timeline.text import describe_entry, format_duration, format_entry, history_start, render, render_table

__all__ = [
    "Marker",
    "Timeline",
    "TimelineRow",
    "build_timeline",
    "describe_entry",
    "format_duration",
    "format_entry",
    "history_start",
    "render",
    "render_table",
]
