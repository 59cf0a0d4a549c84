"""Business durations in the engine: which calendar applies, and the one instant a timer records.

``ctx.sleep(BusinessDays(3), calendar=cal)``, ``wait_for(timeout=BusinessHours(8), calendar=cal)``,
``client.start(delay=BusinessDays(1), calendar=cal)``, ``ctx.step(sla=...)`` and the task timers all
turn a business duration into an absolute instant *once*, when the timer is first set; the journal
(or the execution header) keeps that instant and replays read it. Editing a calendar therefore
moves only timers set after the edit, never one already running (docs/API.md, "Business time").

The calendar is the call's ``calendar=``, else the app's default ``App(calendar=...)``; a business
duration with neither is a clear error naming the call.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from stepbridge.api.calendar import BusinessDays, BusinessHours, Calendar
from stepbridge.api.durations import to_seconds

BUSINESS_TYPES = (BusinessDays, BusinessHours)


def is_business(value: Any) -> bool:
    """``value`` is a ``BusinessDays`` or ``BusinessHours``."""
    return isinstance(value, BUSINESS_TYPES)


def calendar_for(app: Any, calendar: Calendar | None, duration: Any, *, what: str) -> Calendar:
    """The calendar a business ``duration`` of ``what`` is counted on: ``calendar`` or the app's default."""
    if calendar is not None:
        if not isinstance(calendar, Calendar):
            raise TypeError(f"{what}: calendar= must be a stepbridge.Calendar, got {type(calendar).__name__}")
        return calendar
    default = getattr(app, "calendar", None)
    if isinstance(default, Calendar):
        return default
    raise ValueError(
        f"{what}: {duration!r} needs a calendar; pass calendar=Calendar('Europe/Berlin', ...) "
        "or set a default with App(..., calendar=...)"
    )


def instant_after(app: Any, start: datetime, duration: Any, calendar: Calendar | None, *, what: str) -> datetime:
    """``duration`` after ``start``: on the calendar for business durations, in real time otherwise."""
    if is_business(duration):
        return calendar_for(app, calendar, duration, what=what).add(start, duration)
    return start + timedelta(seconds=to_seconds(duration, what=what))


def describe(duration: Any) -> Any:
    """A JSON-ready form of a duration for journals and events (``{"business_days": 3}`` or seconds)."""
    if is_business(duration):
        return duration.to_dict()
    return to_seconds(duration)


__all__ = ["BUSINESS_TYPES", "calendar_for", "describe", "instant_after", "is_business"]
