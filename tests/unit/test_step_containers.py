"""LocalCloud's warm step containers (local/stepcontainers.py): one long-lived loop per step function,
each invocation as isolated as on a fresh loop, and its event handed over as JSON as Lambda does."""

from __future__ import annotations

import asyncio
from typing import Any

from stepbridge import App, Context
from stepbridge.local import Crash, LocalCloud


def leftovers_app(seen: list[str], loops: list[int]) -> App:
    # Declared steps are invoked asynchronously (not answered in-process: runtime/stepreply.py),
    # so a test can hold one in flight.
    app = App("containers", step_reply_window=0)
    left: list[asyncio.Future[None]] = []

    @app.step(timeout=120)
    async def work(tag: str, spawn: bool) -> str:
        """Either leaves a task and a timer behind (due in 5 s) or waits 60 s (past when they would be due)."""
        loop = asyncio.get_running_loop()
        loops.append(id(loop))
        if spawn:
            async def later() -> None:
                await asyncio.sleep(5)
                seen.append(f"task of {tag}")

            left.append(asyncio.ensure_future(later()))
            loop.call_later(5, seen.append, f"timer of {tag}")
        else:
            await asyncio.sleep(60)
        return tag

    @app.step(timeout=30)
    async def other(tag: str) -> str:
        loops.append(id(asyncio.get_running_loop()))
        return tag

    @app.workflow("twice")
    async def twice(ctx: Context) -> list[str]:
        first = await ctx.step("first", work, "a", True)
        second = await ctx.step("second", work, "b", False)
        third = await ctx.step("third", other, "c")
        return [first, second, third]

    return app


def test_an_invocation_leaves_nothing_running_in_its_warm_container() -> None:
    """A task or timer a step left behind never runs, as when each invocation had a fresh loop
    (before issue 17); the container's loop is reused by the next invocation of the same function."""
    seen: list[str] = []
    loops: list[int] = []
    with LocalCloud(leftovers_app(seen, loops), backend="memory") as cloud:
        assert cloud.client().start("twice", execution_id="t").result() == ["a", "b", "c"]
        work_loop = id(cloud.step_containers.loop("work"))
        other_loop = id(cloud.step_containers.loop("other"))
    assert seen == []
    assert loops == [work_loop, work_loop, other_loop]  # one warm container per function
    assert work_loop != other_loop


def mutating_app(received: list[Any]) -> App:
    # asynchronous step invokes (runtime/stepreply.py): the test holds one in flight
    app = App("events", step_reply_window=0)

    @app.step(timeout=30)
    def grab(order: dict[str, Any]) -> int:
        received.append(order)
        order["items"].append("added by the step")  # its own copy: Lambda's event is JSON
        return len(order["items"])

    @app.workflow("one")
    async def one(ctx: Context) -> int:
        return int(await ctx.step("grab", grab, {"items": ["x"]}))

    return app


def test_the_step_gets_its_event_as_json_sharing_nothing_with_the_dispatch() -> None:
    received: list[Any] = []
    with LocalCloud(mutating_app(received), backend="memory", eager=False) as cloud:
        cloud.client().start("one", execution_id="e")
        cloud.run_until_idle()
        assert cloud.client().describe("e").result == 2
    assert received == [{"items": ["x", "added by the step"]}]


def test_the_dispatched_invocation_is_not_changed_by_the_step() -> None:
    """A second delivery of the same invoke (as Lambda may make) gets the original arguments."""
    received: list[Any] = []
    with LocalCloud(mutating_app(received), backend="memory", eager=False) as cloud:
        cloud.client().start("one", execution_id="e")
        while not cloud._step_queue:
            assert cloud._drain_queue()
        (invocation,) = cloud._step_queue
        cloud._step_queue.append(invocation)  # delivered twice: the second run gets the original event too
        cloud.run_until_idle()
        assert invocation.args == [{"items": ["x"]}]
        assert cloud.client().describe("e").result == 2
    assert received == [{"items": ["x", "added by the step"]}] * 2


def crash_app(loops: list[int], crashes: list[bool]) -> App:
    app = App("crashy")

    @app.step(timeout=30)
    async def flaky() -> str:
        loops.append(id(asyncio.get_running_loop()))
        if crashes:
            crashes.pop()
            raise Crash()  # the step's container dies
        return "ok"

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return str(await ctx.step("flaky", flaky))

    return app


def test_a_container_that_crashed_is_replaced_by_a_cold_one() -> None:
    loops: list[int] = []
    with LocalCloud(crash_app(loops, [True]), backend="memory") as cloud:
        client = cloud.client()
        client.start("w", execution_id="c")
        assert client.describe("c").status == "RUNNING" and cloud.crashes["step"] == 1
        cloud.advance(120)  # the attempt's deadline: retried in a new container
        assert client.describe("c").result == "ok"
    assert len(loops) == 2 and loops[0] != loops[1]
