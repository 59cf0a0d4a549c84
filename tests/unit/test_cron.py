"""Five-field cron: parsing, app.every, Scheduler conversion and next fire times (incl. DST)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from stepbridge.api.app import App
from stepbridge.api.cron import every_to_cron, next_fire, parse_cron, to_scheduler_expression, validate_timezone
from stepbridge.errors import WorkflowDefinitionError

# ---- conversion to EventBridge Scheduler ---------------------------------------------------------

CONVERSIONS = [
    # the three from the issue
    ("0 2 * * 0", "cron(0 2 ? * 1 *)"),
    ("*/15 9-17 * * 1-5", "cron(0/15 9-17 ? * 2-6 *)"),
    ("0 9 1 * *", "cron(0 9 1 * ? *)"),
    # every minute / hour / day
    ("* * * * *", "cron(* * * * ? *)"),
    ("0 * * * *", "cron(0 * * * ? *)"),
    ("30 8 * * *", "cron(30 8 * * ? *)"),
    # Sunday as 7, names, lists and ranges of weekdays (AWS: SUN=1 ... SAT=7, no '/')
    ("0 0 * * 7", "cron(0 0 ? * 1 *)"),
    ("0 0 * * MON-FRI", "cron(0 0 ? * 2-6 *)"),
    ("0 12 * * sat,sun", "cron(0 12 ? * 1,7 *)"),
    ("0 12 * * 5-7", "cron(0 12 ? * 1,6,7 *)"),
    ("0 0 * * */2", "cron(0 0 ? * 1,3,5,7 *)"),
    ("0 0 * * 1,3,5", "cron(0 0 ? * 2,4,6 *)"),
    # steps become "start/step" where Scheduler can say it, lists otherwise
    ("0 */2 * * *", "cron(0 0/2 * * ? *)"),
    ("5/10 * * * *", "cron(5/10 * * * ? *)"),
    ("0-10/5 * * * *", "cron(0,5,10 * * * ? *)"),
    ("0 0 */2 * *", "cron(0 0 1/2 * ? *)"),
    ("15 10 1,15 * *", "cron(15 10 1,15 * ? *)"),
    # months
    ("0 0 1 JAN,JUL *", "cron(0 0 1 1,7 ? *)"),
    ("0 0 1 1 *", "cron(0 0 1 1 ? *)"),
    ("0 6 * 3-5 *", "cron(0 6 * 3-5 ? *)"),
    # OR with a full day-of-month field: every day (Vixie semantics)
    ("0 0 1-31 * 1", "cron(0 0 * * ? *)"),
    # extra whitespace is fine
    ("  0   2 * *   0 ", "cron(0 2 ? * 1 *)"),
]


@pytest.mark.parametrize(("expr", "expected"), CONVERSIONS)
def test_to_scheduler_expression(expr: str, expected: str) -> None:
    assert to_scheduler_expression(expr) == expected


@pytest.mark.parametrize("expr", ["0 0 1 * 1", "0 0 */2 * 1", "30 8 15 * MON-FRI"])
def test_both_day_fields_cannot_be_expressed(expr: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as info:
        to_scheduler_expression(expr, where="schedule 'payday'")
    message = str(info.value)
    assert "schedule 'payday'" in message
    assert "day-of-month and day-of-week" in message
    assert "two schedules" in message


def test_scheduler_conversion_agrees_with_next_fire() -> None:
    """For each conversion, the expression fires on the same days the 5-field form does (sampled)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for expr, _ in CONVERSIONS[:12]:
        t = start
        for _ in range(5):
            t = next_fire(expr, t, "UTC")
            assert parse_cron(expr).matches_day(t.date())


# ---- invalid expressions -------------------------------------------------------------------------

INVALID = [
    ("61 * * * *", "minute field: 61 is outside 0-59"),
    ("0 24 * * *", "hour field: 24 is outside 0-23"),
    ("0 0 0 * *", "day-of-month field: 0 is outside 1-31"),
    ("0 0 1 13 *", "month field: 13 is outside 1-12"),
    ("0 0 * * 8", "day-of-week field: 8 is outside 0-7"),
    ("0 0 * * FUNDAY", "day-of-week field: 'FUNDAY' is not a number"),
    ("*/0 * * * *", "minute field: step '0'"),
    ("5-1 * * * *", "range '5-1' runs backwards"),
    ("0 0 L * *", "Quartz/AWS syntax"),
    ("0 0 ? * 1", "Quartz/AWS syntax"),
    ("0 0 * * 2#1", "Quartz/AWS syntax"),
    ("0 0 * *", "expected 5 fields, got 4"),
    ("0 0 * * ? *", "six-field"),
    ("@daily", "expected 5 fields, got 1"),
    ("0 0 30 2 *", "never occurs"),
    ("0 0 31 4,6 *", "never occurs"),
    ("0,,5 * * * *", "empty list item"),
    ("-1 * * * *", "minute field"),
]


@pytest.mark.parametrize(("expr", "fragment"), INVALID)
def test_invalid_expressions_name_the_schedule_and_field(expr: str, fragment: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as info:
        parse_cron(expr, where="schedule 'nightly'")
    message = str(info.value)
    assert message.startswith("schedule 'nightly': invalid cron expression")
    assert fragment in message


def test_app_schedule_rejects_bad_cron_at_registration() -> None:
    app = App("crons")

    @app.workflow("job")
    async def job(ctx: object) -> None:
        return None

    with pytest.raises(WorkflowDefinitionError, match=r"schedule 'bad'.*minute field"):
        app.schedule("bad", "99 * * * *", job)


# ---- app.every -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "at", "on", "expected"),
    [
        ("hourly", ":15", None, "15 * * * *"),
        ("hourly", "09:45", None, "45 * * * *"),
        ("hourly", "00:00", None, "0 * * * *"),
        ("daily", "09:00", None, "0 9 * * *"),
        ("daily", "7:05", None, "5 7 * * *"),
        ("weekly", "08:30", "monday", "30 8 * * 1"),
        ("weekly", "23:59", "Sun", "59 23 * * 0"),
        ("weekly", "12:00", "saturday", "0 12 * * 6"),
    ],
)
def test_every_to_cron(frequency: str, at: str, on: str | None, expected: str) -> None:
    assert every_to_cron(frequency, at=at, on=on, where="w") == expected
    parse_cron(expected)


@pytest.mark.parametrize(
    ("frequency", "at", "on", "fragment"),
    [
        ("daily", "25:00", None, "at='25:00' is not a valid time"),
        ("daily", "9am", None, "at='9am' is not a time"),
        ("daily", ":30", None, "daily schedules need 'HH:MM'"),
        ("hourly", "12:60", None, "not a valid time"),
        ("weekly", "08:00", None, "needs on='monday'"),
        ("weekly", "08:00", "someday", "is not a weekday"),
        ("daily", "08:00", "monday", "only applies to 'weekly'"),
        ("monthly", "08:00", None, "frequency 'monthly' is not supported"),
    ],
)
def test_every_errors(frequency: str, at: str, on: str | None, fragment: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as info:
        every_to_cron(frequency, at=at, on=on, where="schedule for workflow 'report'")
    assert "schedule for workflow 'report'" in str(info.value)
    assert fragment in str(info.value)


def test_app_every_bad_at_names_the_workflow() -> None:
    app = App("everyapp")

    @app.workflow("report")
    async def report(ctx: object) -> None:
        return None

    with pytest.raises(WorkflowDefinitionError, match=r"workflow 'report'.*at='24:00'"):
        app.every("daily", at="24:00", workflow=report)


# ---- time zones ----------------------------------------------------------------------------------


@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata"])
def test_valid_timezones(tz: str) -> None:
    assert validate_timezone(tz, where="s") == tz


@pytest.mark.parametrize("tz", ["Mars/Olympus_Mons", "", " UTC", "Europe/", "../etc/passwd"])
def test_invalid_timezones(tz: str) -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"schedule 'x'.*timezone"):
        validate_timezone(tz, where="schedule 'x'")


def test_app_schedule_rejects_unknown_timezone() -> None:
    app = App("tzapp")

    @app.workflow("job")
    async def job(ctx: object) -> None:
        return None

    with pytest.raises(WorkflowDefinitionError, match=r"schedule 'job-tz'.*Mars/Base"):
        app.schedule("job-tz", "0 9 * * *", job, timezone="Mars/Base")


# ---- next_fire -----------------------------------------------------------------------------------


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expr", "after", "tz", "expected"),
    [
        ("0 9 * * *", utc(2024, 1, 1, 8, 59), "UTC", utc(2024, 1, 1, 9, 0)),
        ("0 9 * * *", utc(2024, 1, 1, 9, 0), "UTC", utc(2024, 1, 2, 9, 0)),  # strictly after
        ("0 9 * * *", utc(2024, 1, 1, 8, 59, 59, 999999), "UTC", utc(2024, 1, 1, 9, 0)),
        ("0 9 * * *", utc(2024, 1, 1), "Europe/Paris", utc(2024, 1, 1, 8, 0)),  # CET = UTC+1
        ("0 9 * * *", utc(2024, 7, 1), "Europe/Paris", utc(2024, 7, 1, 7, 0)),  # CEST = UTC+2
        ("0 2 * * 0", utc(2024, 3, 1), "UTC", utc(2024, 3, 3, 2, 0)),  # next Sunday
        ("*/15 9-17 * * 1-5", utc(2024, 3, 8, 17, 45), "UTC", utc(2024, 3, 11, 9, 0)),  # Fri -> Mon
        ("0 9 1 * *", utc(2024, 1, 15), "UTC", utc(2024, 2, 1, 9, 0)),
        ("0 0 10 * 5", utc(2024, 9, 7), "UTC", utc(2024, 9, 10)),  # OR: the 10th (a Tuesday)...
        ("0 0 10 * 5", utc(2024, 9, 10, 1), "UTC", utc(2024, 9, 13)),  # ...or a Friday
        ("0 0 */2 * 5", utc(2024, 9, 1), "UTC", utc(2024, 9, 13)),  # AND (dom starts with *): odd Friday
        ("0 0 29 2 *", utc(2097, 1, 1), "UTC", utc(2104, 2, 29)),  # 2100 is no leap year
        # DST, America/New_York: 2024-03-10 02:00 -> 03:00 (02:30 does not exist: skipped)
        ("30 2 * * *", utc(2024, 3, 9, 12), "America/New_York", utc(2024, 3, 11, 6, 30)),
        ("0 3 * * *", utc(2024, 3, 9, 12), "America/New_York", utc(2024, 3, 10, 7, 0)),
        # DST, America/New_York: 2024-11-03 02:00 -> 01:00 (01:30 happens twice: fires once, first)
        ("30 1 * * *", utc(2024, 11, 2, 12), "America/New_York", utc(2024, 11, 3, 5, 30)),
        ("30 1 * * *", utc(2024, 11, 3, 5, 30), "America/New_York", utc(2024, 11, 4, 6, 30)),
        # Half-hour offset zone
        ("0 9 * * *", utc(2024, 1, 1), "Asia/Kolkata", utc(2024, 1, 1, 3, 30)),
    ],
)
def test_next_fire(expr: str, after: datetime, tz: str, expected: datetime) -> None:
    result = next_fire(expr, after, tz)
    assert result == expected
    assert result.tzinfo is UTC


def test_next_fire_accepts_naive_and_other_offsets() -> None:
    assert next_fire("0 9 * * *", datetime(2024, 1, 1, 8, 0), "UTC") == utc(2024, 1, 1, 9)
    plus_two = timezone(timedelta(hours=2))
    assert next_fire("0 9 * * *", datetime(2024, 1, 1, 10, 30, tzinfo=plus_two), "UTC") == utc(2024, 1, 1, 9)


def test_next_fire_hourly_across_fall_back_has_no_duplicate_hour() -> None:
    fires = []
    t = utc(2024, 11, 3, 4, 0)
    for _ in range(4):
        t = next_fire("30 * * * *", t, "America/New_York")
        fires.append(t)
    # 00:30 EDT, 01:30 EDT (first occurrence), [01:30 EST skipped], 02:30 EST, 03:30 EST
    assert fires == [utc(2024, 11, 3, 4, 30), utc(2024, 11, 3, 5, 30), utc(2024, 11, 3, 7, 30), utc(2024, 11, 3, 8, 30)]


def test_next_fire_rejects_invalid_expression() -> None:
    with pytest.raises(WorkflowDefinitionError):
        next_fire("61 * * * *", utc(2024, 1, 1), "UTC")


@pytest.mark.parametrize("expr", ["30 1 * * *", "*/20 * * * *", "0 2 * * *", "15 1-3 * * 0", "0 0 10 * 0"])
@pytest.mark.parametrize(
    ("tz", "start"),
    [("America/New_York", utc(2024, 3, 9)), ("America/New_York", utc(2024, 11, 2)), ("Europe/Paris", utc(2024, 3, 30))],
)
def test_next_fire_matches_a_minute_by_minute_reference(expr: str, tz: str, start: datetime) -> None:
    """Reference: walk every UTC minute; fire when the local wall time matches and is its first occurrence."""
    from zoneinfo import ZoneInfo

    spec, zone = parse_cron(expr), ZoneInfo(tz)
    end = start + timedelta(days=3)
    expected, t = [], start
    while t < end:
        local = t.astimezone(zone)
        if (
            local.fold == 0
            and local.minute in spec.minutes
            and local.hour in spec.hours
            and spec.matches_day(local.date())
        ):
            expected.append(t)
        t += timedelta(minutes=1)
    actual, t = [], start - timedelta(minutes=1)
    while True:
        t = next_fire(expr, t, tz)
        if t >= end:
            break
        actual.append(t)
    assert actual == expected
