from __future__ import annotations

import threading
from datetime import datetime, timedelta

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud

from .contract_models import Customer


def test_step_cache_shared_across_workflows_and_canonical_json():
    app = App("c")
    calls = []

    def lookup(q):
        calls.append(q)
        return {"n": len(calls)}

    @app.workflow("a")
    async def a(ctx: Context, q: dict) -> dict:
        return await ctx.step("lookup-company", lookup, q, cache_ttl=3600)

    @app.workflow("b")
    async def b(ctx: Context, q: dict) -> dict:
        return await ctx.step("lookup-company", lookup, q, cache_ttl=3600)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        assert c.start("a", {"x": 1, "y": 2}).result() == {"n": 1}
        assert c.start("b", {"y": 2, "x": 1}).result() == {"n": 1}
        assert len(calls) == 1


def test_step_cache_failure_not_cached():
    app = App("c")
    calls = []

    def f():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("x")
        return "ok"

    @app.workflow("a")
    async def a(ctx: Context) -> str:
        try:
            return await ctx.step("s", f, cache_ttl=3600, retry=Retry(max_attempts=1))
        except RuntimeError:
            return "failed"

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        assert c.start("a").result() == "failed"
        assert c.start("a").result() == "ok"


def test_large_result_fails_clearly_or_offloads():
    app = App("c")

    @app.workflow("a")
    async def a(ctx: Context) -> int:
        r = await ctx.step("big", lambda: "x" * 500_000)
        return len(r)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("a")
        d = c.describe(h.execution_id)
        if d.status == "FAILED":
            assert "PayloadTooLarge" in d.error["type"] or "large" in d.error["message"].lower()
        else:
            assert h.result() == 500_000


def test_sync_step_runs_in_worker_thread():
    app = App("t")
    seen = {}

    def sync_fn():
        seen["step"] = threading.get_ident()
        return 1

    @app.workflow("a")
    async def a(ctx: Context) -> int:
        seen["wf"] = threading.get_ident()
        return await ctx.step("s", sync_fn)

    with LocalCloud(app, backend="memory") as cloud:
        cloud.client().start("a").result()
        assert seen["step"] != seen["wf"]


def test_deferred_start_naive_at_and_list_scheduled():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return ctx.now().isoformat()

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        at = (cloud.now() + timedelta(hours=2)).replace(tzinfo=None)
        h = c.start("w", at=at)
        assert [d.execution_id for d in c.list(status="SCHEDULED")] == [h.execution_id]
        cloud.advance(timedelta(hours=2))
        assert datetime.fromisoformat(h.result()) >= cloud.now() - timedelta(seconds=1)


def test_debounce_without_key_single_window():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context, d: dict) -> dict:
        return d

    app.on("E", w, debounce=timedelta(seconds=5))
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("E", {"k": 1})
        c.send_event("E", {"k": 2})
        cloud.advance(10)
        runs = c.list(workflow="w")
        assert len(runs) == 1 and runs[0].result == {"k": 2}


def test_http_wait_still_running_returns_status_running():
    app = App("h")

    @app.workflow("slow")
    async def slow(ctx: Context) -> str:
        await ctx.sleep(timedelta(hours=1))
        return "x"

    with LocalCloud(app, backend="memory") as cloud:
        r = cloud.http("POST", "/workflows/slow/executions", body={"input": None, "wait": 2})
        j = r.json()
        assert (j["status"] == "RUNNING" and "result" not in j) or j.get("result") is None


def test_weekly_mon_abbrev_and_schedule_timezone():
    app = App("s")

    @app.workflow("w")
    async def w(ctx: Context, i: dict) -> dict:
        return i

    @app.workflow("z")
    async def z(ctx: Context, i: dict) -> dict:
        return i

    app.every("weekly", at="09:00", on="mon", workflow=w)
    app.schedule("berlin", "30 10 * * *", z, timezone="Europe/Berlin")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        cloud.advance(timedelta(hours=1, minutes=30))  # 09:30 UTC = 10:30 Berlin (winter)
        assert len(c.list(workflow="w")) == 1
        assert len(c.list(workflow="z")) == 1


def test_trigger_typed_pydantic_input_from_detail():
    app = App("t")

    @app.workflow("onboard")
    async def onboard(ctx: Context, c: Customer) -> str:
        return c.email

    app.on("Customer.registered", onboard)
    with LocalCloud(app, backend="memory") as cloud:
        cl = cloud.client()
        cl.send_event("Customer.registered", {"email": "a@b", "name": "A"})
        assert cl.list(workflow="onboard")[0].result == "a@b"


def test_gather_children_cancel_parent_cancels_all():
    app = App("g")

    @app.workflow("kid")
    async def kid(ctx: Context, i: int) -> None:
        await ctx.wait_for("Never")

    @app.workflow("par")
    async def par(ctx: Context) -> None:
        await ctx.gather(ctx.child(kid, 1), ctx.child(kid, 2))

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("par")
        assert len(c.list(workflow="kid", status="RUNNING")) == 2
        c.cancel(h.execution_id)
        assert len(c.list(workflow="kid", status="CANCELLED")) == 2


def test_cancel_scheduled_never_runs():
    app = App("g")
    ran = []

    @app.workflow("w")
    async def w(ctx: Context) -> None:
        await ctx.step("s", lambda: ran.append(1))

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w", delay=timedelta(minutes=5))
        d = h.cancel()
        assert d.status == "CANCELLED"
        cloud.advance(timedelta(hours=1))
        assert ran == [] and h.status == "CANCELLED"


def test_saga_compensation_on_failure_in_block():
    app = App("s")
    log = []

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            async with ctx.saga() as saga:
                r = await ctx.step("reserve", lambda: "res-1")
                saga.compensate(lambda x: log.append(("release", x)), r)
                p = await ctx.step("pay", lambda: "pay-1")
                saga.compensate(lambda x: log.append(("refund", x)), p)
                raise ValueError("ship failed")
        except ValueError:
            return "compensated"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w").result() == "compensated"
        assert log == [("refund", "pay-1"), ("release", "res-1")]


def test_wait_for_nested_match():
    app = App("w")

    @app.workflow("w")
    async def w(ctx: Context) -> dict:
        return await ctx.wait_for("E", match={"a": {"b": 1}}, timeout=60)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        c.send_event("E", {"a": {"b": 2}})
        c.send_event("E", {"a": {"b": 1, "c": 3}})
        assert h.result() == {"a": {"b": 1, "c": 3}}


def test_retry_on_subclass():
    app = App("r")
    calls = []

    class Base(Exception):
        pass

    class Sub(Base):
        pass

    def f():
        calls.append(1)
        if len(calls) < 3:
            raise Sub("x")
        return "ok"

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return await ctx.step("s", f, retry=Retry(max_attempts=3, retry_on=(Base,)))

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w").result() == "ok"


def test_original_exception_reraised_in_workflow():
    app = App("r")

    def f():
        raise KeyError("missing")

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            await ctx.step("s", f, retry=Retry(max_attempts=1))
        except KeyError:
            return "keyerror"
        return "no"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w").result() == "keyerror"


def test_sync_step_may_use_asyncio_run_inline():
    """A sync step run 'in a worker thread' can call asyncio.run (common wrapper for async clients)."""
    import asyncio

    app = App("t")

    async def fetch():
        return 5

    def sync_fn():
        return asyncio.run(fetch())

    @app.workflow("a")
    async def a(ctx: Context) -> int:
        return await ctx.step("s", sync_fn, retry=Retry(max_attempts=1))

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("a").result() == 5


def test_sync_declared_step_may_use_asyncio_run():
    import asyncio

    app = App("t")

    async def fetch():
        return 6

    @app.step(retry=Retry(max_attempts=1))
    def sync_declared() -> int:
        return asyncio.run(fetch())

    @app.workflow("a")
    async def a(ctx: Context) -> int:
        return await ctx.step("s", sync_declared)

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("a").result() == 6
