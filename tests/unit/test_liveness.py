"""The liveness check: ended with a named cause, or legitimately waiting; anything else is reported."""

from __future__ import annotations

from datetime import timedelta

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.local.liveness import liveness_violations


def waiting_app() -> App:
    app = App("live")

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        await ctx.sleep(600)
        return "awake"

    @app.workflow("forever")
    async def forever(ctx: Context) -> object:
        return await ctx.wait_for("Go.now")

    @app.workflow("boom")
    async def boom(ctx: Context) -> None:
        raise ValueError("the input was wrong")

    @app.workflow("parent")
    async def parent(ctx: Context) -> object:
        return await ctx.child("forever")

    return app


def test_waiting_and_ended_executions_are_fine_and_a_lost_timer_is_reported_with_its_records() -> None:
    with LocalCloud(waiting_app(), backend="memory") as cloud:
        client = cloud.client()
        napping = client.start("nap").execution_id
        client.start("forever")  # waits for an event without a timeout: its waiter is registered
        client.start("parent")  # waits for a child that waits legitimately
        client.start("boom")  # FAILED, and the error names the cause
        assert liveness_violations(cloud) == []
        (timer,) = [t for t in cloud.timers.pending() if t.message and t.message.execution_id == napping]
        cloud.timers.cancel(timer.name)  # the Scheduler lost it and no sweeper runs here
        cloud.advance(timedelta(hours=1))
        (violation,) = liveness_violations(cloud)
        assert violation.execution_id == napping and violation.status == "RUNNING"
        assert "no timer" in violation.reason
        assert any("sleep" in line and "wake_at" in line for line in violation.last_records)
        assert napping in str(violation)


def test_a_lost_timer_whose_instant_is_still_ahead_is_the_sweepers_to_recover_then_reported_once_passed() -> None:
    """The sweeper reads due instants from the journal: before the sleep's end nothing is lost yet."""
    with LocalCloud(waiting_app(), backend="memory") as cloud:
        napping = cloud.client().start("nap").execution_id
        (timer,) = [t for t in cloud.timers.pending() if t.message and t.message.execution_id == napping]
        cloud.timers.cancel(timer.name)  # the timer is gone (a crash between the record and CreateSchedule)
        cloud.advance(timedelta(minutes=5))  # the sleep ends at 10 minutes
        assert liveness_violations(cloud) == []
        cloud.advance(timedelta(minutes=10))  # 5 minutes past it: the sweeper's grace and next run not over
        assert liveness_violations(cloud) == []
        cloud.advance(timedelta(minutes=3))  # past its bound (2 + 5 minutes), and no sweeper runs in this test
        (violation,) = liveness_violations(cloud)
        assert violation.execution_id == napping and "no timer" in violation.reason
        assert cloud.sweep() == [napping]  # what the scheduled sweeper does: it wakes the execution
        cloud.run_until_idle()
        assert cloud.client().describe(napping).status == "SUCCEEDED"
        assert liveness_violations(cloud) == []


def test_a_waiter_that_disappeared_and_a_failure_without_a_cause_are_reported() -> None:
    with LocalCloud(waiting_app(), backend="memory") as cloud:
        client = cloud.client()
        waiting = client.start("forever").execution_id
        parent = client.start("parent").execution_id
        for item in cloud.store.query_items("WAIT#Go.now"):
            cloud.store.delete_item(item.pk, item.sk)  # nothing will deliver the event to them any more
        failed = client.start("boom").execution_id
        rec = cloud.store.get_execution(failed)
        assert rec is not None
        rec.error = {"type": "", "message": ""}
        assert cloud.store.save_execution(rec)
        found = {v.execution_id: v.reason for v in liveness_violations(cloud)}
        (child,) = [e for e in found if e.startswith(f"{parent}.")]  # the parent's child is stuck, so is the parent
        assert set(found) == {waiting, child, parent, failed}
        assert "without an error naming the cause" in found[failed]
