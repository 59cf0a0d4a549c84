"""Business time: explicit examples (weekends, Christmas, the 2026 DST changes, split hours) and bad input."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from stepbridge import BusinessDays, BusinessHours, Calendar, load_ics
from stepbridge.api.calendar import business_duration_from_dict, parse_workdays

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
ADELAIDE = ZoneInfo("Australia/Adelaide")

CAL = Calendar("Europe/Berlin", workdays="mon-fri", hours=("09:00", "17:00"), holidays=[date(2026, 12, 25)])


def at(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold)  # type: ignore[misc]


def local(value: datetime, zone: ZoneInfo = BERLIN) -> tuple[int, ...]:
    assert value.tzinfo is UTC, "results are aware UTC"
    t = value.astimezone(zone)
    return (t.year, t.month, t.day, t.hour, t.minute, t.second)


# ---- the basic rules --------------------------------------------------------------------------------------


def test_one_business_day_from_friday_afternoon_is_monday_afternoon() -> None:
    assert local(CAL.add(at(BERLIN, 2026, 6, 5, 15), BusinessDays(1))) == (2026, 6, 8, 15, 0, 0)


def test_business_days_from_a_weekend_start_at_the_next_opening() -> None:
    assert local(CAL.add(at(BERLIN, 2026, 6, 6, 11), BusinessDays(1))) == (2026, 6, 9, 9, 0, 0)
    assert local(CAL.add(at(BERLIN, 2026, 6, 8, 20), BusinessDays(2))) == (2026, 6, 11, 9, 0, 0)
    assert local(CAL.add(at(BERLIN, 2026, 6, 6, 11), BusinessDays(0))) == (2026, 6, 8, 9, 0, 0)


def test_business_hours_start_at_the_next_opening_and_end_at_a_close() -> None:
    assert local(CAL.add(at(BERLIN, 2026, 6, 8, 7), BusinessHours(1))) == (2026, 6, 8, 10, 0, 0)
    assert local(CAL.add(at(BERLIN, 2026, 6, 8, 9), BusinessHours(8))) == (2026, 6, 8, 17, 0, 0)
    assert local(CAL.add(at(BERLIN, 2026, 6, 8, 9), BusinessHours(8.5))) == (2026, 6, 9, 9, 30, 0)
    assert local(CAL.add(at(BERLIN, 2026, 6, 5, 16), BusinessHours(2))) == (2026, 6, 8, 10, 0, 0)


def test_zero_business_hours_is_the_next_business_time() -> None:
    assert local(CAL.add(at(BERLIN, 2026, 6, 8, 17), BusinessHours(0))) == (2026, 6, 9, 9, 0, 0)
    assert local(CAL.add(at(BERLIN, 2026, 6, 8, 10, 15), BusinessHours(0))) == (2026, 6, 8, 10, 15, 0)


def test_fractional_hours_are_exact_to_the_microsecond() -> None:
    assert BusinessHours(0.1).duration == timedelta(minutes=6)
    assert BusinessHours(1 / 3).duration == timedelta(microseconds=1_200_000_000)
    start = at(BERLIN, 2026, 6, 8, 9)
    assert CAL.business_hours_between(start, CAL.add(start, BusinessHours(0.1))) == timedelta(minutes=6)


def test_is_business_time_includes_the_opening_and_excludes_the_close() -> None:
    assert CAL.is_business_time(at(BERLIN, 2026, 6, 8, 9))
    assert not CAL.is_business_time(at(BERLIN, 2026, 6, 8, 17))
    assert not CAL.is_business_time(at(BERLIN, 2026, 6, 6, 12))  # Saturday
    assert local(CAL.next_business_time(at(BERLIN, 2026, 6, 8, 17))) == (2026, 6, 9, 9, 0, 0)
    assert local(CAL.next_business_time(at(BERLIN, 2026, 6, 8, 12))) == (2026, 6, 8, 12, 0, 0)


def test_business_hours_between_counts_only_working_time_and_is_signed() -> None:
    friday, monday = at(BERLIN, 2026, 6, 5, 12), at(BERLIN, 2026, 6, 8, 12)
    assert CAL.business_hours_between(friday, monday) == timedelta(hours=8)
    assert CAL.business_hours_between(monday, friday) == timedelta(hours=-8)
    assert CAL.business_hours_between(friday, friday) == timedelta(0)


# ---- holidays ---------------------------------------------------------------------------------------------


def test_christmas_is_skipped_together_with_the_weekend() -> None:
    eve = at(BERLIN, 2026, 12, 24, 16)
    assert local(CAL.add(eve, BusinessHours(2))) == (2026, 12, 28, 10, 0, 0)
    assert local(CAL.add(at(BERLIN, 2026, 12, 24, 15), BusinessDays(1))) == (2026, 12, 28, 15, 0, 0)
    assert not CAL.is_business_day(date(2026, 12, 25))
    assert CAL.business_hours_between(eve, at(BERLIN, 2026, 12, 28, 10)) == timedelta(hours=2)


# ---- DST ------------------------------------------------------------------------------------------------


def test_berlin_spring_forward_keeps_local_hours_and_counts_real_time() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST; Friday 27th 15:00 CET is 14:00Z, Monday 30th 15:00 CEST is 13:00Z
    friday = at(BERLIN, 2026, 3, 27, 15)
    monday = CAL.add(friday, BusinessDays(1))
    assert local(monday) == (2026, 3, 30, 15, 0, 0)
    assert monday - friday.astimezone(UTC) == timedelta(hours=71)
    assert CAL.business_hours_between(friday, monday) == timedelta(hours=8)
    assert monday == datetime(2026, 3, 30, 13, tzinfo=UTC)


def test_berlin_fall_back_keeps_local_hours() -> None:
    friday = at(BERLIN, 2026, 10, 23, 16)
    assert local(CAL.add(friday, BusinessHours(2))) == (2026, 10, 26, 10, 0, 0)
    assert CAL.add(friday, BusinessHours(2)) == datetime(2026, 10, 26, 9, tzinfo=UTC)


def test_a_round_the_clock_calendar_has_23_and_25_hour_days() -> None:
    always = Calendar("Europe/Berlin", workdays="mon-sun", hours=("00:00", "24:00"))
    spring = always.business_hours_between(at(BERLIN, 2026, 3, 29, 0), at(BERLIN, 2026, 3, 30, 0))
    autumn = always.business_hours_between(at(BERLIN, 2026, 10, 25, 0), at(BERLIN, 2026, 10, 26, 0))
    assert (spring, autumn) == (timedelta(hours=23), timedelta(hours=25))
    assert always.is_business_time(at(BERLIN, 2026, 3, 30, 0))


def test_a_night_shift_over_the_jump_loses_the_skipped_hour() -> None:
    night = Calendar("Europe/Berlin", workdays="mon-sun", hours=("01:00", "04:00"))
    start = at(BERLIN, 2026, 3, 29, 1)
    assert night.business_hours_between(start, at(BERLIN, 2026, 3, 29, 5)) == timedelta(hours=2)
    assert local(night.add(start, BusinessHours(2.5))) == (2026, 3, 30, 1, 30, 0)
    assert night.business_hours_between(at(BERLIN, 2026, 10, 25, 0), at(BERLIN, 2026, 10, 25, 5)) == timedelta(hours=4)


def test_a_nonexistent_opening_is_the_jump_and_an_ambiguous_one_is_its_first_pass() -> None:
    cal = Calendar("Europe/Berlin", workdays="mon-sun", hours=("02:30", "05:00"))
    ((spring_open, _),) = cal.intervals(date(2026, 3, 29))
    ((autumn_open, _),) = cal.intervals(date(2026, 10, 25))
    assert spring_open == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, the instant the clocks jumped
    assert autumn_open == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # 02:30 CEST, first pass


def test_business_days_from_the_repeated_hour_stay_monotonic() -> None:
    always = Calendar("Europe/Berlin", workdays="mon-sun", hours=("00:00", "24:00"))
    first_pass = at(BERLIN, 2026, 10, 25, 2, 40)  # 00:40Z
    second_pass = at(BERLIN, 2026, 10, 25, 2, 10, fold=1)  # 01:10Z, later although its wall time is earlier
    assert first_pass.astimezone(UTC) < second_pass.astimezone(UTC)  # same-zone comparison ignores fold
    assert local(always.add(first_pass, BusinessDays(1))) == (2026, 10, 26, 2, 40, 0)
    assert local(always.add(second_pass, BusinessDays(1))) == (2026, 10, 26, 3, 0, 0)


def test_new_york_and_sydney_2026_changes() -> None:
    ny = Calendar("America/New_York", hours=[("09:00", "12:00"), ("13:00", "17:00")])
    # DST starts Sunday 2026-03-08; Friday 16:00 EST + 3 h -> Monday 11:00 EDT (lunch is not counted)
    assert local(ny.add(at(NEW_YORK, 2026, 3, 6, 16), BusinessHours(3)), NEW_YORK) == (2026, 3, 9, 11, 0, 0)
    assert local(ny.add(at(NEW_YORK, 2026, 3, 9, 11), BusinessHours(2)), NEW_YORK) == (2026, 3, 9, 14, 0, 0)
    sydney = Calendar("Australia/Sydney")
    # DST ends Sunday 2026-04-05 and starts Sunday 2026-10-04
    assert local(sydney.add(at(SYDNEY, 2026, 4, 3, 15), BusinessDays(1)), SYDNEY) == (2026, 4, 6, 15, 0, 0)
    assert local(sydney.add(at(SYDNEY, 2026, 10, 2, 15), BusinessDays(1)), SYDNEY) == (2026, 10, 5, 15, 0, 0)


def test_half_hour_offsets() -> None:
    india = Calendar("Asia/Kolkata")
    assert india.add(at(KOLKATA, 2026, 6, 8, 9), BusinessHours(8)) == datetime(2026, 6, 8, 11, 30, tzinfo=UTC)
    adelaide = Calendar("Australia/Adelaide")  # +10:30 in summer, +09:30 in winter
    # DST ends Sunday 2026-04-05: Friday 16:00 ACDT + 2 h -> Monday 10:00 ACST = 00:30Z
    assert adelaide.add(at(ADELAIDE, 2026, 4, 3, 16), BusinessHours(2)) == datetime(2026, 4, 6, 0, 30, tzinfo=UTC)


# ---- per-weekday and split hours ----------------------------------------------------------------------------


def test_per_weekday_hours_clamp_business_days_into_the_target_day() -> None:
    cal = Calendar("Europe/Berlin", hours={"mon-thu": ("09:00", "17:00"), "fri": ("09:00", "13:00")})
    assert local(cal.add(at(BERLIN, 2026, 6, 4, 15), BusinessDays(1))) == (2026, 6, 5, 13, 0, 0)
    assert local(cal.add(at(BERLIN, 2026, 6, 5, 12), BusinessDays(1))) == (2026, 6, 8, 12, 0, 0)
    split = Calendar(
        "Europe/Berlin", hours={"mon-thu": [("09:00", "12:00"), ("14:00", "18:00")], "fri": ("08:00", "12:00")}
    )
    assert local(split.add(at(BERLIN, 2026, 6, 5, 11), BusinessDays(1))) == (2026, 6, 8, 11, 0, 0)
    assert local(split.add(at(BERLIN, 2026, 6, 4, 13), BusinessDays(1))) == (2026, 6, 5, 12, 0, 0)
    assert local(split.add(at(BERLIN, 2026, 6, 5, 8), BusinessDays(3))) == (2026, 6, 10, 9, 0, 0)


def test_workday_specs() -> None:
    assert parse_workdays("mon-fri") == (0, 1, 2, 3, 4)
    assert parse_workdays("mon,tue,thu") == (0, 1, 3)
    assert parse_workdays("fri-mon") == (0, 4, 5, 6)
    assert parse_workdays(["Monday", "wed", 6]) == (0, 2, 6)
    assert parse_workdays("sun") == (6,)


# ---- serialisation ----------------------------------------------------------------------------------------


def test_a_calendar_round_trips_through_a_json_dict() -> None:
    cal = Calendar(
        "America/New_York",
        workdays="mon-sat",
        hours={"mon-fri": [("09:00", "12:00"), ("13:00", "17:30")], "sat": ("10:00", "14:00")},
        holidays=[date(2026, 7, 3), date(2026, 12, 25)],
    )
    data = json.loads(json.dumps(cal.to_dict()))
    assert data["hours"]["mon"] == [["09:00", "12:00"], ["13:00", "17:30"]]
    assert Calendar.from_dict(data) == cal
    assert hash(Calendar.from_dict(data)) == hash(cal)
    assert cal != Calendar.from_dict({**data, "holidays": ["2026-07-03"]})
    assert business_duration_from_dict(BusinessDays(3).to_dict()) == BusinessDays(3)
    assert business_duration_from_dict(BusinessHours(1.5).to_dict()) == BusinessHours(1.5)


def test_equal_specs_give_equal_calendars() -> None:
    a = Calendar("Europe/Berlin", workdays="mon-fri", hours=("09:00", "17:00"))
    b = Calendar("Europe/Berlin", workdays=[0, 1, 2, 3, 4], hours={"mon-fri": [("09:00", "17:00")]})
    assert a == b


# ---- bad input -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tz": "Europe/Berln"}, "not a known IANA zone"),
        ({"tz": "../etc/passwd"}, "not a known IANA zone"),
        ({"workdays": "mon-frx"}, "unknown weekday 'frx'"),
        ({"workdays": [7]}, "out of range"),
        ({"hours": ("17:00", "09:00")}, "closes before it opens"),
        ({"hours": ("9h", "17:00")}, "'HH:MM'"),
        ({"hours": ("09:00", "24:30")}, "out of range"),
        ({"hours": [("09:00", "13:00"), ("12:00", "17:00")]}, "without overlap"),
        ({"hours": [("13:00", "17:00"), ("09:00", "12:00")]}, "in order"),
        ({"hours": {"mon-thu": ("09:00", "17:00")}}, "fri have no hours"),
        ({"hours": {"mon-fri": ("09:00", "17:00"), "sat": ("09:00", "12:00")}}, "sat has hours but is not a workday"),
        ({"holidays": [datetime(2026, 12, 25, tzinfo=UTC)]}, "datetime.date"),
    ],
)
def test_bad_calendars_say_what_to_do(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"tz": "Europe/Berlin", **kwargs}
    with pytest.raises((ValueError, TypeError), match=message):
        Calendar(**args)  # type: ignore[arg-type]


def test_bad_durations_and_naive_datetimes() -> None:
    with pytest.raises(TypeError, match="use BusinessHours for fractions"):
        BusinessDays(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be negative"):
        BusinessDays(-1)
    with pytest.raises(ValueError, match="finite, non-negative"):
        BusinessHours(float("nan"))
    with pytest.raises(ValueError, match="is naive"):
        CAL.add(datetime(2026, 6, 8, 9), BusinessHours(1))
    with pytest.raises(TypeError, match="BusinessDays or BusinessHours"):
        CAL.add(at(BERLIN, 2026, 6, 8, 9), timedelta(hours=1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="missing 'hours'"):
        Calendar.from_dict({"tz": "Europe/Berlin", "workdays": ["mon"]})


# ---- ICS -----------------------------------------------------------------------------------------------------

ICS = """BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//example//holidays//EN\r
BEGIN:VEVENT\r
UID:1\r
DTSTART;VALUE=DATE:20261225\r
DTEND;VALUE=DATE:20261227\r
SUMMARY:Christmas (two days\r
  , folded)\r
BEGIN:VALARM\r
TRIGGER:-P1D\r
DTSTART:20000101\r
END:VALARM\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:2\r
DTSTART;VALUE=DATE:20260501\r
RRULE:FREQ=YEARLY;COUNT=3\r
EXDATE;VALUE=DATE:20270501\r
SUMMARY:Labour Day\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:3\r
DTSTART;VALUE=DATE:20261003\r
SUMMARY:German Unity Day (no DTEND: one day)\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:4\r
DTSTART:20260601T090000Z\r
DTEND:20260601T100000Z\r
SUMMARY:A meeting, not a holiday\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:5\r
DTSTART;VALUE=DATE:20260805\r
DURATION:P2D\r
SUMMARY:Works outing\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:6\r
DTSTART;VALUE=DATE:20260806\r
STATUS:CANCELLED\r
SUMMARY:Cancelled\r
END:VEVENT\r
BEGIN:VEVENT\r
UID:7\r
DTSTART;VALUE=DATE:20240229\r
RRULE:FREQ=YEARLY;UNTIL=20290101\r
SUMMARY:Leap day\r
END:VEVENT\r
END:VCALENDAR\r
"""


def test_load_ics_reads_all_day_events_and_yearly_rules() -> None:
    assert load_ics(ICS) == [
        date(2024, 2, 29),
        date(2026, 5, 1),
        date(2026, 8, 5),
        date(2026, 8, 6),
        date(2026, 10, 3),
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2028, 2, 29),
        date(2028, 5, 1),
    ]


def test_yearly_rules_expand_up_to_the_horizon() -> None:
    text = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nRRULE:FREQ=YEARLY\nEND:VEVENT\nEND:VCALENDAR\n"
    assert load_ics(text, through=date(2028, 6, 1)) == [date(2026, 1, 1), date(2027, 1, 1), date(2028, 1, 1)]
    assert len(load_ics(text)) == 2099 - 2026 + 1


def test_calendar_from_an_ics_file(tmp_path: Path) -> None:
    path = tmp_path / "holidays.ics"
    path.write_text(ICS, encoding="utf-8")
    cal = Calendar.from_ics(path, "Europe/Berlin", holidays=[date(2026, 12, 24)])
    assert {date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26), date(2026, 10, 3)} <= set(cal.holidays)
    assert Calendar.from_ics(str(path), "Europe/Berlin").holidays == tuple(load_ics(ICS))
    assert local(cal.add(at(BERLIN, 2026, 12, 23, 16), BusinessHours(2))) == (2026, 12, 28, 10, 0, 0)


def test_unsupported_ics_is_a_clear_error(tmp_path: Path) -> None:
    thanksgiving = (
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20261126\nRRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=4TH\n"
        "SUMMARY:Thanksgiving\nEND:VEVENT\nEND:VCALENDAR\n"
    )
    with pytest.raises(ValueError, match=r"'Thanksgiving': RRULE .* is not supported .* list its dates instead"):
        load_ics(thanksgiving)
    with pytest.raises(ValueError, match="cannot read ICS file"):
        load_ics(tmp_path / "missing.ics")
    with pytest.raises(ValueError, match="DTSTART '2026-12-25' is not a date"):
        load_ics("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:2026-12-25\nSUMMARY:x\nEND:VEVENT\nEND:VCALENDAR")


# ---- deadlines (what a timer records) ---------------------------------------------------------------------


def test_deadline_takes_business_and_plain_durations() -> None:
    from stepbridge.api.calendar import deadline

    friday = at(BERLIN, 2026, 6, 5, 15)
    assert deadline(friday, BusinessDays(1), CAL) == datetime(2026, 6, 8, 13, tzinfo=UTC)
    assert deadline(friday, timedelta(hours=1)) == datetime(2026, 6, 5, 14, tzinfo=UTC)
    assert deadline(friday, 90, CAL) == datetime(2026, 6, 5, 13, 1, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="needs a calendar"):
        deadline(friday, BusinessHours(1))


def test_a_calendar_change_does_not_move_a_deadline_already_computed() -> None:
    from stepbridge.api.calendar import deadline

    start = at(BERLIN, 2026, 12, 23, 16)
    recorded = deadline(start, BusinessHours(2), CAL)  # journaled as an instant when the timer is set
    changed = Calendar.from_dict({**CAL.to_dict(), "holidays": ["2026-12-24", "2026-12-25"]})
    assert recorded == datetime(2026, 12, 24, 9, tzinfo=UTC)
    assert deadline(start, BusinessHours(2), changed) == datetime(2026, 12, 28, 9, tzinfo=UTC)  # new timers only


def test_repr_is_readable() -> None:
    assert (
        repr(CAL)
        == "Calendar('Europe/Berlin', workdays='mon,tue,wed,thu,fri', hours=[['09:00', '17:00']], holidays=1 dates)"
    )
