"""Recovery: the sweeper wakes executions whose wake-up was lost; dead letters can be redriven."""

from __future__ import annotations

from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud


def sleeper_app() -> App:
    app = App("rec")

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        await ctx.sleep(60)
        return "awake"

    @app.step(timeout=10)
    def work() -> str:
        return "worked"

    @app.workflow("job")
    async def job(ctx: Context) -> str:
        return str(await ctx.step("work", work))

    return app


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_lost_timer_is_recovered_by_the_sweeper(backend: str) -> None:
    with LocalCloud(sleeper_app(), backend=backend) as cloud:
        client = cloud.client()
        h = client.start("nap")
        (timer,) = [t for t in cloud.timers.pending() if t.schedule is None]
        cloud.timers.cancel(timer.name)  # the Scheduler delivery is lost
        cloud.advance(120)
        assert client.describe(h.execution_id).status == "RUNNING"
        assert cloud.sweep() == []  # within the grace period nothing is touched
        cloud.advance(120)
        assert cloud.sweep() == [h.execution_id]
        assert client.describe(h.execution_id).result == "awake"


def test_lost_step_invocation_times_out_and_is_retried() -> None:
    with LocalCloud(sleeper_app(), backend="memory") as cloud:
        client = cloud.client()
        cloud.eager = False
        h = client.start("job")
        cloud._drain_queue()
        assert len(cloud._step_queue) == 1
        cloud._step_queue.clear()  # the async invoke is lost (or the Lambda died silently)
        cloud.eager = True
        assert h.result() == "worked"
        history = [e.detail_type for e in client.history(h.execution_id)]
        assert history.count("Step.dispatched") == 2 and "Step.attempt_failed" in history


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_dead_lettered_messages_can_be_redriven(backend: str) -> None:
    with LocalCloud(sleeper_app(), backend=backend) as cloud:
        client = cloud.client()
        original = cloud.store.load_journal
        broken = {"on": True}

        def failing_load(execution_id: str) -> Any:
            if broken["on"]:
                raise RuntimeError("table unavailable")
            return original(execution_id)

        cloud.store.load_journal = failing_load  # type: ignore[method-assign]
        h = client.start("job")
        assert client.describe(h.execution_id).status == "RUNNING"
        letters = cloud.dead_letters()
        assert [m["execution_id"] for m in letters] == [h.execution_id]
        broken["on"] = False
        assert cloud.redrive() == 1
        assert client.describe(h.execution_id).result == "worked"
