from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from stepbridge import App, Context, Retry, State, StateMachine, StepTimeout, Transition
from stepbridge.errors import (
    ExecutionAlreadyExists,
    ExecutionFailedError,
    ExecutionNotFound,
    UnknownWorkflowError,
)
from stepbridge.local import Crash, LocalCloud


def test_local_pydantic_model_with_future_annotations_is_validated():
    """DESIGN: 'input validated by the type hint (pydantic)'. Model defined in a test function."""

    class Order(BaseModel):
        id: str
        total: float

    app = App("v")

    @app.workflow("w")
    async def w(ctx: Context, order: Order) -> float:
        return order.total

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w", {"id": "a", "total": "2.5"}).result() == 2.5


def test_local_pydantic_model_declared_step_arg():
    class Order(BaseModel):
        id: str
        total: float

    app = App("v")

    @app.step
    def charge(order: Order) -> dict:
        return {"charged": order.total}

    @app.workflow("w")
    async def w(ctx: Context, o: dict) -> dict:
        return await ctx.step("charge", charge, o)

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w", {"id": "a", "total": 3}).result() == {"charged": 3.0}


def test_duplicate_step_name():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context) -> None:
        await ctx.step("a", lambda: 1)
        await ctx.step("a", lambda: 2)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        d = c.describe(h.execution_id)
        assert d.status == "FAILED" and "DuplicateStep" in d.error["type"]


def test_start_conflict_and_unknown():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context, x: int) -> int:
        return x

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.start("w", 1, execution_id="x1")
        with pytest.raises(ExecutionAlreadyExists):
            c.start("w", 2, execution_id="x1")
        with pytest.raises(UnknownWorkflowError):
            c.start("nope", 1)
        with pytest.raises(ExecutionNotFound):
            c.describe("nope")
        h = c.start("w", 1, execution_id="x1")
        assert h.created is False and h.result() == 1


def test_durations_accept_seconds_and_timedelta():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context) -> list:
        a = await ctx.wait_for("X", timeout=60, default="t1")
        b = await ctx.wait_for("X", timeout=timedelta(seconds=60), default="t2")
        await ctx.sleep(30)
        await ctx.sleep(timedelta(seconds=30))
        c = await ctx.step("s", lambda: 1, timeout=timedelta(seconds=5))
        return [a, b, c]

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        cloud.advance(179)
        assert h.status == "RUNNING"
        cloud.advance(1)
        assert h.result() == ["t1", "t2", 1]


def test_declared_step_crash_caught_by_deadline():
    app = App("d")
    calls = []

    @app.step(timeout=10, retry=Retry(max_attempts=2, jitter=False))
    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise Crash()
        return "ok"

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return await ctx.step("f", flaky)

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        assert h.status == "RUNNING"
        cloud.advance(timedelta(minutes=5))
        assert h.result() == "ok" and len(calls) == 2


def test_declared_step_never_reports_steptimeout():
    app = App("d")

    @app.step(timeout=10)
    def dies() -> str:
        raise Crash()

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            return await ctx.step("f", dies, retry=Retry(max_attempts=1))
        except StepTimeout:
            return "timeout"

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        cloud.advance(timedelta(minutes=5))
        assert h.result() == "timeout"


def test_state_machine_hook_order_and_event_time():
    order = []

    def g(ctx):
        order.append("guard")
        return True

    def ex(ctx):
        order.append("exit")

    def act(ctx, event):
        order.append("action")
        return {"at": event.time if isinstance(event.time, str) else event.time.isoformat(), "dt": event.detail_type}

    def en(ctx):
        order.append("entry")

    m = StateMachine(
        "m",
        initial="a",
        context={"base": 1},
        states={
            "a": State(exit=ex, on={"go": Transition("b", guard=g, action=act)}),
            "b": State(entry=en),
        },
    )
    app = App("sm")
    app.state_machine(m, events={"Go.now": "go"}, key="detail.id")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("Go.now", {"id": "k", "extra": 2})
        assert order == ["guard", "exit", "action", "entry"]
        s = c.machine_state("m", "k")
        assert s["state"] == "b"
        assert s["context"]["base"] == 1 and s["context"]["extra"] == 2 and s["context"]["id"] == "k"
        assert s["context"]["at"].startswith("2026-01-05")


def test_state_machine_detail_merged_before_guard():
    seen = []
    m = StateMachine(
        "m",
        initial="a",
        states={
            "a": State(on={"go": Transition("b", guard=lambda c: seen.append(dict(c)) or c.get("ok") is True)}),
            "b": State(on={"back": Transition("a")}),
        },
    )
    app = App("sm")
    app.state_machine(m, events={"Go": "go", "Back": "back"}, key="detail.id")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("Go", {"id": "k", "ok": True})
        assert c.machine_state("m", "k")["state"] == "b"
        c.send_event("Back", {"id": "k"})
        c.send_event("Go", {"id": "k", "ok": False})
        assert c.machine_state("m", "k")["state"] == "a"
        assert seen[-1]["ok"] is False


def test_cancel_stops_waits():
    app = App("c")

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        await ctx.wait_for("E", timeout=timedelta(hours=1))
        return "x"

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        c.cancel(h.execution_id)
        c.send_event("E", {})
        cloud.advance(timedelta(hours=2))
        d = c.describe(h.execution_id)
        assert d.status == "CANCELLED"
        with pytest.raises(ExecutionFailedError):
            h.result()


def test_history_has_sent_events():
    app = App("h")

    @app.workflow("w")
    async def w(ctx: Context) -> None:
        await ctx.send("Order.confirmed", {"a": 1})

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        h.result()
        hist = c.history(h.execution_id)
        sent = [e for e in hist if e.detail_type == "Order.confirmed"]
        assert sent and sent[0].detail == {"a": 1}
        assert hist[-1].detail_type == "Workflow.completed"


def test_metric_goes_to_powertools():
    """LocalCloud disables Powertools EMF output and records metrics in observability.recorded_metrics."""
    from stepbridge.runtime import observability

    app = App("m")

    @app.workflow("measured")
    async def measured(ctx: Context) -> int:
        ctx.metric("OrdersProcessed", 3, unit="Count")
        return 1

    with LocalCloud(app, backend="memory") as cloud:
        cloud.client().start("measured").result()
    assert any(m["name"] == "OrdersProcessed" and m["value"] == 3 for m in observability.recorded_metrics)


def test_gather_failure_propagates_by_position():
    app = App("g")

    def bad():
        raise ValueError("bad")

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            await ctx.gather(ctx.step("a", lambda: 1), ctx.step("b", bad, retry=Retry(max_attempts=1)))
        except ValueError as e:
            return str(e)
        return "no"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w").result() == "bad"


def test_wait_for_where_receives_detail_only_and_event_reuse_across_waits():
    """Two wait_for with different filters for the same event type, each event once."""
    app = App("w")

    @app.workflow("w")
    async def w(ctx: Context) -> list:
        a, b = await ctx.gather(
            ctx.wait_for("Vote", where=lambda d: d["v"] == "a"),
            ctx.wait_for("Vote", where=lambda d: d["v"] == "b"),
        )
        return [a["v"], b["v"]]

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        c.send_event("Vote", {"v": "b"})
        c.send_event("Vote", {"v": "a"})
        assert h.result() == ["a", "b"]


def test_same_event_two_waits_same_filter_only_one():
    app = App("w")

    @app.workflow("w")
    async def w(ctx: Context) -> list:
        a, b = await ctx.gather(
            ctx.wait_for("Vote", timeout=60, default=None),
            ctx.wait_for("Vote", timeout=60, default=None),
        )
        return [a, b]

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        c.send_event("Vote", {"v": 1})
        cloud.advance(61)
        r = h.result()
        assert sorted([x is None for x in r]) == [False, True]


def test_child_handle_fields():
    app = App("c")

    @app.workflow("kid")
    async def kid(ctx: Context, x: dict) -> dict:
        return x

    @app.workflow("par")
    async def par(ctx: Context) -> dict:
        h = await ctx.start_child(kid, {"a": 1})
        return {"id": h.execution_id, "input": h.input, "res": await h.result()}

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        r = c.start("par").result()
        assert r["input"] == {"a": 1} and r["res"] == {"a": 1}
        assert c.describe(r["id"]).status == "SUCCEEDED"


def test_scheduled_time_input_passed_to_typed_workflow():
    class Tick(BaseModel):
        scheduled_time: datetime

    app = App("s")

    @app.workflow("tick")
    async def tick(ctx: Context, t: dict) -> str:
        return t["scheduled_time"]

    app.every("hourly", at=":00", workflow=tick)
    with LocalCloud(app, backend="memory") as cloud:
        cloud.advance(timedelta(hours=1))
        r = cloud.client().list(workflow="tick")[0].result
        dt = datetime.fromisoformat(r.replace("Z", "+00:00"))
        assert dt == datetime(2026, 1, 5, 9, tzinfo=UTC)
