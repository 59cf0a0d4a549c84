"""Business time: a working calendar and exact arithmetic on business days and business hours.

A :class:`Calendar` is a time zone, workdays, working hours (one or several intervals a day, optionally
per weekday) and holidays. Working hours are wall-clock times in the calendar's zone, so a day with a DST
change still opens at 09:00 local time; business time is counted in real elapsed seconds inside the
working intervals, so arithmetic is exact (microseconds, no floats) across DST changes, weekends and holidays.

Semantics (docs/API.md, "Business time"):

* A working interval ``[open, close)`` of a local date is its two wall times resolved in the zone.
  An ambiguous wall time (the repeated hour when clocks go back) resolves to its first occurrence
  (``fold=0``); a nonexistent one (the skipped hour when clocks go forward) resolves to the instant the
  clocks jumped, i.e. the first existing instant after it. Both rules keep the mapping monotonic.
* ``is_business_time(t)``: ``t`` is inside some ``[open, close)``.
* ``next_business_time(t)``: ``t`` when it is business time, else the next opening.
* ``add(t, BusinessHours(h))``: the clock starts at ``next_business_time(t)`` and runs only inside working
  intervals; the result is the instant at which exactly ``h`` hours have elapsed. For ``h > 0`` that is
  inside an interval or exactly at its close (Monday 09:00 + 8 h = Monday 17:00, not Tuesday 09:00).
* ``add(t, BusinessDays(n))``: from ``s = next_business_time(t)``, go to the n-th business day after
  ``s``'s local date and keep ``s``'s wall time (Friday 15:00 + 1 day = Monday 15:00); when that wall time
  is outside the target day's hours (per-weekday hours), it is moved to the day's next opening, or to the
  day's last close if none is left. A business day is a workday that is not a holiday.
* ``business_hours_between(a, b)``: the working time inside ``[a, b)`` as an exact ``timedelta``
  (negative when ``b < a``), so ``business_hours_between(t, add(t, BusinessHours(h))) == BusinessHours(h).duration``.

Replay safety: a durable timer's deadline is computed once, when the timer is set, and recorded in the
journal as an instant; replays read the recorded instant. Changing a calendar (a new holiday, other hours)
therefore affects only timers set after the change, never one already running. Calendars serialise to a
plain dict (:meth:`Calendar.to_dict`) so the calendar used can be journaled beside the deadline.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stepbridge.api.durations import Duration, to_seconds
from stepbridge.api.ics import load_ics

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: How far the arithmetic looks for the next working interval before deciding the calendar has none.
_SEARCH_DAYS = 3700
_DAY = timedelta(days=1)
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")

Interval = tuple[int, int]  # seconds after local midnight, [open, close)
HoursSpec = Any  # ("09:00", "17:00") | [("09:00","12:00"), ...] | {"mon-thu": ..., "fri": ...}


@dataclass(frozen=True)
class BusinessDays:
    """``n`` whole business days (see the module docstring for the exact rule). Fractions: use BusinessHours."""

    n: int

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int):
            raise TypeError(
                f"BusinessDays(n) takes a whole number of days, got {self.n!r}; use BusinessHours for fractions"
            )
        if self.n < 0:
            raise ValueError(f"BusinessDays(n) must not be negative, got {self.n}")

    def to_dict(self) -> dict[str, int]:
        """Plain-dict form for journals and JSON."""
        return {"business_days": self.n}


@dataclass(frozen=True)
class BusinessHours:
    """``n`` business hours (int or float). Exact to the microsecond: ``BusinessHours(0.1)`` is 6 minutes."""

    n: int | float

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, int | float):
            raise TypeError(f"BusinessHours(n) takes a number of hours (int or float), got {self.n!r}")
        if not math.isfinite(self.n) or self.n < 0:
            raise ValueError(f"BusinessHours(n) must be a finite, non-negative number of hours, got {self.n}")

    @property
    def duration(self) -> timedelta:
        """The working time as an exact ``timedelta`` (the float's decimal text, rounded to microseconds)."""
        micros = (Decimal(repr(self.n)) * 3_600_000_000).to_integral_value()
        return timedelta(microseconds=int(micros))

    def to_dict(self) -> dict[str, int | float]:
        """Plain-dict form for journals and JSON."""
        return {"business_hours": self.n}


BusinessDuration = BusinessDays | BusinessHours


def business_duration_from_dict(data: Mapping[str, Any]) -> BusinessDuration:
    """Inverse of ``BusinessDays.to_dict`` / ``BusinessHours.to_dict``."""
    if "business_days" in data:
        return BusinessDays(data["business_days"])
    if "business_hours" in data:
        return BusinessHours(data["business_hours"])
    raise ValueError(f"not a business duration: {dict(data)!r}; expected a 'business_days' or 'business_hours' key")


def parse_workdays(spec: str | int | Iterable[str | int]) -> tuple[int, ...]:
    """Weekday numbers (Monday=0 … Sunday=6, like ``date.weekday()``) from ``"mon-fri"``, ``"mon,tue,thu"``,
    ``"fri-mon"`` (wraps), full names, a list of names, or ints."""
    parts: list[str | int]
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.split(",") if p.strip()]
    elif isinstance(spec, int):
        parts = [spec]
    else:
        parts = list(spec)
    days: set[int] = set()
    for part in parts:
        if isinstance(part, str) and "-" in part:
            first, _, last = part.partition("-")
            a, b = _day_number(first), _day_number(last)
            days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
        else:
            days.add(_day_number(part))
    if not days:
        raise ValueError(f"workdays {spec!r} names no day; use e.g. 'mon-fri'")
    return tuple(sorted(days))


def _day_number(value: str | int) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 6:
            return value
        raise ValueError(f"weekday {value} is out of range; use 0 (Monday) to 6 (Sunday)")
    if isinstance(value, str):
        name = value.strip().lower()
        if name in DAY_NAMES:
            return DAY_NAMES.index(name)
        if name in _FULL_NAMES:
            return _FULL_NAMES.index(name)
    raise ValueError(f"unknown weekday {value!r}; use mon, tue, wed, thu, fri, sat, sun (or 0-6, Monday=0)")


def _parse_time(value: str | time, *, what: str) -> int:
    if isinstance(value, time):
        if value.microsecond or value.tzinfo is not None:
            raise ValueError(f"{what} {value!r} must be a naive time in whole seconds")
        return value.hour * 3600 + value.minute * 60 + value.second
    match = _TIME_RE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{what} {value!r} is not a time; use 'HH:MM' or 'HH:MM:SS' (00:00 to 24:00)")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    seconds = hour * 3600 + minute * 60 + second
    if minute > 59 or second > 59 or seconds > 86400:
        raise ValueError(f"{what} {value!r} is out of range; use 00:00 to 24:00")
    return seconds


def _parse_intervals(spec: object, *, what: str) -> tuple[Interval, ...]:
    if isinstance(spec, tuple | list) and len(spec) == 2 and all(isinstance(v, str | time) for v in spec):
        spec = [spec]
    if not isinstance(spec, tuple | list) or not spec:
        raise ValueError(f"{what} {spec!r} must be ('09:00', '17:00') or a list of such (open, close) pairs")
    intervals: list[Interval] = []
    for pair in spec:
        if not isinstance(pair, tuple | list) or len(pair) != 2:
            raise ValueError(f"{what}: {pair!r} is not an (open, close) pair such as ('09:00', '17:00')")
        start, end = _parse_time(pair[0], what=f"{what} open"), _parse_time(pair[1], what=f"{what} close")
        if end <= start:
            raise ValueError(
                f"{what}: interval {tuple(pair)!r} closes before it opens; overnight shifts are not supported"
            )
        if intervals and start < intervals[-1][1]:
            raise ValueError(
                f"{what}: intervals must be in order without overlap, got {_fmt(intervals[-1])} then {tuple(pair)!r}"
            )
        intervals.append((start, end))
    return tuple(intervals)


def _fmt_time(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}" + (f":{secs:02d}" if secs else "")


def _fmt(interval: Interval) -> tuple[str, str]:
    return (_fmt_time(interval[0]), _fmt_time(interval[1]))


def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name:
        raise ValueError(f"Calendar time zone must be an IANA name such as 'Europe/Berlin', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"Calendar time zone {name!r} is not a known IANA zone; use a name such as 'Europe/Berlin'"
        ) from exc


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a timezone-aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} {value.isoformat()} is naive; pass an aware datetime such as datetime.now(UTC)")
    return value.astimezone(UTC)


@dataclass(frozen=True, eq=True)
class Calendar:
    """Working time in one zone. ``Calendar("Europe/Berlin", workdays="mon-fri", hours=("09:00", "17:00"),
    holidays=[date(2026, 12, 25)])``.

    ``hours`` is one ``(open, close)`` pair, a list of pairs for split hours (``[("09:00","12:00"),
    ("13:00","17:00")]``), or a dict from weekday specs to either (``{"mon-thu": ("09:00","17:00"),
    "fri": ("09:00","13:00")}``; every workday needs an entry). Times are ``"HH:MM[:SS]"`` wall times in
    ``tz``; ``"24:00"`` closes at midnight. ``holidays`` are local dates (see :func:`load_ics`).
    Deadlines are computed once and journaled, so editing a calendar never moves a timer already set.
    """

    tz: str
    workdays: tuple[int, ...]
    hours: tuple[tuple[int, tuple[Interval, ...]], ...]
    holidays: tuple[date, ...]
    _zone: ZoneInfo = field(init=False, repr=False, compare=False, hash=False)
    _off: frozenset[date] = field(init=False, repr=False, compare=False, hash=False)
    _cache: dict[date, tuple[tuple[datetime, datetime], ...]] = field(init=False, repr=False, compare=False, hash=False)

    def __init__(
        self,
        tz: str,
        workdays: str | int | Iterable[str | int] = "mon-fri",
        hours: HoursSpec = ("09:00", "17:00"),
        holidays: Iterable[date] = (),
    ) -> None:
        zone = _zone(tz)
        days = parse_workdays(workdays)
        by_day: dict[int, tuple[Interval, ...]] = {}
        if isinstance(hours, Mapping):
            for key, spec in hours.items():
                for day in parse_workdays(key):
                    if day in by_day:
                        raise ValueError(f"hours: {DAY_NAMES[day]} is given twice")
                    if day not in days:
                        raise ValueError(f"hours: {DAY_NAMES[day]} has hours but is not a workday; add it to workdays")
                    by_day[day] = _parse_intervals(spec, what=f"hours[{key!r}]")
            missing = [DAY_NAMES[d] for d in days if d not in by_day]
            if missing:
                raise ValueError(f"hours: workdays {', '.join(missing)} have no hours; add them to the hours dict")
        else:
            intervals = _parse_intervals(hours, what="hours")
            by_day = dict.fromkeys(days, intervals)
        off: list[date] = []
        for holiday in holidays:
            if isinstance(holiday, datetime) or not isinstance(holiday, date):
                raise TypeError(f"holidays must be datetime.date values (local dates), got {holiday!r}")
            off.append(holiday)
        object.__setattr__(self, "tz", tz)
        object.__setattr__(self, "workdays", days)
        object.__setattr__(self, "hours", tuple(sorted(by_day.items())))
        object.__setattr__(self, "holidays", tuple(sorted(set(off))))
        object.__setattr__(self, "_off", frozenset(off))
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_cache", {})

    def __repr__(self) -> str:
        data = self.to_dict()
        hours = data["hours"]
        distinct = {repr(v) for v in hours.values()}
        shown = next(iter(hours.values())) if len(distinct) == 1 else hours
        return (
            f"Calendar({self.tz!r}, workdays={','.join(data['workdays'])!r}, hours={shown!r}, "
            f"holidays={len(self.holidays)} dates)"
        )

    # -- serialisation -------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-ready dict (per-weekday hours, ISO dates); ``from_dict`` gives an equal calendar."""
        return {
            "tz": self.tz,
            "workdays": [DAY_NAMES[d] for d in self.workdays],
            "hours": {DAY_NAMES[d]: [list(_fmt(i)) for i in ivs] for d, ivs in self.hours},
            "holidays": [h.isoformat() for h in self.holidays],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calendar:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                data["tz"],
                workdays=data["workdays"],
                hours={k: [tuple(p) for p in v] for k, v in data["hours"].items()},
                holidays=[date.fromisoformat(h) for h in data.get("holidays", ())],
            )
        except KeyError as exc:
            raise ValueError(f"calendar dict is missing {exc.args[0]!r}; use Calendar.to_dict() to make one") from exc

    @classmethod
    def from_ics(
        cls,
        source: str | Path,
        tz: str,
        workdays: str | int | Iterable[str | int] = "mon-fri",
        hours: HoursSpec = ("09:00", "17:00"),
        holidays: Iterable[date] = (),
        *,
        through: date = date(2099, 12, 31),
    ) -> Calendar:
        """A calendar whose holidays are the all-day events of an ICS file or text (plus ``holidays``)."""
        return cls(tz, workdays=workdays, hours=hours, holidays=[*load_ics(source, through=through), *holidays])

    # -- the working intervals ---------------------------------------------------------------------------

    @property
    def zone(self) -> ZoneInfo:
        """The calendar's ``ZoneInfo``."""
        return self._zone

    def intervals(self, day: date) -> tuple[tuple[datetime, datetime], ...]:
        """The working intervals ``[open, close)`` of a local date, as aware UTC instants (empty when off)."""
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        found: list[tuple[datetime, datetime]] = []
        if day not in self._off:
            midnight = datetime.combine(day, time())
            for start, end in dict(self.hours).get(day.weekday(), ()):
                a = self._resolve(midnight + timedelta(seconds=start))
                b = self._resolve(midnight + timedelta(seconds=end))
                if b > a:
                    found.append((a, b))
        result = tuple(found)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[day] = result
        return result

    def is_business_day(self, day: date) -> bool:
        """A workday that is not a holiday (and has working time)."""
        return bool(self.intervals(day))

    def _resolve(self, wall: datetime) -> datetime:
        """The UTC instant of a naive local wall time: first occurrence when ambiguous, the jump when skipped."""
        first = wall.replace(tzinfo=self._zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        if first <= second:  # normal, or ambiguous (fold=0 is the earlier instant)
            return first
        # nonexistent: fold=0 uses the offset before the jump and lands after it; fold=1 lands before it
        return self._offset_change(second, first)

    def _offset_change(self, before: datetime, after: datetime) -> datetime:
        """The first whole second in ``(before, after]`` with ``after``'s UTC offset (transitions fall on seconds)."""
        target = after.astimezone(self._zone).utcoffset()
        lo, hi = math.floor(before.timestamp()), math.ceil(after.timestamp())
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, UTC).astimezone(self._zone).utcoffset() == target:
                hi = mid
            else:
                lo = mid
        return datetime.fromtimestamp(hi, UTC)

    def _intervals_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals that end after ``instant``, in order; raises if none within ~10 years."""
        day = instant.astimezone(self._zone).date() - _DAY
        idle = 0
        while True:
            found = False
            for start, end in self.intervals(day):
                if end > instant:
                    found = True
                    yield start, end
            idle = 0 if found else idle + 1
            if idle > _SEARCH_DAYS:
                raise ValueError(
                    f"calendar {self.tz} has no working time for {_SEARCH_DAYS} days after {instant.isoformat()}"
                )
            day += _DAY

    # -- the arithmetic ----------------------------------------------------------------------------------

    def is_business_time(self, when: datetime) -> bool:
        """``when`` is inside a working interval (opening included, closing excluded)."""
        instant = _aware(when, "when")
        return any(a <= instant < b for a, b in self.intervals(instant.astimezone(self._zone).date()))

    def next_business_time(self, when: datetime) -> datetime:
        """``when`` (in UTC) if it is business time, else the next opening."""
        instant = _aware(when, "when")
        start, _ = next(self._intervals_from(instant))
        return max(start, instant)

    def add(self, start: datetime, duration: BusinessDays | BusinessHours) -> datetime:
        """The aware UTC instant ``duration`` of business time after ``start`` (rules in the module docstring)."""
        instant = _aware(start, "start")
        if isinstance(duration, BusinessHours):
            return self._add_hours(instant, duration.duration)
        if isinstance(duration, BusinessDays):
            return self._add_days(instant, duration.n)
        raise TypeError(f"Calendar.add takes BusinessDays or BusinessHours, got {type(duration).__name__}")

    def _add_hours(self, instant: datetime, remaining: timedelta) -> datetime:
        for start, end in self._intervals_from(instant):
            cursor = max(start, instant)
            if remaining <= end - cursor:
                return cursor + remaining
            remaining -= end - cursor
        raise AssertionError("unreachable")  # pragma: no cover - _intervals_from raises instead

    def _add_days(self, instant: datetime, n: int) -> datetime:
        begin = self.next_business_time(instant)
        if n == 0:
            return begin
        local = begin.astimezone(self._zone)
        day = local.date()
        wall = datetime.combine(day, local.time().replace(fold=0))
        if local.fold == 1:
            # the second pass through a repeated hour: count it as the end of the repeated hour, so later
            # starts never give earlier results (the wall clock already showed those times once)
            gap = wall.replace(tzinfo=self._zone, fold=0).utcoffset() - local.utcoffset()  # type: ignore[operator]
            jump = self._offset_change(begin - gap, begin)
            wall = jump.astimezone(self._zone).replace(tzinfo=None, fold=0) + gap
        offset = wall - datetime.combine(day, time())
        idle = 0
        while n:
            day += _DAY
            idle += 1
            if self.is_business_day(day):
                n -= 1
                idle = 0
            elif idle > _SEARCH_DAYS:
                raise ValueError(f"calendar {self.tz} has no business day for {_SEARCH_DAYS} days after {day}")
        target = self._resolve(datetime.combine(day, time()) + offset)
        intervals = self.intervals(day)
        for start, end in intervals:
            if target < end:
                return max(target, start)
        return intervals[-1][1]

    def business_hours_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time inside ``[a, b)`` as an exact ``timedelta`` (negative when ``b < a``)."""
        first, last = _aware(a, "a"), _aware(b, "b")
        if last < first:
            return -self.business_hours_between(last, first)
        total = timedelta()
        for start, end in self._intervals_from(first):
            if start >= last:
                break
            total += min(end, last) - max(start, first)
        return total


def deadline(start: datetime, duration: BusinessDuration | Duration, calendar: Calendar | None = None) -> datetime:
    """The aware UTC instant ``duration`` after ``start``: business durations on ``calendar``, plain ones
    (seconds or ``timedelta``) in real time. What the engine records when it sets a timer (computed once)."""
    if isinstance(duration, BusinessDays | BusinessHours):
        if calendar is None:
            raise ValueError(f"{duration!r} needs a calendar: pass calendar=Calendar('Europe/Berlin', ...)")
        return calendar.add(start, duration)
    return _aware(start, "start") + timedelta(seconds=to_seconds(duration))


__all__ = [
    "DAY_NAMES",
    "BusinessDays",
    "BusinessDuration",
    "BusinessHours",
    "Calendar",
    "business_duration_from_dict",
    "deadline",
    "parse_workdays",
]
