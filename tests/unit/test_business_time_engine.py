"""Issue 15 part 1: business durations in the engine (sleep, wait_for timeouts, deferred starts).

Calendar: Berlin, Mon-Fri 09:00-17:00, 25 Dec 2026 (a Friday) a holiday. Thursday 24 Dec 2026 is the
start of most tests, so every timer crosses the holiday and a weekend. The deadline is computed once,
when the timer is set, and a calendar edited later does not move it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from stepbridge import App, BusinessDays, BusinessHours, Calendar, Context
from stepbridge.local import LocalCloud

CAL = Calendar("Europe/Berlin", workdays="mon-fri", hours=("09:00", "17:00"), holidays=[date(2026, 12, 25)])
THU_10_CET = datetime(2026, 12, 24, 9, tzinfo=UTC)
THU_16_CET = datetime(2026, 12, 24, 15, tzinfo=UTC)


def test_sleep_business_days_skips_holiday_and_weekend_and_a_calendar_change_does_not_move_it() -> None:
    app = App("bt")
    calendars = {"current": CAL}

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        await ctx.sleep(BusinessDays(1), calendar=calendars["current"])
        return ctx.now().isoformat()

    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        client = cloud.client()
        first = client.start("nap", None, execution_id="first")
        # the 28th becomes a holiday after the first timer was set: only later timers see it
        calendars["current"] = Calendar("Europe/Berlin", holidays=[date(2026, 12, 25), date(2026, 12, 28)])
        second = client.start("nap", None, execution_id="second")
        cloud.advance_to(datetime(2026, 12, 28, 8, 59, tzinfo=UTC))
        assert first.status == "RUNNING"
        cloud.advance(timedelta(minutes=1))  # Monday 28 Dec 10:00 CET
        assert first.status == "SUCCEEDED"
        assert first.result() == "2026-12-28T09:00:00+00:00"
        assert second.status == "RUNNING"
        cloud.advance_to(datetime(2026, 12, 29, 9, tzinfo=UTC))  # Tuesday 10:00 CET
        assert second.result() == "2026-12-29T09:00:00+00:00"
        sleeps = [e for e in client.history("first") if e.detail.get("wake_at")]
        assert sleeps and sleeps[0].detail["wake_at"].startswith("2026-12-28T09:00:00")


def test_wait_for_business_hours_timeout_and_event_before_it() -> None:
    app = App("bt", calendar=CAL)  # the app's default calendar: no calendar= at the call

    @app.workflow("ask")
    async def ask(ctx: Context, q: int) -> object:
        return await ctx.wait_for("Answer.given", match={"q": q}, timeout=BusinessHours(8), default="no answer")

    with LocalCloud(app, backend="memory", start=THU_16_CET) as cloud:
        client = cloud.client()
        timed = client.start("ask", 2, execution_id="timed")
        answered = client.start("ask", 1, execution_id="answered")
        cloud.advance_to(datetime(2026, 12, 26, 12, tzinfo=UTC))  # Saturday
        client.send_event("Answer.given", {"q": 1, "a": "yes"})
        assert answered.result() == {"q": 1, "a": "yes"}
        # the other execution still waits: 1 h Thursday + 7 h Monday
        cloud.advance_to(datetime(2026, 12, 28, 14, 59, tzinfo=UTC))
        assert timed.status == "RUNNING"
        cloud.advance(timedelta(minutes=1))  # Monday 16:00 CET
        assert timed.result() == "no answer"


def test_wait_for_business_timeout_raises_wait_timeout_without_default() -> None:
    app = App("bt")

    @app.workflow("ask")
    async def ask(ctx: Context) -> object:
        return await ctx.wait_for("Answer.given", timeout=BusinessHours(1), calendar=CAL)

    with LocalCloud(app, backend="memory", start=THU_16_CET) as cloud:
        handle = cloud.client().start("ask", None)
        cloud.advance_to(datetime(2026, 12, 24, 16, tzinfo=UTC))  # Thursday 17:00 CET
        desc = handle.describe()
        assert desc.status == "FAILED"
        assert desc.error is not None and desc.error["type"].endswith("WaitTimeout")


def test_deferred_start_with_business_delay_is_fixed_when_started() -> None:
    app = App("bt")

    @app.workflow("later")
    async def later(ctx: Context) -> str:
        return ctx.now().isoformat()

    with LocalCloud(app, backend="memory", start=THU_16_CET) as cloud:
        client = cloud.client()
        handle = client.start("later", None, delay=BusinessDays(1), calendar=CAL)
        desc = handle.describe()
        assert desc.status == "SCHEDULED"
        assert desc.scheduled_for == "2026-12-28T15:00:00.000000+00:00"  # Monday 16:00 CET
        cloud.advance_to(datetime(2026, 12, 28, 14, 59, tzinfo=UTC))
        assert handle.status == "SCHEDULED"
        cloud.advance(timedelta(minutes=1))
        assert handle.result() == "2026-12-28T15:00:00+00:00"


def test_business_duration_without_any_calendar_is_a_clear_error() -> None:
    app = App("bt")

    @app.workflow("nap")
    async def nap(ctx: Context) -> None:
        await ctx.sleep(BusinessDays(3))

    with LocalCloud(app, backend="memory", start=THU_16_CET) as cloud:
        client = cloud.client()
        with pytest.raises(ValueError, match=r"needs a calendar; pass calendar=.*App\(\.\.\., calendar=\.\.\.\)"):
            client.start("nap", None, delay=BusinessHours(2))
        desc = client.start("nap", None).describe()
        assert desc.status == "FAILED"
        assert desc.error is not None and "ctx.sleep 'sleep'" in desc.error["message"]
        assert "needs a calendar" in desc.error["message"]


def test_app_calendar_must_be_a_calendar() -> None:
    from stepbridge.errors import WorkflowDefinitionError

    with pytest.raises(WorkflowDefinitionError, match=r"calendar= must be a stepbridge\.Calendar"):
        App("bt", calendar="Europe/Berlin")  # type: ignore[arg-type]
