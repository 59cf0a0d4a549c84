"""``client.cancel(id)``: stops a running, sleeping, waiting or mid-step execution; CANCELLED at the end.

Cancelling deletes the execution's timers and waiters and cancels its children; with
``compensate=True`` the saga's compensations run first (declared compensation steps included),
and children compensate too. A cancel whose wake-up was lost is finished by the sweeper. The unwinding
of a cancel with compensation is deterministic: a report or a sleep's end while a declared compensation
is in flight changes nothing (the cut, ``cancelled_at``).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.errors import ExecutionFailedError, ExecutionNotFound
from stepbridge.local import LocalCloud

LOG: list[str] = []
RUNS: Counter[str] = Counter()


def cancel_app() -> App:
    # Declared steps are invoked asynchronously (not answered in-process: runtime/stepreply.py),
    # so a test can hold one in flight.
    app = App("cancel", step_reply_window=0)

    @app.step(timeout=60)
    def ship(order: str) -> str:
        RUNS["ship"] += 1
        LOG.append(f"ship {order}")
        return f"shipment-{order}"

    @app.step(timeout=30)
    def refund(order: str) -> str:
        RUNS["refund"] += 1
        LOG.append(f"refund {order}")
        return f"refunded {order}"

    @app.step(timeout=30)
    def release(order: str) -> str:
        RUNS["release"] += 1
        LOG.append(f"release {order}")
        return f"released {order}"

    @app.workflow("await-approval")
    async def await_approval(ctx: Context, order: str) -> Any:
        await ctx.step("reserve", lambda: LOG.append(f"reserve {order}"))
        decision = await ctx.wait_for("Approval.decided", match={"order": order}, timeout=timedelta(days=2))
        await ctx.step("after", lambda: LOG.append("after the wait"))
        return decision

    @app.workflow("shipping")
    async def shipping(ctx: Context, order: str) -> Any:
        return await ctx.step("ship", ship, order)

    @app.workflow("saga")
    async def saga(ctx: Context, order: str) -> Any:
        async with ctx.saga() as s:
            await ctx.step("charge", lambda: LOG.append(f"charge {order}"))
            s.compensate(refund, order, name="refund")  # declared compensation steps
            await ctx.step("reserve", lambda: LOG.append(f"reserve {order}"))
            s.compensate(release, order, name="release")
            await ctx.sleep(timedelta(hours=6))
            await ctx.step("ship", ship, order)
        return "shipped"

    @app.workflow("flaky")
    async def flaky(ctx: Context) -> Any:
        def fail() -> None:
            RUNS["flaky"] += 1
            raise ConnectionError("down")

        return await ctx.step("call", fail, retry=Retry(max_attempts=5, backoff="fixed", initial_delay=600))

    @app.workflow("exporting")
    async def exporting(ctx: Context, order: str) -> Any:
        async with ctx.saga() as s:
            await ctx.step("charge", lambda: LOG.append(f"charge {order}"))
            s.compensate(refund, order, name="refund")  # a declared compensation step
            await ctx.step("ship", ship, order)  # a declared step, running when the cancel comes
            s.compensate(lambda: LOG.append(f"unship {order}"), name="unship")
            await ctx.step("after", lambda: LOG.append("after"))
        return "done"

    @app.workflow("parent")
    async def parent(ctx: Context, order: str) -> Any:
        return await ctx.child("saga", order)

    return app


@pytest.fixture(params=["memory", "moto"])
def cloud(request: pytest.FixtureRequest) -> Any:
    LOG.clear()
    RUNS.clear()
    with LocalCloud(cancel_app(), backend=request.param) as c:
        yield c


def one_time_timers(cloud: LocalCloud) -> list[Any]:
    return [t for t in cloud.timers.pending() if t.schedule is None]


def test_cancel_while_waiting_for_an_event(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("await-approval", "o-1")
    assert client.describe(h.execution_id).status == "RUNNING"
    assert cloud.store.query_items("WAIT#Approval.decided") != []
    assert one_time_timers(cloud) != []  # the wait's 2-day timeout

    assert client.cancel(h.execution_id).status == "CANCELLED"
    assert cloud.store.query_items("WAIT#Approval.decided") == []  # the router no longer matches it
    assert one_time_timers(cloud) == []
    client.send_event("Approval.decided", {"order": "o-1", "approved": True})
    cloud.advance(timedelta(days=3))
    desc = client.describe(h.execution_id)
    assert desc.status == "CANCELLED" and desc.error["type"] == "stepbridge.errors.ExecutionCancelled"
    assert LOG == ["reserve o-1"]
    with pytest.raises(ExecutionFailedError):
        h.result()


def test_cancel_while_a_declared_step_is_in_flight(cloud: LocalCloud) -> None:
    client = cloud.client()
    cloud.eager = False
    h = client.start("shipping", "o-2")
    cloud._drain_queue()  # the orchestrator dispatches the step; its Lambda has not run yet
    assert [i.op for i in cloud._step_queue] == ["ship"]
    client.cancel(h.execution_id)
    cloud.run_until_idle()
    assert client.describe(h.execution_id).status == "CANCELLED"
    assert RUNS["ship"] == 0  # the step's Lambda found the execution cancelled and did nothing
    assert one_time_timers(cloud) == []  # its deadline timer was deleted
    cloud.advance(timedelta(minutes=5))
    assert client.describe(h.execution_id).status == "CANCELLED"


def test_cancel_during_a_retry_backoff(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("flaky")
    assert RUNS["flaky"] == 1 and len(one_time_timers(cloud)) == 1
    client.cancel(h.execution_id)
    assert client.describe(h.execution_id).status == "CANCELLED"
    assert one_time_timers(cloud) == []
    cloud.advance(timedelta(hours=2))
    assert RUNS["flaky"] == 1


def test_cancel_with_compensate_runs_declared_compensation_steps_in_reverse_once(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("saga", "o-3")
    cloud.advance(timedelta(hours=1))
    assert LOG == ["charge o-3", "reserve o-3"]
    client.cancel(h.execution_id, compensate=True)
    cloud.run_until_complete(h.execution_id)
    assert client.describe(h.execution_id).status == "CANCELLED"
    assert LOG == ["charge o-3", "reserve o-3", "release o-3", "refund o-3"]
    assert (RUNS["release"], RUNS["refund"], RUNS["ship"]) == (1, 1, 0)
    history = [e.detail_type for e in client.history(h.execution_id)]
    assert history.count("Step.dispatched") == 2 and history[-1] == "Workflow.cancelled"
    cloud.advance(timedelta(days=1))
    assert one_time_timers(cloud) == [] and RUNS["ship"] == 0


def test_a_running_step_reporting_while_a_declared_compensation_of_a_cancel_is_in_flight_changes_nothing(
    cloud: LocalCloud,
) -> None:
    """Outside compensations the unwinding replays of ``cancel(id, compensate=True)`` see the journal as it was
    when the cancel was handled (the cut, ``cancelled_at``): the late report of a step that was already running
    does not move the workflow past it (which registered "unship" before the recorded "refund" and failed the
    replay with NonDeterminismError, so the refund never ran)."""
    import dataclasses

    from stepbridge.handlers import step as step_handler

    client = cloud.client()
    cloud.eager = False
    h = client.start("exporting", "o-6")
    while cloud._drain_queue():
        pass
    running = list(cloud._step_queue)  # ship's Lambda started before the cancel
    assert [i.op for i in running] == ["ship"]
    cloud._step_queue.clear()
    client.cancel(h.execution_id, compensate=True)
    while cloud._drain_queue():
        pass
    refunds = list(cloud._step_queue)  # the declared compensation, dispatched, not run yet
    assert [i.op for i in refunds] == ["refund"]
    cloud._step_queue.clear()
    assert client.describe(h.execution_id).status == "RUNNING"
    late = dataclasses.replace(running[0], compensation=True)  # past the worker's start check already
    cloud.clock.set(cloud.now() + timedelta(seconds=1))  # it reports a second after the cancel was handled
    step_handler.handle(late.to_dict(), cloud.env, cloud._lambda_context(late))
    while cloud._drain_queue():
        pass
    cloud._step_queue.extend(refunds)
    cloud.run_until_complete(h.execution_id)
    desc = client.describe(h.execution_id)
    assert desc.status == "CANCELLED", desc.error  # was FAILED (NonDeterminismError)
    assert desc.error["type"] == "stepbridge.errors.ExecutionCancelled"
    assert LOG == ["charge o-6", "ship o-6", "refund o-6"]  # the refund ran; "unship" was never registered
    assert RUNS["refund"] == 1
    assert one_time_timers(cloud) == []


def test_a_sleep_ending_while_a_declared_compensation_of_a_cancel_is_in_flight_changes_nothing(
    cloud: LocalCloud,
) -> None:
    """The clock of the unwinding replays stops at the cut outside compensations: the sleep's timer firing
    while "release" is in flight does not let the workflow go on to "ship"."""
    client = cloud.client()
    h = client.start("saga", "o-7")
    cloud.eager = False
    cloud.clock.set(cloud.now() + timedelta(hours=1))
    client.cancel(h.execution_id, compensate=True)
    while cloud._drain_queue():
        pass
    releases = list(cloud._step_queue)  # the newest declared compensation, dispatched, not run yet
    assert [i.op for i in releases] == ["release"]
    cloud._step_queue.clear()
    cloud.clock.set(cloud.now() + timedelta(hours=6))  # the 6-hour sleep ends meanwhile
    while (timer := cloud.timers.pop_due(cloud.now())) is not None:
        cloud._fire(timer)
        while cloud._drain_queue():
            pass
    assert [i.op for i in cloud._step_queue] == []  # ship was not dispatched
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud._step_queue.extend(releases)
    cloud.run_until_complete(h.execution_id)
    desc = client.describe(h.execution_id)
    assert desc.status == "CANCELLED", desc.error
    assert LOG == ["charge o-7", "reserve o-7", "release o-7", "refund o-7"]
    assert (RUNS["release"], RUNS["refund"], RUNS["ship"]) == (1, 1, 0)


def test_cancel_without_compensate_skips_the_compensations(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("saga", "o-4")
    client.cancel(h.execution_id)
    assert client.describe(h.execution_id).status == "CANCELLED"
    assert LOG == ["charge o-4", "reserve o-4"]


def test_cancelling_a_parent_with_compensate_compensates_its_child(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("parent", "o-5", execution_id="p-5")
    child_id = "p-5.child:saga"
    assert client.describe(child_id).status == "RUNNING"
    client.cancel("p-5", compensate=True)
    cloud.run_until_complete(child_id)
    assert client.describe("p-5").status == "CANCELLED"
    assert client.describe(child_id).status == "CANCELLED"
    assert LOG == ["charge o-5", "reserve o-5", "release o-5", "refund o-5"]
    del h


def test_cancel_of_a_finished_or_unknown_execution(cloud: LocalCloud) -> None:
    client = cloud.client()
    client.send_event("Approval.decided", {"order": "o-6", "approved": True})
    h = client.start("await-approval", "o-6")
    assert h.result() == {"order": "o-6", "approved": True}
    assert client.cancel(h.execution_id).status == "SUCCEEDED"  # nothing to stop
    with pytest.raises(ExecutionNotFound):
        client.cancel("no-such-execution")


def test_cancel_whose_wake_up_was_lost_is_finished_by_the_sweeper() -> None:
    from stepbridge.runtime.executions import request_cancel

    LOG.clear()
    with LocalCloud(cancel_app(), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("await-approval", "o-7")

        class LostWake:
            def now(self) -> Any:
                return cloud.now()

            def wake(self, message: Any) -> None:
                raise ConnectionError("SendMessage failed")

            def cancel_timer(self, name: str) -> None: ...

        with pytest.raises(ConnectionError):
            request_cancel(cloud.store, LostWake(), h.execution_id)
        assert client.describe(h.execution_id).cancel_requested
        cloud.advance(timedelta(minutes=5))
        assert cloud.sweep() == [h.execution_id]
        assert client.describe(h.execution_id).status == "CANCELLED"
