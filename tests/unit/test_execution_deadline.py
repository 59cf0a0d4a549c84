"""``@app.workflow(timeout=)``: the whole execution's deadline (issue 14, item 6) on the memory backend.

Past the deadline the execution unwinds as a cancel with ``compensate=True`` and ends TIMED_OUT with
``ExecutionTimedOut``: compensations run in reverse, children are cancelled, and no timer, waiter, open
callback or open human task is left. An execution that ends first deletes its deadline timer. The same
scenarios run on moto in tests/functional/test_execution_deadline.py.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, ExecutionTimedOut
from stepbridge.errors import ChildFailed, ExecutionFailedError, WorkflowDefinitionError
from stepbridge.local import LocalCloud
from stepbridge.runtime import keys
from stepbridge.runtime.callbacks import CANCELLED as CALLBACK_CANCELLED
from stepbridge.runtime.records import parse_iso

LOG: list[str] = []
RUNS: Counter[str] = Counter()
SEEN: list[str] = []


def deadline_app() -> App:
    """Workflows that wait on each kind of durable operation under a one-hour deadline."""
    # Declared steps are invoked asynchronously (not answered in-process: runtime/stepreply.py),
    # so a test can hold one in flight.
    app = App("deadline", step_reply_window=0)

    @app.step(timeout=600)
    def slow_export(order: str) -> str:
        RUNS["slow_export"] += 1
        return f"exported {order}"

    @app.step(timeout=30)
    def refund(order: str) -> str:
        LOG.append(f"refund {order}")
        return f"refunded {order}"

    async def with_saga(ctx: Context, order: str, wait: Any) -> str:
        async with ctx.saga() as saga:
            await ctx.step("charge", lambda: LOG.append(f"charge {order}"))
            saga.compensate(refund, order, name="refund")  # a declared compensation step
            await ctx.step("reserve", lambda: LOG.append(f"reserve {order}"))
            saga.compensate(lambda: LOG.append(f"release {order}"), name="release")  # an inline one
            try:
                await wait()
            except ExecutionTimedOut as exc:
                SEEN.append(type(exc).__name__)
                raise
            await ctx.step("after", lambda: LOG.append("after the wait"))
        return "done"

    @app.workflow("sleepy", timeout=timedelta(hours=1))
    async def sleepy(ctx: Context, order: str) -> str:
        return await with_saga(ctx, order, lambda: ctx.sleep(timedelta(days=2)))

    @app.workflow("exporting", timeout=300)  # shorter than the step's own Lambda timeout (600 s)
    async def exporting(ctx: Context, order: str) -> str:
        return await with_saga(ctx, order, lambda: ctx.step("export", slow_export, order))

    @app.workflow("waiting", timeout=timedelta(hours=1))
    async def waiting(ctx: Context, order: str) -> str:
        return await with_saga(
            ctx, order, lambda: ctx.wait_for("Approval.decided", match={"order": order}, timeout=timedelta(days=5))
        )

    @app.workflow("waits-then-registers", timeout=timedelta(hours=1))
    async def waits_then_registers(ctx: Context, order: str) -> str:
        async with ctx.saga() as saga:
            await ctx.step("charge", lambda: LOG.append(f"charge {order}"))
            saga.compensate(refund, order, name="refund")
            await ctx.wait_for("Approval.decided", match={"order": order}, timeout=timedelta(days=5))
            saga.compensate(lambda: LOG.append(f"undo approval {order}"), name="undo-approval")
            await ctx.step("after", lambda: LOG.append("after the wait"))
        return "done"

    @app.workflow("with-callback", timeout=timedelta(hours=1))
    async def with_callback(ctx: Context, order: str) -> str:
        cb = await ctx.callback("bank", timeout=timedelta(days=1))
        return str(await cb.result())

    @app.workflow("child-sleeps")
    async def child_sleeps(ctx: Context, order: str) -> str:
        async with ctx.saga() as saga:
            await ctx.step("child-charge", lambda: LOG.append(f"child charge {order}"))
            saga.compensate(lambda: LOG.append(f"child refund {order}"), name="child-refund")
            await ctx.sleep(timedelta(days=3))
        return "child done"

    @app.workflow("parent", timeout=timedelta(hours=1))
    async def parent(ctx: Context, order: str) -> str:
        return str(await ctx.child("child-sleeps", order))

    @app.workflow("times-out-as-child", timeout=timedelta(minutes=30))
    async def times_out_as_child(ctx: Context, order: str) -> str:
        await ctx.sleep(timedelta(hours=2))
        return "late"

    @app.workflow("awaits-timed-child")
    async def awaits_timed_child(ctx: Context, order: str) -> str:
        try:
            return str(await ctx.child("times-out-as-child", order))
        except ChildFailed as exc:
            return f"{exc.status}:{type(exc.original).__name__}"

    @app.workflow("quick", timeout=timedelta(hours=1))
    async def quick(ctx: Context, order: str) -> str:
        await ctx.sleep(timedelta(minutes=10))
        return f"quick {order}"

    @app.workflow("generations", timeout=timedelta(hours=1))
    async def generations(ctx: Context, n: int) -> str:
        await ctx.sleep(timedelta(minutes=25))
        if n < 5:
            await ctx.continue_as_new(n + 1)
        return "all generations"

    return app


@pytest.fixture
def cloud() -> Any:
    LOG.clear()
    RUNS.clear()
    SEEN.clear()
    with LocalCloud(deadline_app(), backend="memory") as c:
        yield c


def one_time_timers(cloud: LocalCloud) -> list[Any]:
    return [t for t in cloud.timers.pending() if t.schedule is None]


def assert_nothing_pending(cloud: LocalCloud, execution_id: str) -> None:
    """No timer, no waiter, no open callback of the execution is left behind."""
    assert one_time_timers(cloud) == []
    assert cloud.store.query_items("WAIT#Approval.decided") == []
    rec = cloud.store.get_execution(execution_id)
    assert rec is not None and rec.terminal


def timed_out(cloud: LocalCloud, execution_id: str) -> Any:
    desc = cloud.client().describe(execution_id)
    assert desc.status == "TIMED_OUT", desc
    assert desc.error["type"] == "stepbridge.errors.ExecutionTimedOut"
    assert execution_id in desc.error["message"] and "deadline" in desc.error["message"]
    return desc


def test_deadline_is_computed_once_from_the_start_and_its_timer_is_set(cloud: LocalCloud) -> None:
    client = cloud.client()
    started = cloud.now()
    h = client.start("sleepy", "o-1")
    rec = cloud.store.get_execution(h.execution_id)
    assert rec is not None and rec.deadline is not None
    assert parse_iso(rec.deadline) == started + timedelta(hours=1)
    names = {t.name for t in one_time_timers(cloud)}
    assert keys.deadline_timer_name(h.execution_id) in names
    assert client.describe(h.execution_id).deadline == rec.deadline


def test_deadline_fires_mid_sleep_runs_compensations_in_reverse_and_ends_timed_out(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("sleepy", "o-2")
    cloud.advance(timedelta(minutes=59))
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud.advance(timedelta(minutes=2))
    cloud.run_until_complete(h.execution_id)
    timed_out(cloud, h.execution_id)
    assert LOG == ["charge o-2", "reserve o-2", "release o-2", "refund o-2"]
    assert set(SEEN) == {"ExecutionTimedOut"}  # the waiting point raised it (on each replay); the saga compensated
    assert_nothing_pending(cloud, h.execution_id)
    history = [e.detail_type for e in client.history(h.execution_id)]
    assert history[-1] == "Workflow.timed_out" and "Step.completed" in history
    with pytest.raises(ExecutionFailedError) as info:
        h.result()
    assert info.value.status == "TIMED_OUT" and "ExecutionTimedOut" in str(info.value)
    cloud.advance(timedelta(days=3))  # the sleep's timer was deleted: nothing runs after
    assert "after the wait" not in LOG


def test_deadline_fires_mid_declared_step(cloud: LocalCloud) -> None:
    client = cloud.client()
    cloud.eager = False
    h = client.start("exporting", "o-3")
    cloud._drain_queue()
    assert [i.op for i in cloud._step_queue] == ["export"]  # dispatched; its Lambda is still running
    in_flight = list(cloud._step_queue)
    cloud._step_queue.clear()
    cloud.advance(timedelta(minutes=6))
    cloud.run_until_complete(h.execution_id)
    timed_out(cloud, h.execution_id)
    assert LOG == ["charge o-3", "reserve o-3", "release o-3", "refund o-3"]
    assert_nothing_pending(cloud, h.execution_id)  # the step's deadline timer too
    cloud._step_queue.extend(in_flight)  # the slow Lambda gets going only now
    cloud.run_until_idle()
    assert RUNS["slow_export"] == 0  # it found the execution ended and did nothing
    assert "after the wait" not in LOG and client.describe(h.execution_id).status == "TIMED_OUT"


def test_a_step_reporting_after_the_deadline_starts_nothing_new(cloud: LocalCloud) -> None:
    client = cloud.client()

    def takes_two_hours(order: str) -> str:
        cloud.clock.set(cloud.now() + timedelta(hours=2))  # the step's Lambda runs past the deadline
        return f"exported {order}"

    cloud.mock_step("slow_export", takes_two_hours)
    h = client.start("exporting", "o-3b")
    cloud.run_until_complete(h.execution_id)
    timed_out(cloud, h.execution_id)
    assert "after the wait" not in LOG  # its result arrived after the deadline: only compensations ran
    assert LOG == ["charge o-3b", "reserve o-3b", "release o-3b", "refund o-3b"]
    assert_nothing_pending(cloud, h.execution_id)


def test_deadline_fires_mid_wait_for(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("waiting", "o-4")
    assert cloud.store.query_items("WAIT#Approval.decided") != []
    cloud.advance(timedelta(hours=2))
    timed_out(cloud, h.execution_id)
    assert_nothing_pending(cloud, h.execution_id)
    client.send_event("Approval.decided", {"order": "o-4"})
    cloud.run_until_idle()
    assert "after the wait" not in LOG and LOG[-2:] == ["release o-4", "refund o-4"]


def test_deadline_fires_mid_child_cancels_the_child_which_compensates(cloud: LocalCloud) -> None:
    client = cloud.client()
    client.start("parent", "o-5", execution_id="p-5")
    child_id = "p-5.child:child-sleeps"
    assert client.describe(child_id).status == "RUNNING"
    cloud.advance(timedelta(hours=1, minutes=1))
    cloud.run_until_complete(child_id)
    timed_out(cloud, "p-5")
    assert client.describe(child_id).status == "CANCELLED"
    assert LOG == ["child charge o-5", "child refund o-5"]
    assert_nothing_pending(cloud, child_id)


def test_a_parent_awaiting_a_timed_out_child_gets_child_failed_naming_the_timeout(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("awaits-timed-child", "o-6", execution_id="p-6")
    cloud.advance(timedelta(hours=3))
    assert h.result() == "TIMED_OUT:ExecutionTimedOut"
    assert client.describe("p-6.child:times-out-as-child").status == "TIMED_OUT"


def test_an_execution_that_ends_before_its_deadline_deletes_the_deadline_timer(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("quick", "o-7")
    assert keys.deadline_timer_name(h.execution_id) in {t.name for t in one_time_timers(cloud)}
    cloud.advance(timedelta(minutes=11))
    assert h.result() == "quick o-7"
    assert one_time_timers(cloud) == []
    cloud.advance(timedelta(hours=2))
    assert client.describe(h.execution_id).status == "SUCCEEDED"


def test_open_callbacks_are_cancelled_when_the_execution_times_out(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("with-callback", "o-8")
    token = cloud.store.load_journal(h.execution_id)
    items = [r.data["result"]["token"] for r in token if r.op == "bank" and r.kind == "result"]
    assert len(items) == 1
    cloud.advance(timedelta(hours=2))
    timed_out(cloud, h.execution_id)
    item = cloud.store.get_item(*keys.callback_key(items[0]))
    assert item is not None and item.body["status"] == CALLBACK_CANCELLED
    assert "TIMED_OUT" in item.body["cancelled_because"]
    from stepbridge.errors import CallbackAlreadyCompleted

    with pytest.raises(CallbackAlreadyCompleted, match="was cancelled: its execution ended TIMED_OUT"):
        client.complete_callback(items[0], {"ok": True})
    assert_nothing_pending(cloud, h.execution_id)


def test_continue_as_new_generations_share_one_deadline(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("generations", 1, execution_id="g")
    first = cloud.store.get_execution("g")
    assert first is not None
    cloud.advance(timedelta(hours=2))
    statuses = {d.execution_id: d.status for d in client.list(workflow="generations")}
    # 25 minutes per generation: the third one passes the first one's deadline (60 minutes).
    assert sorted(statuses.values()) == ["SUCCEEDED", "SUCCEEDED", "TIMED_OUT"]
    last = next(i for i, s in statuses.items() if s == "TIMED_OUT")
    rec = cloud.store.get_execution(last)
    assert rec is not None and rec.deadline == first.deadline
    assert one_time_timers(cloud) == []
    del h


def test_list_and_describe_know_timed_out(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("sleepy", "o-9")
    client.start("quick", "o-10")
    cloud.advance(timedelta(hours=2))
    listed = client.list(status="TIMED_OUT")
    assert [d.execution_id for d in listed] == [h.execution_id]
    assert [d.workflow for d in client.list(workflow="sleepy", status="TIMED_OUT")] == ["sleepy"]
    assert client.list(workflow="quick", status="TIMED_OUT") == []


def test_a_lost_deadline_timer_is_recovered_by_the_sweeper(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("waiting", "o-11")
    name = keys.deadline_timer_name(h.execution_id)
    cloud.effects.cancel_timer(name)  # Scheduler lost it (or someone deleted it)
    cloud.advance(timedelta(hours=1, minutes=30))
    assert client.describe(h.execution_id).status == "RUNNING"  # nothing woke it
    woken = cloud.sweep()
    assert h.execution_id in woken
    cloud.run_until_idle()
    timed_out(cloud, h.execution_id)
    assert_nothing_pending(cloud, h.execution_id)


@pytest.mark.parametrize(
    ("timeout", "message"),
    [
        (0, "between 1 second and 366 days"),
        (-5, "between 1 second and 366 days"),
        (timedelta(days=400), "between 1 second and 366 days"),
        (float("nan"), "between 1 second and 366 days"),
        ("30d", "must be seconds or a timedelta"),
        (True, "must be seconds or a timedelta"),
    ],
)
def test_a_bad_timeout_is_refused_with_a_clear_error(timeout: Any, message: str) -> None:
    app = App("bad-timeout")
    with pytest.raises(WorkflowDefinitionError, match=message) as info:

        @app.workflow("export", timeout=timeout)
        async def export(ctx: Context) -> None: ...

    assert "workflow 'export'" in str(info.value) and "\n" not in str(info.value)
    assert app.workflows == {}


def test_an_open_human_task_is_cancelled_when_the_execution_times_out() -> None:
    from stepbridge.errors import TaskConflict

    app = App("deadline-task")

    @app.workflow("approve", timeout=timedelta(hours=8))
    async def approve(ctx: Context, amount: float) -> str:
        out = await ctx.task("manager-approval", assignees=["maria@acme.example"], title=f"Approve {amount}",
                             remind_every=timedelta(hours=1))
        return str(out.decision)

    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        h = client.start("approve", 10.0)
        (task,) = client.tasks("maria@acme.example")
        cloud.advance(timedelta(hours=9))
        assert client.describe(h.execution_id).status == "TIMED_OUT"
        cancelled = [e for e in cloud.events if e.detail_type == "Task.cancelled"]
        assert [e.detail["task_id"] for e in cancelled] == [task["task_id"]]
        assert client.task(task["task_id"]).status == "cancelled" and client.tasks("maria@acme.example") == []
        with pytest.raises(TaskConflict, match="cancelled"):
            client.complete_task(task["task_id"], by="maria@acme.example", decision="approve")
        reminders = len([e for e in cloud.events if e.detail_type == "Task.reminder"])
        cloud.advance(timedelta(days=2))
        assert len([e for e in cloud.events if e.detail_type == "Task.reminder"]) == reminders  # timers gone
        assert one_time_timers(cloud) == []


def test_a_deadline_timer_delivered_early_is_set_again(cloud: LocalCloud) -> None:
    from stepbridge.runtime import deadline
    from stepbridge.runtime.records import WakeMessage

    client = cloud.client()
    h = client.start("waiting", "o-12")
    name = keys.deadline_timer_name(h.execution_id)
    cloud.timers.cancel(name)  # Scheduler delivers it early and deletes it
    cloud.effects.wake(WakeMessage(h.execution_id, deadline.REASON, keys.timer_dedup(keys.DEADLINE_KEY)))
    cloud.run_until_idle()
    assert client.describe(h.execution_id).status == "RUNNING"
    (again,) = [t for t in one_time_timers(cloud) if t.name == name]
    assert again.at == parse_iso(str(client.describe(h.execution_id).deadline))
    cloud.advance(timedelta(hours=1, minutes=1))
    timed_out(cloud, h.execution_id)


def test_a_deferred_start_counts_its_deadline_from_when_it_begins(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("quick", "o-13", delay=timedelta(days=1))
    assert client.describe(h.execution_id).deadline is None  # SCHEDULED: not started yet
    begin = cloud.now() + timedelta(days=1)
    cloud.advance(timedelta(days=1))
    assert parse_iso(str(client.describe(h.execution_id).deadline)) == begin + timedelta(hours=1)
    assert h.result() == "quick o-13"


def test_a_running_step_reporting_while_a_declared_compensation_is_in_flight_changes_nothing() -> None:
    """Outside compensations an unwinding replay sees the journal as it was at the cut: the late report does
    not move the workflow past the step (which would register new compensations before the recorded ones)."""
    import dataclasses

    from stepbridge.handlers import step as step_handler

    # asynchronous step invokes (runtime/stepreply.py): the test holds one in flight
    app = App("late-report", step_reply_window=0)

    @app.step(timeout=600)
    def export(order: str) -> str:
        LOG.append("export")
        return "x"

    @app.step(timeout=30)
    def refund(order: str) -> str:
        LOG.append("refund")
        return "r"

    @app.workflow("wf", timeout=300)
    async def wf(ctx: Context, order: str) -> str:
        async with ctx.saga() as saga:
            await ctx.step("charge", lambda: LOG.append("charge"))
            saga.compensate(refund, order, name="refund")
            await ctx.step("export", export, order)
            saga.compensate(lambda: LOG.append("delete export"), name="delete-export")
            await ctx.step("after", lambda: LOG.append("after"))
        return "done"

    LOG.clear()
    with LocalCloud(app, backend="memory") as cloud:
        cloud.eager = False
        h = cloud.client().start("wf", "o")
        while cloud._drain_queue():
            pass
        running = list(cloud._step_queue)  # export's Lambda started before the deadline
        cloud._step_queue.clear()
        cloud.clock.set(cloud.now() + timedelta(minutes=6))
        while (timer := cloud.timers.pop_due(cloud.now())) is not None:
            cloud._fire(timer)
            while cloud._drain_queue():
                pass
        refunds = list(cloud._step_queue)  # the declared compensation, dispatched, not run yet
        cloud._step_queue.clear()
        late = dataclasses.replace(running[0], compensation=True)  # past the worker's start check already
        cloud.clock.set(cloud.now() + timedelta(seconds=1))  # it reports a second after the deadline was handled
        step_handler.handle(late.to_dict(), cloud.env, cloud._lambda_context(late))
        while cloud._drain_queue():
            pass
        cloud._step_queue.extend(refunds)
        cloud.run_until_complete(h.execution_id)
        assert cloud.client().describe(h.execution_id).status == "TIMED_OUT"  # was FAILED (NonDeterminismError)
        assert LOG == ["charge", "export", "refund"]  # the refund ran; "delete export" was never registered
        assert [t for t in cloud.timers.pending() if t.schedule is None] == []


def test_an_event_arriving_while_a_declared_compensation_is_in_flight_changes_nothing(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("waits-then-registers", "o-14")
    cloud.eager = False
    cloud.clock.set(cloud.now() + timedelta(hours=1, minutes=1))
    while (timer := cloud.timers.pop_due(cloud.now())) is not None:
        cloud._fire(timer)
        while cloud._drain_queue():
            pass
    refunds = list(cloud._step_queue)
    assert [i.op for i in refunds] == ["refund"]  # the declared compensation is in flight
    cloud._step_queue.clear()
    cloud.clock.set(cloud.now() + timedelta(seconds=1))
    client.send_event("Approval.decided", {"order": "o-14"})  # the awaited event arrives a second later
    cloud.run_until_idle()
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud._step_queue.extend(refunds)
    cloud.run_until_complete(h.execution_id)
    timed_out(cloud, h.execution_id)
    assert LOG == ["charge o-14", "refund o-14"]  # the wait stays where it was stopped: nothing after it
    assert_nothing_pending(cloud, h.execution_id)
