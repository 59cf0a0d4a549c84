"""Plain ``try``/``finally`` in workflows: cleanup belongs to the replay in which the ``try`` block ends.

A suspension unwinds the workflow by raising ``Suspend`` through user code, so ``finally:`` blocks run
at that moment; operations started there must wait for the replay that really leaves the block.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.patterns import Bulkhead


def cleanup_app(events: list[str]) -> App:
    app = App("unwind")

    @app.step(timeout=30)
    def work() -> int:
        events.append("work")
        return 1

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        try:
            await ctx.sleep(timedelta(minutes=1))
            events.append("after-sleep")
        finally:
            await ctx.step("cleanup", lambda: events.append("cleanup"))
        return "ok"

    @app.workflow("declared")
    async def declared(ctx: Context) -> int:
        try:
            return int(await ctx.step("work", work))
        finally:
            await ctx.step("cleanup", lambda: events.append("cleanup"))
            await ctx.send("Cleaned.up", {"by": "declared"})

    return app


def test_a_finally_block_runs_its_steps_when_the_sleep_is_over_not_when_the_workflow_suspends() -> None:
    events: list[str] = []
    with LocalCloud(cleanup_app(events), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("nap")
        assert events == []  # suspended in the sleep: nothing ran, nothing was journaled
        assert "cleanup" not in {e.detail.get("name") for e in client.history(h.execution_id)}
        cloud.advance(timedelta(minutes=2))
        assert h.result() == "ok"
        assert events == ["after-sleep", "cleanup"]


def test_a_finally_block_after_a_declared_step_waits_for_the_step() -> None:
    events: list[str] = []
    with LocalCloud(cleanup_app(events), backend="memory") as cloud:
        h = cloud.client().start("declared")
        assert h.result() == 1
        assert events == ["work", "cleanup"]
        assert [e.detail_type for e in cloud.events] == ["Cleaned.up"]  # published once, after the step


def test_cancelling_with_compensation_still_runs_the_finally_block() -> None:
    events: list[str] = []
    with LocalCloud(cleanup_app(events), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("nap")
        assert client.cancel(h.execution_id, compensate=True).status == "CANCELLED"
        assert events == ["cleanup"]  # a cancellation is not a suspension: the block ran, once


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_bulkhead_holds_its_slot_while_a_declared_step_is_in_flight(backend: str) -> None:
    bulkhead = Bulkhead("render", 1)
    app = App("bulk")
    seen: list[dict[str, str]] = []
    clouds: list[LocalCloud] = []

    @app.step(timeout=30)
    def render(i: int) -> int:
        seen.append(bulkhead.holders(clouds[0].store))
        return i

    @app.workflow("render-one")
    async def render_one(ctx: Context, i: int) -> int:
        return int(await bulkhead.call(ctx, "render", render, i))

    with LocalCloud(app, backend=backend, eager=False) as cloud:
        clouds.append(cloud)
        client = cloud.client()
        handles = [client.start("render-one", i, execution_id=f"r{i}") for i in range(3)]
        cloud.advance(timedelta(minutes=10))
        assert [h.result() for h in handles] == [0, 1, 2]
        assert len(seen) == 3
        assert all(len(holders) == 1 for holders in seen), seen  # never two renders at once
        assert bulkhead.holders(cloud.store) == {}  # every slot released in the end
