"""Five-field cron: validation, ``app.every`` sugar, conversion to EventBridge Scheduler, next fire time.

The API takes standard (Vixie) cron, ``minute hour day-of-month month day-of-week``, because
that is what people know. EventBridge Scheduler speaks a Quartz-like six-field dialect
(``cron(minutes hours day-of-month month day-of-week year)``) that differs in three ways this
module handles:

* day-of-week is numbered 1-7 with 1 = Sunday (cron: 0-7, 0 and 7 = Sunday) and accepts no
  ``/`` increments;
* one of day-of-month / day-of-week must be ``?``: Scheduler cannot express cron's rule that
  when *both* day fields are restricted a day matches if *either* matches (OR semantics);
* there is a year field (always ``*`` here).

:func:`next_fire` evaluates an expression the way Scheduler does in a time zone, including its
daylight-saving rules (a wall-clock time skipped by a spring-forward shift does not fire; a
time repeated by a fall-back shift fires once, at its first occurrence); the local cloud uses it
to fire schedules on its virtual clock.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from stepbridge.errors import WorkflowDefinitionError

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_WEEKDAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
#: Longest month length per month (February counts its leap day) - to reject dates that never occur.
_MONTH_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
#: EventBridge Scheduler's limit on ScheduleExpression (CreateSchedule API reference).
_SCHEDULER_EXPRESSION_MAX = 256
#: How far :func:`next_fire` searches: Feb 29 on a given weekday can be 28+ years away, and
#: Feb 29 alone can be 8 years away (2096 -> 2104).
_SEARCH_DAYS = 366 * 30
#: Quartz/AWS-only tokens ("?", "L", "15W", "2#1") that standard cron does not have.
_QUARTZ_RE = re.compile(r"^(\?|\d*[LlWw]|.*#.*)$")


@dataclass(frozen=True)
class _Field:
    name: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()
    names_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    # 7 is accepted as Sunday and folded to 0 after parsing.
    _Field("day-of-week", 0, 7, _DAYS, 0),
)


@dataclass(frozen=True)
class CronSpec:
    """A parsed five-field cron expression: the set of values each field allows.

    ``days_of_week`` uses cron numbering 0-6 (0 = Sunday). ``dom_star`` / ``dow_star`` record
    whether the field was written starting with ``*``; as in Vixie cron, when neither day field
    starts with ``*`` a day matches if *either* field matches, otherwise both must match.
    """

    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_star: bool
    dow_star: bool

    @property
    def or_days(self) -> bool:
        """True when day-of-month and day-of-week are combined with OR (both restricted)."""
        return not self.dom_star and not self.dow_star

    def matches_day(self, day: date) -> bool:
        """Whether ``day`` (a calendar date in the schedule's zone) is a firing day."""
        if day.month not in self.months:
            return False
        dom_ok = day.day in self.days_of_month
        dow_ok = (day.isoweekday() % 7) in self.days_of_week
        return (dom_ok or dow_ok) if self.or_days else (dom_ok and dow_ok)


def _bad(where: str, expr: str, what: str) -> WorkflowDefinitionError:
    return WorkflowDefinitionError(
        f"{where}: invalid cron expression {expr!r}: {what}. Use five fields "
        "'minute hour day-of-month month day-of-week', e.g. '0 2 * * 0' (02:00 every Sunday)"
    )


def _value(token: str, fld: _Field, where: str, expr: str) -> int:
    upper = token.upper()
    if fld.names and upper in fld.names:
        return fld.names.index(upper) + fld.names_base
    if not (token.isascii() and token.isdigit()):
        hint = f" (names: {', '.join(fld.names)})" if fld.names else ""
        raise _bad(where, expr, f"{fld.name} field: {token!r} is not a number{hint}")
    value = int(token)
    if not fld.lo <= value <= fld.hi:
        raise _bad(where, expr, f"{fld.name} field: {value} is outside {fld.lo}-{fld.hi}")
    return value


def _parse_field(text: str, fld: _Field, where: str, expr: str) -> frozenset[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise _bad(where, expr, f"{fld.name} field {text!r} has an empty list item")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not (step_text.isascii() and step_text.isdigit()) or not 1 <= int(step_text) <= fld.hi - fld.lo + 1:
                raise _bad(where, expr, f"{fld.name} field: step {step_text!r} must be 1-{fld.hi - fld.lo + 1}")
            step = int(step_text)
        if base == "*":
            start, end = fld.lo, fld.hi
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _value(first, fld, where, expr), _value(last, fld, where, expr)
            if start > end:
                raise _bad(where, expr, f"{fld.name} field: range {base!r} runs backwards")
        else:
            if _QUARTZ_RE.match(base):
                raise _bad(where, expr, f"{fld.name} field: {base!r} is Quartz/AWS syntax, not standard cron")
            start = _value(base, fld, where, expr)
            # "5/15" means "from 5 every 15" in common cron dialects.
            end = fld.hi if step_text else start
        values.update(range(start, end + 1, step))
    return frozenset(values)


def parse_cron(expr: str, *, where: str = "schedule") -> CronSpec:
    """Parse and validate a five-field cron expression.

    Supports ``*``, numbers, ranges ``a-b``, lists ``a,b``, steps ``*/n``, ``a-b/n`` and ``a/n``,
    month names ``JAN``-``DEC`` and weekday names ``SUN``-``SAT`` (0 and 7 are Sunday).
    Raises :class:`~stepbridge.errors.WorkflowDefinitionError` naming ``where`` and the field.
    """
    if not isinstance(expr, str):
        raise WorkflowDefinitionError(f"{where}: cron expression must be a string, got {type(expr).__name__}")
    if expr.strip().lower().startswith(("rate(", "cron(", "at(")):
        raise _bad(where, expr, "EventBridge's rate(...)/cron(...)/at(...) forms are not taken here; write a "
                   "5-field cron ('*/5 * * * *' = every 5 minutes) or use app.every('hourly'|'daily'|'weekly', ...)")
    parts = expr.split()
    if len(parts) != 5:
        extra = " (EventBridge's six-field 'cron(...)' form is generated for you)" if len(parts) == 6 else ""
        raise _bad(where, expr, f"expected 5 fields, got {len(parts)}{extra}")
    fields = [_parse_field(text, fld, where, expr) for text, fld in zip(parts, _FIELDS, strict=True)]
    dows = frozenset(d % 7 for d in fields[4])
    spec = CronSpec(
        expr=" ".join(parts),
        minutes=fields[0],
        hours=fields[1],
        days_of_month=fields[2],
        months=fields[3],
        days_of_week=dows,
        dom_star=parts[2].startswith("*"),
        dow_star=parts[4].startswith("*"),
    )
    # With AND semantics every firing day must exist in some allowed month ("0 0 30 2 *" never fires).
    if not spec.or_days and not any(d <= _MONTH_MAX_DAYS[m - 1] for m in spec.months for d in spec.days_of_month):
        raise _bad(where, expr, "that day-of-month never occurs in the given month(s), so it would never fire")
    return spec


# ---- app.every ---------------------------------------------------------------------------

_AT_RE = re.compile(r"^(?:(\d{1,2}))?:(\d{2})$")


def _parse_at(at: str, *, frequency: str, where: str) -> tuple[int | None, int]:
    match = _AT_RE.match(at.strip()) if isinstance(at, str) else None
    if match is None:
        raise WorkflowDefinitionError(
            f"{where}: at={at!r} is not a time; use 'HH:MM' (24-hour, e.g. '09:30')"
            + (" or ':MM' for hourly" if frequency == "hourly" else "")
        )
    hour_text, minute_text = match.groups()
    hour = int(hour_text) if hour_text is not None else None
    minute = int(minute_text)
    if minute > 59 or (hour is not None and hour > 23):
        raise WorkflowDefinitionError(f"{where}: at={at!r} is not a valid time of day (00:00-23:59)")
    if hour is None and frequency != "hourly":
        raise WorkflowDefinitionError(f"{where}: at={at!r} gives no hour; {frequency} schedules need 'HH:MM'")
    return hour, minute


def every_to_cron(frequency: str, *, at: str = "00:00", on: str | None = None, where: str = "schedule") -> str:
    """Translate ``app.every`` arguments into a five-field cron expression.

    ``"hourly"`` fires at the minute of ``at`` (``"HH:MM"`` or ``":MM"``); ``"daily"`` at ``at``;
    ``"weekly"`` at ``at`` on the weekday ``on`` (``"monday"`` or ``"mon"``, required).
    """
    if frequency not in ("hourly", "daily", "weekly"):
        raise WorkflowDefinitionError(
            f"{where}: frequency {frequency!r} is not supported; use 'hourly', 'daily' or 'weekly', "
            "or app.schedule(name, '<5-field cron>', workflow) for anything else"
        )
    hour, minute = _parse_at(at, frequency=frequency, where=where)
    if frequency != "weekly":
        if on is not None:
            raise WorkflowDefinitionError(f"{where}: on={on!r} only applies to 'weekly' schedules")
        return f"{minute} * * * *" if frequency == "hourly" else f"{minute} {hour} * * *"
    if on is None:
        raise WorkflowDefinitionError(f"{where}: a weekly schedule needs on='monday' (or another weekday)")
    key = on.strip().lower() if isinstance(on, str) else ""
    for index, day in enumerate(_WEEKDAY_NAMES):
        if key in (day, day[:3]):
            return f"{minute} {hour} * * {index}"
    raise WorkflowDefinitionError(f"{where}: on={on!r} is not a weekday; use one of {', '.join(_WEEKDAY_NAMES)}")


def validate_timezone(tz: str, *, where: str = "schedule") -> str:
    """Check that ``tz`` is an IANA time zone name (as EventBridge Scheduler requires); return it."""
    if not isinstance(tz, str) or not tz or tz != tz.strip():
        raise WorkflowDefinitionError(f"{where}: timezone {tz!r} is not an IANA time zone name such as 'UTC'")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # Without any time zone database (a stripped-down runtime image) nothing can be checked here;
        # the compiler, which runs where tzdata exists, checks again.
        if tz == "UTC" or not zoneinfo.available_timezones():
            return tz
        raise WorkflowDefinitionError(
            f"{where}: unknown timezone {tz!r}; use an IANA name such as 'UTC', 'Europe/Paris' or 'America/New_York'"
        ) from None
    return tz


# ---- EventBridge Scheduler ---------------------------------------------------------------------


def _runs(values: Iterable[int]) -> list[tuple[int, int]]:
    ordered = sorted(values)
    runs: list[tuple[int, int]] = []
    for v in ordered:
        if runs and runs[-1][1] == v - 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def _render(values: frozenset[int], lo: int, hi: int, *, increments: bool = True) -> str:
    """Canonical Scheduler text for a set of field values: ``*``, ``a/n``, ranges and lists."""
    if values == frozenset(range(lo, hi + 1)):
        return "*"
    ordered = sorted(values)
    if increments and len(ordered) >= 3:
        step = ordered[1] - ordered[0]
        if step > 1 and ordered == list(range(ordered[0], hi + 1, step)):
            return f"{ordered[0]}/{step}"
    items = []
    for first, last in _runs(ordered):
        if last - first >= 2:
            items.append(f"{first}-{last}")
        else:
            items.extend(str(v) for v in range(first, last + 1))
    return ",".join(items)


def to_scheduler_expression(expr: str, *, where: str = "schedule") -> str:
    """Convert a five-field cron expression to EventBridge Scheduler's ``cron(...)`` six-field form.

    ``"0 2 * * 0"`` -> ``"cron(0 2 ? * 1 *)"``; ``"*/15 9-17 * * 1-5"`` -> ``"cron(0/15 9-17 ? * 2-6 *)"``;
    ``"0 9 1 * *"`` -> ``"cron(0 9 1 * ? *)"``. When both day fields restrict the day (cron's OR
    rule, e.g. ``"0 0 1 * 1"`` = the 1st *or* any Monday) Scheduler has no equivalent and this
    raises :class:`~stepbridge.errors.WorkflowDefinitionError` suggesting two schedules.
    """
    spec = parse_cron(expr, where=where)
    all_dom = spec.days_of_month == frozenset(range(1, 32))
    all_dow = spec.days_of_week == frozenset(range(7))
    if spec.or_days and (all_dom or all_dow):
        all_dom, all_dow = True, True  # "either matches" with a full field = every day
    if all_dom and all_dow:
        dom, dow = "*", "?"
    elif all_dom:
        dom, dow = "?", _render(frozenset(d + 1 for d in spec.days_of_week), 1, 7, increments=False)
    elif all_dow:
        dom, dow = _render(spec.days_of_month, 1, 31), "?"
    else:
        rule = "OR (a day matches if either field matches)" if spec.or_days else "AND"
        raise WorkflowDefinitionError(
            f"{where}: cron expression {expr!r} restricts both day-of-month and day-of-week ({rule}); "
            "EventBridge Scheduler needs one of them to be '?'. Split it into two schedules, one per day field"
        )
    text = (
        f"cron({_render(spec.minutes, 0, 59)} {_render(spec.hours, 0, 23)} {dom} {_render(spec.months, 1, 12)} {dow} *)"
    )
    if len(text) > _SCHEDULER_EXPRESSION_MAX:
        raise WorkflowDefinitionError(
            f"{where}: cron expression {expr!r} becomes {len(text)} characters for EventBridge Scheduler "
            f"(limit {_SCHEDULER_EXPRESSION_MAX}); simplify its lists"
        )
    return text


# ---- next fire time ------------------------------------------------------------------------------


#: Largest change of a zone's UTC offset at a transition (real ones are at most 2 h).
_MAX_OFFSET_CHANGE = timedelta(hours=3)


def next_fire(expr: str, after: datetime, tz: str = "UTC") -> datetime:
    """The first time ``expr`` fires strictly after ``after``, evaluated in ``tz``, returned in UTC.

    ``after`` may be naive (taken as UTC) or aware. Follows cron's day-of-month/day-of-week OR
    rule when both are restricted, and EventBridge Scheduler's DST behaviour (skipped wall times
    do not fire; repeated ones fire once, at their first occurrence).
    """
    spec = parse_cron(expr, where="next_fire")
    zone = zoneinfo.ZoneInfo(tz)
    after_utc = (after if after.tzinfo else after.replace(tzinfo=UTC)).astimezone(UTC)
    # Fire times are whole minutes: the first candidate is the next minute boundary.
    after_utc = after_utc.replace(second=0, microsecond=0) + timedelta(minutes=1) - timedelta(microseconds=1)
    # Wall-clock times before ``floor`` cannot be later than ``after``: exact when the offset is
    # steady around ``after``, otherwise widened by the largest possible offset change.
    local_after = after_utc.astimezone(zone)
    steady = all(
        (after_utc + delta).astimezone(zone).utcoffset() == local_after.utcoffset()
        for delta in (-_MAX_OFFSET_CHANGE, _MAX_OFFSET_CHANGE)
    )
    floor = local_after.replace(tzinfo=None) - (timedelta(0) if steady else _MAX_OFFSET_CHANGE)
    hours, minutes = sorted(spec.hours), sorted(spec.minutes)
    day = floor.date()
    for _ in range(_SEARCH_DAYS):
        if spec.matches_day(day):
            for hour in hours:
                if day == floor.date() and hour < floor.hour:
                    continue
                for minute in minutes:
                    wall = datetime(day.year, day.month, day.day, hour, minute)
                    if wall < floor:
                        continue
                    # fold=0: a repeated wall time maps to its first occurrence. With skipped times
                    # left out, wall-clock order is UTC order, so the first hit is the answer.
                    instant = wall.replace(tzinfo=zone).astimezone(UTC)
                    if instant.astimezone(zone).replace(tzinfo=None) != wall:
                        continue  # in a spring-forward gap: Scheduler skips it
                    if instant > after_utc:
                        return instant
        day += timedelta(days=1)
    raise ValueError(f"cron expression {expr!r} does not fire within {_SEARCH_DAYS // 366} years of {after}")


__all__ = [
    "CronSpec",
    "every_to_cron",
    "next_fire",
    "parse_cron",
    "to_scheduler_expression",
    "validate_timezone",
]
