"""How a step's failure reaches the workflow: by position in a gather, as its original type,
retried by base class, compensated by a saga."""

from __future__ import annotations

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud


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
