"""Business time, property-based (hypothesis): exactness, monotonicity and landing rules over random
calendars in zones with DST (Berlin, New York, Sydney), half-hour offsets (Kolkata, Adelaide) and hours
that cross the DST jump itself, with starts clustered around the 2026/2027 clock changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from stepbridge import BusinessDays, BusinessHours, Calendar

FAST = settings(max_examples=200, deadline=None)

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "Australia/Adelaide"]

#: Clock changes of 2026-27 (UTC) in the zones above, so many starts fall just before or after one.
TRANSITIONS = [
    datetime(2026, 3, 29, 1, tzinfo=UTC),  # Berlin forward
    datetime(2026, 10, 25, 1, tzinfo=UTC),  # Berlin back
    datetime(2026, 3, 8, 7, tzinfo=UTC),  # New York forward
    datetime(2026, 11, 1, 6, tzinfo=UTC),  # New York back
    datetime(2026, 4, 4, 16, tzinfo=UTC),  # Sydney back
    datetime(2026, 10, 3, 16, tzinfo=UTC),  # Sydney forward
    datetime(2026, 4, 4, 16, 30, tzinfo=UTC),  # Adelaide back
    datetime(2027, 3, 28, 1, tzinfo=UTC),  # Berlin forward
]

HOUR_SETS = [
    [("09:00", "17:00")],
    [("09:00", "12:00"), ("13:00", "17:00")],
    [("00:00", "24:00")],
    [("01:00", "04:00")],  # crosses the European jump (02:00-03:00)
    [("02:30", "05:00"), ("22:00", "24:00")],  # opens inside the skipped / repeated hour
    [("07:15", "07:45"), ("08:00", "11:30"), ("12:00", "20:00")],
]


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    zone = draw(st.sampled_from(ZONES))
    workdays = draw(st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True))
    per_day = draw(st.booleans())
    if per_day:
        hours: object = {day: draw(st.sampled_from(HOUR_SETS)) for day in workdays}
    else:
        hours = draw(st.sampled_from(HOUR_SETS))
    holidays = draw(st.lists(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=25))
    holidays += [date(2026, 12, 25), date(2026, 12, 26)] if draw(st.booleans()) else []
    return Calendar(zone, workdays=workdays, hours=hours, holidays=holidays)


near_transition = st.builds(
    lambda base, delta: base + timedelta(microseconds=delta),
    st.sampled_from(TRANSITIONS),
    st.integers(-3 * 86_400_000_000, 3 * 86_400_000_000),
)
anywhere = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))
instants = st.one_of(near_transition, anywhere)
#: business hours as exact microsecond counts, built through ``BusinessHours`` from whole or fractional hours
hours_values = st.one_of(st.integers(0, 120), st.floats(0, 120, allow_nan=False, allow_infinity=False))


def ends(cal: Calendar, when: datetime) -> set[datetime]:
    day = when.astimezone(cal.zone).date()
    return {b for d in (day - timedelta(days=1), day) for _, b in cal.intervals(d)}


@FAST
@given(calendars(), instants, hours_values)
def test_adding_hours_then_counting_them_gives_back_exactly_the_same(cal: Calendar, start: datetime, h: float) -> None:
    amount = BusinessHours(h)
    end = cal.add(start, amount)
    assert end.tzinfo is UTC
    assert end >= start
    assert cal.business_hours_between(start, end) == amount.duration
    assert cal.business_hours_between(end, start) == -amount.duration


@FAST
@given(calendars(), instants, hours_values)
def test_the_result_is_business_time_or_a_closing_instant(cal: Calendar, start: datetime, h: float) -> None:
    end = cal.add(start, BusinessHours(h))
    if BusinessHours(h).duration == timedelta(0):  # also a float below half a microsecond
        assert end == cal.next_business_time(start)
        assert cal.is_business_time(end)
    else:
        assert cal.is_business_time(end) or end in ends(cal, end)
        # and it is the earliest such instant: one microsecond earlier, less time has elapsed
        assert cal.business_hours_between(start, end - timedelta(microseconds=1)) < BusinessHours(h).duration


@FAST
@given(calendars(), instants, hours_values, hours_values)
def test_adding_hours_is_monotonic_in_the_amount(cal: Calendar, start: datetime, a: float, b: float) -> None:
    small, large = sorted((a, b))
    assert cal.add(start, BusinessHours(small)) <= cal.add(start, BusinessHours(large))


@FAST
@given(calendars(), instants, st.integers(0, 30 * 86_400_000_000), hours_values)
def test_adding_hours_is_monotonic_in_the_start(cal: Calendar, start: datetime, later: int, h: float) -> None:
    second = start + timedelta(microseconds=later)
    assert cal.add(start, BusinessHours(h)) <= cal.add(second, BusinessHours(h))


@FAST
@given(calendars(), instants, st.integers(0, 60), st.integers(1, 60))
def test_adding_hours_composes(cal: Calendar, start: datetime, a: int, b: int) -> None:
    # b > 0: adding 0 hours to a closing instant moves it to the next opening (the documented rule)
    assert cal.add(cal.add(start, BusinessHours(a)), BusinessHours(b)) == cal.add(start, BusinessHours(a + b))


@FAST
@given(calendars(), instants, st.integers(0, 25))
def test_business_days_land_on_the_nth_business_day(cal: Calendar, start: datetime, n: int) -> None:
    begin = cal.next_business_time(start)
    end = cal.add(start, BusinessDays(n))
    assert end.tzinfo is UTC
    first = begin.astimezone(cal.zone).date()
    days = [first]
    while len(days) <= n:
        candidate = days[-1] + timedelta(days=1)
        while not cal.is_business_day(candidate):
            candidate += timedelta(days=1)
        days.append(candidate)
    target = days[n]
    assert cal.is_business_day(target)
    assert any(a <= end <= b for a, b in cal.intervals(target)), f"{end} is outside {target}'s working hours"
    if n == 0:
        assert end == begin


@FAST
@given(calendars(), instants, st.integers(0, 30 * 86_400_000_000), st.integers(0, 20), st.integers(0, 20))
def test_business_days_are_monotonic(cal: Calendar, start: datetime, later: int, a: int, b: int) -> None:
    small, large = sorted((a, b))
    assert cal.add(start, BusinessDays(small)) <= cal.add(start, BusinessDays(large))
    second = start + timedelta(microseconds=later)
    assert cal.add(start, BusinessDays(a)) <= cal.add(second, BusinessDays(a))
    if large > small:
        assert cal.add(start, BusinessDays(small)) < cal.add(start, BusinessDays(large))


@FAST
@given(calendars(), instants)
def test_next_business_time_is_the_first_working_instant(cal: Calendar, start: datetime) -> None:
    nxt = cal.next_business_time(start)
    assert nxt >= start
    assert cal.is_business_time(nxt)
    assert cal.business_hours_between(start, nxt) == timedelta(0)
    assert (nxt == start) == cal.is_business_time(start)


@FAST
@given(calendars(), instants, instants, instants)
def test_counting_is_additive_over_a_split(cal: Calendar, a: datetime, b: datetime, c: datetime) -> None:
    x, y, z = sorted((a, b, c))
    assert cal.business_hours_between(x, z) == cal.business_hours_between(x, y) + cal.business_hours_between(y, z)
    assert cal.business_hours_between(x, z) <= z - x


@FAST
@given(calendars())
def test_a_calendar_round_trips_through_its_dict(cal: Calendar) -> None:
    again = Calendar.from_dict(cal.to_dict())
    assert again == cal
    assert again.to_dict() == cal.to_dict()


@FAST
@given(st.sampled_from(ZONES), st.sampled_from(HOUR_SETS), st.dates(date(2026, 1, 1), date(2027, 12, 31)))
def test_intervals_are_ordered_and_follow_local_wall_times(zone: str, hours: list[tuple[str, str]], day: date) -> None:
    cal = Calendar(zone, workdays="mon-sun", hours=hours)
    found = cal.intervals(day)
    flat = [t for interval in found for t in interval]
    assert flat == sorted(flat)
    assert all(a < b for a, b in found)
    for a, _ in found:
        assert a.astimezone(ZoneInfo(zone)).date() == day
