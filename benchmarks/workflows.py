"""The stepbridge side of every benchmark: one small app whose workflows mirror the anchors' shapes."""

from __future__ import annotations

from datetime import timedelta

from stepbridge import App, Context

#: Event type the wait_for benchmarks wait on.
PING = "Bench.ping"
#: Event type the send benchmark publishes (nothing waits for it; the router still logs it).
SENT = "Bench.sent"


def inc(x: int) -> int:
    """The work of one step: trivially cheap, so the framework's overhead is what is measured."""
    return x + 1


async def inc_async(x: int) -> int:
    """The same work as an ``async def`` step function: runs on the workflow's loop, no worker thread."""
    return x + 1


def add(x: int, y: int) -> int:
    """The work of one step of the throughput workflow."""
    return x + y


def build_app(name: str = "bench") -> App:
    """An app with every benchmark workflow (a fresh App each call: steps belong to one app)."""
    app = App(name)

    def remote_inc(x: int) -> int:
        """A declared step: runs in its own Lambda (LocalCloud: the step handler, in-process)."""
        return x + 1

    remote_inc = app.step(timeout=30, memory=256)(remote_inc)

    @app.workflow("noop")
    async def noop(ctx: Context) -> str:
        return "ok"

    @app.workflow("one-step")
    async def one_step(ctx: Context) -> int:
        result: int = await ctx.step("s0", inc, 0)
        return result

    @app.workflow("seq")
    async def seq(ctx: Context, n: int) -> int:
        x = 0
        for i in range(n):
            x = await ctx.step(f"s{i}", inc, x)
        return x

    @app.workflow("seq-async")
    async def seq_async(ctx: Context, n: int) -> int:
        x = 0
        for i in range(n):
            x = await ctx.step(f"s{i}", inc_async, x)
        return x

    @app.workflow("declared-seq")
    async def declared_seq(ctx: Context, n: int) -> int:
        x = 0
        for i in range(n):
            x = await ctx.step(f"d{i}", remote_inc, x)
        return x

    @app.workflow("fan")
    async def fan(ctx: Context, n: int) -> int:
        results = await ctx.gather(*[ctx.step(f"f{i}", remote_inc, i) for i in range(n)])
        return sum(results)

    @app.workflow("sleeper")
    async def sleeper(ctx: Context) -> str:
        await ctx.sleep(timedelta(hours=1))
        return "woke"

    @app.workflow("sleeps")
    async def sleeps(ctx: Context, n: int) -> int:
        for i in range(n):
            await ctx.sleep(timedelta(hours=1), name=f"z{i}")
        return n

    @app.workflow("waits")
    async def waits(ctx: Context, n: int) -> int:
        for i in range(n):
            await ctx.wait_for(PING, match={"key": f"{ctx.execution_id}-{i}"}, name=f"w{i}")
        return n

    @app.workflow("sends")
    async def sends(ctx: Context, n: int) -> int:
        for i in range(n):
            await ctx.send(SENT, {"i": i}, name=f"e{i}")
        return n

    @app.workflow("child-noop")
    async def child_noop(ctx: Context, i: int) -> int:
        return i

    @app.workflow("children")
    async def children(ctx: Context, n: int) -> int:
        total = 0
        for i in range(n):
            total += int(await ctx.child("child-noop", i, name=f"c{i}"))
        return total

    @app.workflow("five")
    async def five(ctx: Context, x: int) -> int:
        for i in range(5):
            x = await ctx.step(f"s{i}", add, x, i)
        return x

    return app


def build_schedule_app(name: str = "benchtick") -> App:
    """An app with one hourly schedule whose workflow does nothing (the cost of a schedule firing)."""
    app = App(name)

    @app.workflow("tick")
    async def tick(ctx: Context, payload: dict[str, str]) -> str:
        return payload.get("scheduled_time", "")

    app.schedule("bench-tick", "0 * * * *", tick)
    return app
