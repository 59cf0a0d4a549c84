"""Probe: core Context primitives as the public contract states them (docs/API.md)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from pydantic import BaseModel

from stepbridge import App, Context, Retry, StepTimeout, WaitTimeout
from stepbridge.errors import ExecutionFailedError
from stepbridge.local import LocalCloud


class Order(BaseModel):
    id: str
    items: list[str]
    total: float


def _app(name="probe"):
    return App(name)


def test_public_names_importable():
    import stepbridge

    for n in ["App", "Context", "Retry", "WaitTimeout", "StepTimeout", "StateMachine", "State", "Transition"]:
        assert hasattr(stepbridge, n)


def test_design_process_payment_success_and_compensation():
    app = _app()
    released = []

    def reserve(items):
        return {"res": items}

    def release(r):
        released.append(r)

    @app.step(timeout=30, memory=256, retry=Retry(max_attempts=3, backoff="exponential", initial_delay=1.0))
    async def charge_payment(order: Order) -> dict:
        if order.total > 100:
            raise RuntimeError("declined")
        return {"charged": order.total}

    @app.workflow("process-payment")
    async def process_payment(ctx: Context, order: Order) -> dict:
        reservation = await ctx.step("reserve-inventory", reserve, order.items)
        try:
            payment = await ctx.step("charge-payment", charge_payment, order)
            await ctx.send("Order.confirmed", {"order": order, "payment": payment})
            return {"success": True, "payment": payment}
        except Exception:
            await ctx.step("release-inventory", release, reservation)
            raise

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("process-payment", {"id": "o1", "items": ["a"], "total": 10}, execution_id="order-42")
        assert h.result() == {"success": True, "payment": {"charged": 10.0}}
        assert [e.detail_type for e in cloud.events if e.detail_type == "Order.confirmed"] == ["Order.confirmed"]
        ev = next(e for e in cloud.events if e.detail_type == "Order.confirmed")
        assert ev.detail["order"]["id"] == "o1"
        d = c.describe("order-42")
        assert d.status == "SUCCEEDED" and d.result["success"] is True and d.error is None
        # idempotent by id
        h2 = c.start("process-payment", {"id": "o1", "items": ["a"], "total": 10}, execution_id="order-42")
        assert h2.execution_id == "order-42"
        assert len(c.list(workflow="process-payment")) == 1

        h3 = c.start("process-payment", {"id": "o2", "items": ["b"], "total": 500})
        with pytest.raises(ExecutionFailedError):
            h3.result()
        d3 = c.describe(h3.execution_id)
        assert d3.status == "FAILED"
        assert d3.error["message"] == "declined"
        assert released == [{"res": ["b"]}]


def test_history_events_have_detail_type_and_detail():
    app = _app()

    @app.workflow("h")
    async def h(ctx: Context, x: int) -> int:
        await ctx.send("X.done", {"x": x})
        return await ctx.step("s", lambda: x + 1)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        hd = c.start("h", 1)
        assert hd.result() == 2
        hist = c.history(hd.execution_id)
        assert all(hasattr(e, "detail_type") and hasattr(e, "detail") for e in hist)
        types = [e.detail_type for e in hist]
        assert "X.done" in types
        ce = cloud.events[0]
        assert hasattr(ce, "detail_type") and hasattr(ce, "detail")


def test_gather_parallel_in_order():
    app = _app()

    @app.workflow("enrich-lead")
    async def enrich(ctx: Context, lead: dict) -> dict:
        email, company, social = await ctx.gather(
            ctx.step("verify-email", lambda: {"valid": True}),
            ctx.step("lookup-company", lambda: "acme"),
            ctx.step("find-social", lambda: ["tw"]),
        )
        return await ctx.step(
            "merge-data", lambda: {**lead, "emailValid": email["valid"], "company": company, "socialProfiles": social}
        )

    with LocalCloud(app, backend="memory") as cloud:
        r = cloud.client().start("enrich-lead", {"name": "n"}).result()
        assert r == {"name": "n", "emailValid": True, "company": "acme", "socialProfiles": ["tw"]}


def test_gather_declared_steps_concurrent_and_ordered():
    app = _app()

    @app.step
    def slow(x: int) -> int:
        return x * 10

    @app.workflow("g")
    async def g(ctx: Context) -> list:
        return await ctx.gather(*(ctx.step(f"s-{i}", slow, i) for i in range(4)))

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("g").result() == [0, 10, 20, 30]


def test_gather_mixed_waits_sleep_children():
    app = _app()

    @app.workflow("kid")
    async def kid(ctx: Context, x: int) -> int:
        await ctx.sleep(60)
        return x + 1

    @app.workflow("mixed")
    async def mixed(ctx: Context) -> list:
        return await ctx.gather(
            ctx.wait_for("Go.now", timeout=timedelta(hours=1)),
            ctx.sleep(timedelta(minutes=5)),
            ctx.child(kid, 1),
            ctx.step("s", lambda: "s"),
        )

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("mixed")
        c.send_event("Go.now", {"a": 1})
        cloud.advance(timedelta(minutes=10))
        r = h.result()
        assert r[0] == {"a": 1} and r[2] == 2 and r[3] == "s"


def test_map_concurrency_names_order():
    app = _app()

    @app.step
    def send(item: int) -> int:
        return item * 2

    @app.workflow("m")
    async def m(ctx: Context, n: int) -> list:
        return await ctx.map("send", list(range(n)), send, concurrency=3)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("m", 8)
        assert h.result() == [i * 2 for i in range(8)]
        names = [e.detail.get("name") for e in c.history(h.execution_id) if e.detail_type == "Step.completed"]
        assert set(names) == {f"send-{i}" for i in range(8)}


def test_map_inline_concurrency_limit_respected():
    app = _app()
    state = {"cur": 0, "max": 0}

    async def work(i):
        state["cur"] += 1
        state["max"] = max(state["max"], state["cur"])
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        state["cur"] -= 1
        return i

    @app.workflow("m2")
    async def m2(ctx: Context) -> list:
        return await ctx.map("w", list(range(25)), work, concurrency=10)

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("m2").result() == list(range(25))
        assert state["max"] <= 10


def test_sleep_and_sleep_until_virtual_clock():
    app = _app()

    @app.workflow("s")
    async def s(ctx: Context) -> str:
        await ctx.sleep(timedelta(hours=1))
        t = ctx.now()
        await ctx.sleep_until(t + timedelta(days=1))
        await ctx.sleep(30)  # seconds
        return ctx.now().isoformat()

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        start = cloud.now()
        h = c.start("s")
        cloud.advance(timedelta(minutes=59))
        assert h.status == "RUNNING"
        cloud.advance(timedelta(minutes=1))
        assert h.status == "RUNNING"
        cloud.advance(timedelta(days=1))
        assert h.status == "RUNNING"
        cloud.advance(timedelta(seconds=30))
        assert h.status == "SUCCEEDED"
        assert datetime.fromisoformat(h.result()) >= start + timedelta(days=1, hours=1, seconds=30)


def test_seed_loop_with_100ms_sleep():
    """Seed loop: $.sleep(100) between emails -- in Python sleep(0.1) seconds."""
    app = _app()

    @app.workflow("email-campaign")
    async def camp(ctx: Context, campaign: dict) -> dict:
        recipients = await ctx.step("get-recipients", lambda: [{"id": "a"}, {"id": "b"}, {"id": "c"}])
        for r in recipients:
            await ctx.step(f"send-{r['id']}", lambda: None)
            await ctx.sleep(0.1)
        return {"sent": len(recipients)}

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("email-campaign", {"segment": "x"}).result() == {"sent": 3}


def test_wait_for_match_where_and_timeout_default():
    app = _app()

    @app.workflow("w")
    async def w(ctx: Context, e: dict) -> dict:
        ev = await ctx.wait_for(
            "Approval.decided",
            match={"expenseId": e["id"]},
            where=lambda ev: ev.get("approver") == "m",
            timeout=timedelta(hours=48),
        )
        return ev

    @app.workflow("wd")
    async def wd(ctx: Context) -> object:
        return await ctx.wait_for("Never.happens", timeout=timedelta(hours=1), default=None)

    @app.workflow("wt")
    async def wt(ctx: Context) -> str:
        try:
            await ctx.wait_for("Never.happens", timeout=timedelta(hours=1))
        except WaitTimeout:
            return "timeout"
        return "no"

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w", {"id": "e1"})
        c.send_event("Approval.decided", {"expenseId": "e2", "approver": "m"})
        c.send_event("Approval.decided", {"expenseId": "e1", "approver": "x"})
        assert h.status == "RUNNING"
        c.send_event("Approval.decided", {"expenseId": "e1", "approver": "m", "ok": True})
        assert h.result() == {"expenseId": "e1", "approver": "m", "ok": True}

        h2 = c.start("wd")
        cloud.advance(timedelta(hours=1))
        assert h2.status == "SUCCEEDED" and h2.result() is None

        h3 = c.start("wt")
        cloud.advance(timedelta(hours=2))
        assert h3.result() == "timeout"


def test_wait_for_timeout_unhandled_fails_with_waittimeout():
    app = _app()

    @app.workflow("wt")
    async def wt(ctx: Context) -> str:
        await ctx.wait_for("Never.happens", timeout=timedelta(hours=1))
        return "no"

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("wt")
        cloud.advance(timedelta(hours=1, seconds=1))
        d = c.describe(h.execution_id)
        assert d.status == "FAILED"
        assert "WaitTimeout" in d.error["type"]


def test_wait_for_lookback_and_once_per_event():
    app = _app()

    @app.workflow("two")
    async def two(ctx: Context, k: str) -> list:
        await ctx.sleep(timedelta(hours=1))
        a = await ctx.wait_for("Ping", match={"k": k}, timeout=timedelta(hours=1), default=None)
        b = await ctx.wait_for("Ping", match={"k": k}, timeout=timedelta(hours=1), default=None)
        return [a, b]

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("two", "z")
        c.send_event("Ping", {"k": "z", "n": 1})
        cloud.advance(timedelta(hours=3))
        assert h.result() == [{"k": "z", "n": 1}, None]


def test_wait_for_event_before_start_not_counted():
    app = _app()

    @app.workflow("w")
    async def w(ctx: Context) -> object:
        return await ctx.wait_for("Ping", timeout=timedelta(hours=1), default="none")

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("Ping", {"n": 0})
        cloud.advance(timedelta(minutes=1))
        h = c.start("w")
        cloud.advance(timedelta(hours=2))
        assert h.result() == "none"


def test_replay_safe_now_uuid_random():
    app = _app()

    @app.workflow("r")
    async def r(ctx: Context) -> list:
        a = (ctx.now().isoformat(), ctx.uuid(), ctx.random())
        await ctx.sleep(10)
        b = (ctx.now().isoformat(), ctx.uuid(), ctx.random())
        return [list(a), list(b)]

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("r")
        res = h.result()
        a, b = res
        assert a[1] != b[1]
        assert 0 <= a[2] < 1
        assert datetime.fromisoformat(b[0]) - datetime.fromisoformat(a[0]) >= timedelta(seconds=10)


def test_step_runs_once_across_replays():
    app = _app()
    calls = {"n": 0}

    def process():
        calls["n"] += 1
        return 1

    @app.workflow("long-running")
    async def lr(ctx: Context, data: dict) -> None:
        p = await ctx.step("process", process)
        await ctx.sleep(60)
        await ctx.step("upload", lambda: p)
        await ctx.sleep(60)
        await ctx.step("notify", lambda: None)

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("long-running", {})
        cloud.advance(timedelta(minutes=5))
        assert h.status == "SUCCEEDED"
        assert calls["n"] == 1
        assert h.result() is None


def test_progress_event_once_and_describe():
    app = _app()

    @app.workflow("tracked")
    async def tracked(ctx: Context) -> None:
        await ctx.progress(step=1, total=5)
        await ctx.step("step-1", lambda: None)
        await ctx.sleep(5)
        await ctx.progress(step=2, total=5, message="half")

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("tracked")
        assert c.describe(h.execution_id).progress == {"step": 1, "total": 5, "message": None}
        cloud.advance(10)
        assert h.status == "SUCCEEDED"
        prog = [e for e in cloud.events if e.detail_type == "Workflow.progress"]
        assert len(prog) == 2
        assert prog[1].detail["step"] == 2 and prog[1].detail["total"] == 5
        assert c.describe(h.execution_id).progress == {"step": 2, "total": 5, "message": "half"}


def test_metric_does_not_break():
    app = _app()

    @app.workflow("measured")
    async def measured(ctx: Context) -> int:
        start = ctx.now()
        r = await ctx.step("operation", lambda: 5)
        ctx.metric("duration", (ctx.now() - start).total_seconds() * 1000, unit="Milliseconds")
        ctx.metric("runs", 1)
        return r

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("measured").result() == 5


def test_children_start_child_and_child():
    app = _app()

    @app.workflow("reserve-inventory")
    async def reserve(ctx: Context, items: list) -> list:
        out = []
        for it in items:
            out.append(await ctx.step(f"reserve-{it['productId']}", lambda it=it: {"productId": it["productId"]}))
        return out

    @app.workflow("verify-email")
    async def verify_email(ctx: Context, email: str) -> bool:
        return "@" in email

    @app.workflow("parent")
    async def parent(ctx: Context, order: dict) -> dict:
        child = await ctx.start_child("reserve-inventory", order["items"])
        assert child.execution_id
        assert child.input == order["items"]
        res = await child.result()
        ok = await ctx.child(verify_email, order["email"])
        return {"res": res, "ok": ok}

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("parent", {"items": [{"productId": "p1"}], "email": "a@b"})
        assert h.result() == {"res": [{"productId": "p1"}], "ok": True}


def test_parallel_start_child_with_gather_and_data_alias():
    app = _app()

    @app.workflow("a")
    async def a(ctx: Context, x: int) -> int:
        return x

    @app.workflow("ecommerce-order")
    async def eo(ctx: Context, order: dict) -> list:
        h1, h2 = await ctx.gather(ctx.start_child("a", 1), ctx.start_child("a", 2))
        assert h1.data == 1
        r1 = await h1.result()
        r2 = await h2.result()
        return [r1, r2]

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("ecommerce-order", {}).result() == [1, 2]


def test_cancel_parent_cancels_children_and_timers():
    app = _app()

    @app.workflow("kid")
    async def kid(ctx: Context) -> None:
        await ctx.sleep(timedelta(days=1))

    @app.workflow("par")
    async def par(ctx: Context) -> None:
        h = await ctx.start_child("kid")
        await h.result()

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("par")
        kids = c.list(workflow="kid")
        assert len(kids) == 1
        c.cancel(h.execution_id)
        assert c.describe(h.execution_id).status == "CANCELLED"
        assert c.describe(kids[0].execution_id).status == "CANCELLED"
        cloud.advance(timedelta(days=2))
        assert c.describe(kids[0].execution_id).status == "CANCELLED"


def test_saga_compensate_reverse_and_cancel_compensate():
    app = _app()
    undone = []

    def comp(x):
        undone.append(x)

    @app.workflow("trip")
    async def trip(ctx: Context) -> str:
        async with ctx.saga() as saga:
            await ctx.step("a", lambda: 1)
            saga.compensate(comp, "a")
            await ctx.step("b", lambda: 2)
            saga.compensate(comp, "b")
            await ctx.wait_for("Never")
        return "ok"

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("trip")
        c.cancel(h.execution_id, compensate=True)
        cloud.run_until_idle()
        assert c.describe(h.execution_id).status == "CANCELLED"
        assert undone == ["b", "a"]


def test_step_options_timeout_retry_per_call():
    app = _app()
    n = {"c": 0}

    def flaky():
        n["c"] += 1
        if n["c"] < 3:
            raise RuntimeError("transient")
        return "ok"

    @app.workflow("api-call")
    async def api(ctx: Context, data: dict) -> str:
        return await ctx.step(
            "call-api", flaky, retry=Retry(max_attempts=3, backoff="exponential", initial_delay=1.0), timeout=30
        )

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("api-call", {}).result() == "ok"
        assert n["c"] == 3


def test_inline_step_timeout_raises_steptimeout():
    app = _app()

    async def slow():
        await asyncio.sleep(5)

    @app.workflow("timed")
    async def timed(ctx: Context) -> str:
        try:
            await ctx.step("slow-operation", slow, timeout=0.05, retry=Retry(max_attempts=1))
        except StepTimeout:
            return "timed out"
        return "no"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("timed").result() == "timed out"


def test_sync_step_functions_allowed():
    app = _app()

    @app.step
    def declared(x: int) -> int:
        return x + 1

    @app.workflow("sync")
    async def sync(ctx: Context) -> list:
        return [await ctx.step("a", declared, 1), await ctx.step("b", lambda: 3)]

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("sync").result() == [2, 3]


def test_nondeterminism_error_names_step():
    app = _app()
    flip = {"v": True}

    @app.workflow("nd")
    async def nd(ctx: Context) -> None:
        if flip["v"]:
            await ctx.step("first", lambda: 1)
        else:
            await ctx.step("second", lambda: 1)
        await ctx.sleep(10)
        await ctx.step("last", lambda: 1)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("nd")
        flip["v"] = False
        cloud.redeploy()  # new code is a deployment: its orchestrators start cold (nothing parked runs the old code)
        cloud.advance(20)
        d = c.describe(h.execution_id)
        assert d.status == "FAILED"
        assert "NonDeterminism" in d.error["type"]
        assert "first" in d.error["message"]


def test_list_by_status_and_workflow():
    app = _app()

    @app.workflow("slp")
    async def slp(ctx: Context) -> None:
        await ctx.sleep(100)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.start("slp")
        c.start("slp")
        assert len(c.list(workflow="slp", status="RUNNING")) == 2
        cloud.advance(200)
        assert len(c.list(workflow="slp", status="SUCCEEDED")) == 2
        assert len(c.list(workflow="slp", status="RUNNING")) == 0
