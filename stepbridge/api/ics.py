"""Holidays from an iCalendar (RFC 5545) file: a small standard-library reader of all-day events.

Supported (what holiday exports from Google, Outlook, Apple and government sites use):

* ``VEVENT`` with a DATE ``DTSTART`` (``DTSTART;VALUE=DATE:20261225``); every date from ``DTSTART`` up
  to ``DTEND`` (exclusive, RFC 5545 3.6.1), or ``DURATION`` in days/weeks (``P2D``, ``P1W``), or one day;
* ``RRULE:FREQ=YEARLY`` (optionally ``INTERVAL``, ``COUNT``, ``UNTIL``, and ``BYMONTH``/``BYMONTHDAY``
  equal to ``DTSTART``'s): fixed-date yearly holidays, expanded up to ``through``; a 29 February start
  recurs only in leap years (RFC 5545 skips invalid dates);
* ``EXDATE`` with DATE values; ``STATUS:CANCELLED`` events are skipped; folded lines are unfolded.

Not supported: timed events (a DATE-TIME ``DTSTART`` is a meeting, not a holiday: ignored), other
recurrences (monthly, weekly, ``BYDAY`` rules such as "fourth Thursday of November": a clear error
asks for the dates instead), ``RDATE`` and ``VTIMEZONE`` (not needed for dates).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

_DURATION_RE = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T.*)?$")


def load_ics(source: str | Path, *, through: date = date(2099, 12, 31)) -> list[date]:
    """The sorted holiday dates of an ICS file (a path) or ICS text; yearly rules expand up to ``through``."""
    if isinstance(source, Path) or "BEGIN:" not in source:
        path = Path(source)
        try:
            text = path.read_text(encoding="utf-8-sig")
        except OSError as exc:
            raise ValueError(
                f"cannot read ICS file {str(path)!r}: {exc.strerror or exc}; pass a path or the ICS text"
            ) from exc
    else:
        text = source
    days: set[date] = set()
    for event in _events(text):
        days.update(_event_dates(event, through))
    return sorted(days)


def _unfold(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if raw[:1] in (" ", "\t") and lines:
            lines[-1] += raw[1:]
        elif raw.strip():
            lines.append(raw)
    return lines


Property = tuple[dict[str, str], str]  # (parameters, value)


def _events(text: str) -> Iterator[dict[str, list[Property]]]:
    event: dict[str, list[Property]] | None = None
    depth = 0  # nested components inside a VEVENT (VALARM) are not the event's own properties
    for line in _unfold(text):
        head, sep, value = line.partition(":")
        if not sep:
            continue
        name, *params = head.split(";")
        name = name.strip().upper()
        if name == "BEGIN":
            if value.strip().upper() == "VEVENT" and event is None:
                event, depth = {}, 0
            elif event is not None:
                depth += 1
        elif name == "END" and event is not None:
            if depth:
                depth -= 1
            elif value.strip().upper() == "VEVENT":
                yield event
                event = None
        elif event is not None and not depth:
            parsed = {k.strip().upper(): v.strip().strip('"') for k, _, v in (p.partition("=") for p in params)}
            event.setdefault(name, []).append((parsed, value.strip()))


def _value(event: dict[str, list[Property]], name: str) -> Property | None:
    found = event.get(name)
    return found[0] if found else None


def _date(value: str, *, what: str, summary: str) -> date:
    digits = value[:8]
    if len(digits) != 8 or not digits.isdigit():
        raise ValueError(f"ICS event {summary!r}: {what} {value!r} is not a date (YYYYMMDD)")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError as exc:
        raise ValueError(f"ICS event {summary!r}: {what} {value!r} is not a valid date") from exc


def _is_timed(prop: Property) -> bool:
    params, value = prop
    return params.get("VALUE", "").upper() == "DATE-TIME" or "T" in value.upper()


def _event_dates(event: dict[str, list[Property]], through: date) -> list[date]:
    summary_prop = _value(event, "SUMMARY")
    summary = summary_prop[1] if summary_prop else "(no summary)"
    status = _value(event, "STATUS")
    start_prop = _value(event, "DTSTART")
    if start_prop is None or _is_timed(start_prop) or (status and status[1].upper() == "CANCELLED"):
        return []
    start = _date(start_prop[1], what="DTSTART", summary=summary)
    length = _length(event, start, summary)
    excluded: set[date] = set()
    for _, value in event.get("EXDATE", []):
        excluded.update(_date(v, what="EXDATE", summary=summary) for v in value.split(",") if v.strip())
    rule = _value(event, "RRULE")
    starts = [start] if rule is None else list(_yearly(rule[1], start, through, summary))
    return [s + timedelta(days=i) for s in starts if s not in excluded for i in range(length)]


def _length(event: dict[str, list[Property]], start: date, summary: str) -> int:
    end_prop = _value(event, "DTEND")
    if end_prop is not None:
        end = _date(end_prop[1], what="DTEND", summary=summary)
        return max(1, (end - start).days)
    duration = _value(event, "DURATION")
    if duration is not None:
        match = _DURATION_RE.match(duration[1].upper())
        if match is None or not (match[1] or match[2]):
            raise ValueError(f"ICS event {summary!r}: DURATION {duration[1]!r} is not whole days or weeks (P1D, P2W)")
        return max(1, int(match[1] or 0) * 7 + int(match[2] or 0))
    return 1


def _yearly(rule: str, start: date, through: date, summary: str) -> Iterator[date]:
    parts = {k.upper(): v for k, _, v in (p.partition("=") for p in rule.split(";") if p)}
    unsupported = (
        f"ICS event {summary!r}: RRULE {rule!r} is not supported (only fixed-date FREQ=YEARLY); list its dates instead"
    )
    if parts.get("FREQ", "").upper() != "YEARLY":
        raise ValueError(unsupported)
    for key, value in parts.items():
        allowed = (
            key in ("FREQ", "INTERVAL", "COUNT", "UNTIL", "WKST")
            or (key == "BYMONTH" and value == str(start.month))
            or (key == "BYMONTHDAY" and value == str(start.day))
        )
        if not allowed:
            raise ValueError(unsupported)
    interval = int(parts.get("INTERVAL", "1"))
    count = int(parts["COUNT"]) if "COUNT" in parts else None
    until = _date(parts["UNTIL"], what="UNTIL", summary=summary) if "UNTIL" in parts else through
    year, emitted = start.year, 0
    while year <= min(until, through).year and (count is None or emitted < count):
        try:
            occurrence = date(year, start.month, start.day)
        except ValueError:  # 29 February in a common year: skipped, and not counted (RFC 5545 3.3.10)
            occurrence = None
        if occurrence is not None and occurrence <= min(until, through):
            yield occurrence
            emitted += 1
        year += interval
