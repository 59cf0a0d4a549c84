"""Business time in a workflow today (before the engine takes business durations): the deadline is
computed in a step, journaled once, and slept to with ``ctx.sleep_until`` on the virtual clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from stepbridge import App, BusinessHours, Calendar, Context
from stepbridge.api.calendar import deadline
from stepbridge.local import LocalCloud

CAL = Calendar("Europe/Berlin", hours=[("09:00", "12:00"), ("13:00", "17:00")], holidays=[date(2026, 12, 25)])


def test_a_business_hours_timer_spans_christmas_and_a_weekend_and_survives_a_calendar_change() -> None:
    app = App("bt")
    calendars = {"current": CAL}
    computed: list[str] = []

    def due(now: str) -> str:
        computed.append(now)
        return deadline(datetime.fromisoformat(now), BusinessHours(3), calendars["current"]).isoformat()

    @app.workflow("remind")
    async def remind(ctx: Context) -> str:
        when = await ctx.step("due", due, ctx.now().isoformat())
        await ctx.sleep_until(datetime.fromisoformat(when))
        return when

    # Thursday 24 Dec 2026 16:00 CET: 1 h left that day, the 25th is a holiday, then a weekend
    with LocalCloud(app, backend="memory", start=datetime(2026, 12, 24, 15, tzinfo=UTC)) as cloud:
        client = cloud.client()
        handle = client.start("remind", None)
        assert handle.status == "RUNNING"
        # the calendar changes while the timer runs (the 28th becomes a holiday): the timer does not move
        calendars["current"] = Calendar.from_dict({**CAL.to_dict(), "holidays": ["2026-12-25", "2026-12-28"]})
        cloud.advance_to(datetime(2026, 12, 28, 9, 59, tzinfo=UTC))  # Monday 10:59 CET: 1 h + 2 h - 1 min
        assert handle.status == "RUNNING"
        cloud.advance(timedelta(minutes=1))
        assert handle.status == "SUCCEEDED"
        assert handle.result() == "2026-12-28T10:00:00+00:00"
        assert computed == ["2026-12-24T15:00:00+00:00"]  # computed once, read from the journal on replay
