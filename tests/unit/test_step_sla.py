"""Issue 15: ``ctx.step(..., sla=BusinessHours(4), on_breach=fn)`` emits ``Step.sla_breached`` and runs the
hook as a step when the step has not finished by the SLA; the execution goes on unless the hook raises."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from stepbridge import App, BusinessHours, Calendar, Context, Retry
from stepbridge.errors import WorkflowDefinitionError
from stepbridge.local import LocalCloud

CAL = Calendar("Europe/Berlin", hours=("09:00", "17:00"), holidays=[date(2026, 12, 25)])
THU_10_CET = datetime(2026, 12, 24, 9, tzinfo=UTC)
SLOW = Retry(max_attempts=2, backoff="fixed", initial_delay=timedelta(hours=5), max_delay=timedelta(hours=5),
             jitter=False)


def _app(fail_hook: bool = False) -> tuple[App, dict[str, Any]]:
    app = App("sla")
    seen: dict[str, Any] = {"attempts": 0, "hook": []}

    def work(n: int) -> int:
        seen["attempts"] += 1
        if seen["attempts"] == 1 and n > 0:
            raise RuntimeError("flaky")  # the retry comes 5 hours later: past the 4 business hours
        return n * 2

    def hook(info: dict[str, Any]) -> None:
        seen["hook"].append(info)
        if fail_hook:
            raise ValueError("escalation failed")

    @app.workflow("job")
    async def job(ctx: Context, n: int) -> int:
        return int(await ctx.step("work", work, n, retry=SLOW, sla=BusinessHours(4), on_breach=hook, calendar=CAL))

    return app, seen


def test_a_late_step_is_breached_once_the_hook_runs_and_the_execution_succeeds() -> None:
    app, seen = _app()
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        handle = cloud.client().start("job", 21)
        cloud.advance_to(datetime(2026, 12, 24, 12, 59, tzinfo=UTC))  # 13:59 CET: inside the SLA
        assert [e for e in cloud.events if e.detail_type == "Step.sla_breached"] == []
        cloud.advance(timedelta(minutes=1))  # 14:00 CET: 4 business hours
        breaches = [e for e in cloud.events if e.detail_type == "Step.sla_breached"]
        assert len(breaches) == 1
        assert breaches[0].detail["step"] == "work"
        assert breaches[0].detail["sla"] == {"business_hours": 4}
        assert breaches[0].detail["deadline"].startswith("2026-12-24T13:00:00")
        assert len(seen["hook"]) == 1 and seen["hook"][0]["execution_id"] == handle.execution_id
        assert handle.status == "RUNNING"  # the step goes on
        cloud.advance(timedelta(hours=1))  # the retry at 15:00 CET
        assert handle.result() == 42
        assert len([e for e in cloud.events if e.detail_type == "Step.sla_breached"]) == 1
        assert len(seen["hook"]) == 1


def test_a_step_within_its_sla_is_not_breached_and_the_leftover_timer_is_harmless() -> None:
    app, seen = _app()
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        handle = cloud.client().start("job", 0)  # n=0 succeeds at once
        assert handle.result() == 0
        cloud.advance(timedelta(days=7))
        assert [e for e in cloud.events if e.detail_type == "Step.sla_breached"] == []
        assert seen["hook"] == []
        assert handle.status == "SUCCEEDED"


def test_a_raising_hook_fails_the_execution() -> None:
    app, seen = _app(fail_hook=True)
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        handle = cloud.client().start("job", 21)
        cloud.advance_to(datetime(2026, 12, 24, 14, tzinfo=UTC))
        desc = handle.describe()
        assert desc.status == "FAILED"
        assert desc.error is not None and "escalation failed" in desc.error["message"]
        assert len(seen["hook"]) == 3  # the hook step's default retry policy: 3 attempts


def test_on_breach_without_sla_is_refused() -> None:
    app = App("sla")

    @app.workflow("job")
    async def job(ctx: Context) -> None:
        await ctx.step("work", lambda: None, on_breach=print)

    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        desc = cloud.client().start("job", None).describe()
        assert desc.status == "FAILED"
        assert desc.error is not None and "on_breach= needs sla=" in desc.error["message"]
        assert desc.error["type"] == f"{WorkflowDefinitionError.__module__}.WorkflowDefinitionError"


def test_retry_waits_count_business_time_on_the_calendar() -> None:
    from stepbridge import BusinessDays

    app = App("sla")
    calls: list[str] = []

    def flaky(ctx_now: str) -> str:
        calls.append(ctx_now)
        if len(calls) == 1:
            raise RuntimeError("not yet")
        return "ok"

    policy = Retry(max_attempts=2, backoff="fixed", initial_delay=BusinessHours(2), max_delay=BusinessHours(2),
                   jitter=False, calendar=CAL)

    @app.workflow("job")
    async def job(ctx: Context) -> str:
        return str(await ctx.step("flaky", flaky, "x", retry=policy))

    with LocalCloud(app, backend="memory", start=datetime(2026, 12, 24, 15, 30, tzinfo=UTC)) as cloud:  # 16:30 CET
        handle = cloud.client().start("job", None)
        # 30 min left on Thursday, the 25th a holiday, then the weekend: due Monday 10:30 CET
        cloud.advance_to(datetime(2026, 12, 28, 9, 29, tzinfo=UTC))
        assert handle.status == "RUNNING" and len(calls) == 1
        cloud.advance(timedelta(minutes=1))
        assert handle.result() == "ok" and len(calls) == 2
    with pytest.raises(ValueError, match="needs Retry"):
        Retry(initial_delay=BusinessHours(1))
    with pytest.raises(ValueError, match="not BusinessDays"):
        Retry(initial_delay=BusinessDays(1), calendar=CAL)  # type: ignore[arg-type]


def test_a_lost_sla_timer_is_the_sweepers_the_breach_is_not_missed_until_the_step_ends() -> None:
    from stepbridge.runtime import keys

    app, seen = _app()
    with LocalCloud(app, backend="memory", start=THU_10_CET) as cloud:
        handle = cloud.client().start("job", 21)
        cloud.effects.cancel_timer(keys.timer_name(handle.execution_id, "work:sla"))  # Scheduler lost it
        cloud.advance_to(datetime(2026, 12, 24, 13, 30, tzinfo=UTC))  # 14:30 CET: past the SLA, before the retry
        assert [e for e in cloud.events if e.detail_type == "Step.sla_breached"] == []  # nothing woke it
        assert handle.execution_id in cloud.sweep()
        breaches = [e for e in cloud.events if e.detail_type == "Step.sla_breached"]
        assert len(breaches) == 1 and breaches[0].detail["step"] == "work" and len(seen["hook"]) == 1
        assert cloud.sweep() == []  # the breach is recorded: nothing more to wake it for
        cloud.advance(timedelta(hours=1))
        assert handle.result() == 42
