from __future__ import annotations

from datetime import timedelta

from stepbridge import App, CircuitOpenError, Context
from stepbridge.local import LocalCloud
from stepbridge.patterns import Bulkhead, CircuitBreaker, with_retry


def test_circuit_breaker_opens_and_half_opens():
    app = App("p")
    breaker = CircuitBreaker("ext", threshold=2, cooldown=60, half_open_attempts=1)
    calls = []
    mode = {"fail": True}

    def ext():
        calls.append(1)
        if mode["fail"]:
            raise RuntimeError("down")
        return "up"

    @app.workflow("cb")
    async def cb(ctx: Context) -> str:
        try:
            return await breaker.call(ctx, "call-ext", ext)
        except CircuitOpenError:
            return "open"
        except RuntimeError:
            return "failed"

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        assert c.start("cb").result() == "failed"
        assert c.start("cb").result() == "failed"
        assert len(calls) == 2
        assert c.start("cb").result() == "open"
        assert len(calls) == 2
        cloud.advance(61)
        mode["fail"] = False
        assert c.start("cb").result() == "up"
        assert c.start("cb").result() == "up"
        assert len(calls) == 4


def test_circuit_breaker_defaults():
    b = CircuitBreaker("x")
    assert (b.threshold, b.cooldown, b.half_open_attempts) == (5, 60, 1)


def test_bulkhead_limits_concurrency():
    app = App("p")
    bh = Bulkhead("db", 2)

    @app.step
    def work(i: int) -> int:
        return i

    @app.workflow("bw")
    async def bw(ctx: Context, i: int) -> int:
        r = await bh.call(ctx, "work", work, i)
        return r

    with LocalCloud(app, backend="memory", eager=False) as cloud:
        c = cloud.client()
        hs = [c.start("bw", i) for i in range(5)]
        cloud.advance(600)
        assert [h.result() for h in hs] == list(range(5))


def test_bulkhead_holds_slot_while_sleeping():
    app = App("p")
    bh = Bulkhead("db", 1)

    @app.workflow("hold")
    async def hold(ctx: Context, i: int) -> str:
        async def slow_inside():
            return i

        await bh.call(ctx, "w", slow_inside)
        return ctx.now().isoformat()

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        a = c.start("hold", 1)
        b = c.start("hold", 2)
        cloud.advance(120)
        assert a.status == "SUCCEEDED" and b.status == "SUCCEEDED"


def test_with_retry():
    app = App("p")
    n = []

    def f():
        n.append(1)
        if len(n) < 3:
            raise RuntimeError("x")
        return 7

    @app.workflow("wr")
    async def wr(ctx: Context) -> int:
        return await with_retry(ctx, "f", f, max_attempts=3)

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("wr").result() == 7


def test_mock_step_records_calls():
    app = App("p")

    @app.step
    def charge(order: dict) -> dict:
        raise AssertionError("real step called")

    @app.workflow("w")
    async def w(ctx: Context, order: dict) -> dict:
        p = await ctx.step("charge-payment", charge, order)
        s = await ctx.step("create-shipment", lambda: {"id": "real"})
        return {"p": p, "s": s}

    with LocalCloud(app, backend="memory") as cloud:
        m = cloud.mock_step("charge", lambda order: {"id": "payment-123"})
        m2 = cloud.mock_step("create-shipment", {"id": "shipment-123"})
        r = cloud.client().start("w", {"o": 1}).result()
        assert r == {"p": {"id": "payment-123"}, "s": {"id": "shipment-123"}}
        assert m.calls == [({"o": 1},)] and m.call_count == 1
        assert m2.call_count == 1


def test_mock_step_exception_then_retry():
    app = App("p")

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return await ctx.step("operation", lambda: "real")

    seq = iter([RuntimeError("Transient error"), "ok"])

    def fake():
        v = next(seq)
        if isinstance(v, Exception):
            raise v
        return v

    with LocalCloud(app, backend="memory") as cloud:
        m = cloud.mock_step("operation", fake)
        assert cloud.client().start("w").result() == "ok"
        assert m.call_count == 2


def test_localcloud_now_advance_events():
    app = App("p")
    with LocalCloud(app, backend="memory") as cloud:
        t0 = cloud.now()
        cloud.advance(timedelta(days=2))
        assert cloud.now() - t0 == timedelta(days=2)
        cloud.run_until_idle()
        assert cloud.events == []


def test_localcloud_moto_default_backend():
    app = App("p")

    @app.workflow("w")
    async def w(ctx: Context) -> int:
        await ctx.sleep(timedelta(days=1))
        return 1

    with LocalCloud(app) as cloud:
        h = cloud.client().start("w")
        cloud.advance(timedelta(days=2))
        assert h.result() == 1
