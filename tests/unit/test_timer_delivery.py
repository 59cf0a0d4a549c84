"""Timer deliveries that arrive early or twice (issue 13, reproduction 7).

EventBridge Scheduler may deliver a one-time schedule early or late (flexible windows, clock skew
between its fleet and the orchestrator's) and, like every AWS delivery, more than once. A timer
that wakes an execution before its instant must be set again, or the sleep would only end when
the sweeper next notices it (up to ``grace`` + one sweep interval late: 5 min 59 s for a 60 s
sleep in the reproduction). A duplicate delivery must change nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.local.clock import Timer

RUNS: Counter[str] = Counter()


def timer_app() -> App:
    app = App("timers")

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        await ctx.sleep(60)
        await ctx.step("after", lambda: RUNS.update(["after"]))
        return "awake"

    @app.workflow("patient")
    async def patient(ctx: Context) -> Any:
        return await ctx.wait_for("Never.happens", timeout=60, default="timed out")

    @app.step(timeout=10, retry=Retry(max_attempts=2, backoff="fixed", initial_delay=30, jitter=False))
    def flaky() -> str:
        RUNS["flaky"] += 1
        if RUNS["flaky"] == 1:
            raise RuntimeError("first attempt fails")
        return "ok"

    @app.workflow("retrying")
    async def retrying(ctx: Context) -> str:
        return str(await ctx.step("flaky", flaky))

    @app.workflow("greet")
    async def greet(ctx: Context, detail: dict[str, Any]) -> str:
        RUNS["greet"] += 1
        return f"hello {detail['name']}"

    app.on("Entity.updated", greet, debounce=timedelta(seconds=30), key="detail.name")
    return app


def _one_time_timer(cloud: LocalCloud) -> Timer:
    (timer,) = [t for t in cloud.timers.pending() if t.schedule is None]
    return timer


def _deliver_early(cloud: LocalCloud, timer: Timer, early: timedelta) -> None:
    """Scheduler fires ``timer`` ``early`` before its instant (and, as after any firing, deletes it)."""
    assert timer.message is not None
    cloud.advance_to(timer.at - early)
    cloud.timers.cancel(timer.name)
    cloud.effects.wake(timer.message)
    cloud.run_until_idle()


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_sleep_timer_delivered_one_second_early_is_rearmed_and_the_sleep_ends_on_time(backend: str) -> None:
    """Reproduction 7: a 60 s sleep whose timer arrived 1 s early finished only by way of the sweeper."""
    RUNS.clear()
    with LocalCloud(timer_app(), backend=backend) as cloud:
        client = cloud.client()
        h = client.start("nap")
        timer = _one_time_timer(cloud)
        _deliver_early(cloud, timer, timedelta(seconds=1))
        assert client.describe(h.execution_id).status == "RUNNING" and RUNS["after"] == 0
        rearmed = _one_time_timer(cloud)
        assert (rearmed.name, rearmed.at) == (timer.name, timer.at)  # the same schedule, at its instant
        cloud.advance(timedelta(seconds=1))  # no sweep: the re-armed timer ends the sleep at its instant
        assert client.describe(h.execution_id).result == "awake"
        assert RUNS["after"] == 1


def test_a_wait_timeout_delivered_early_is_rearmed() -> None:
    with LocalCloud(timer_app(), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("patient")
        _deliver_early(cloud, _one_time_timer(cloud), timedelta(seconds=5))
        assert client.describe(h.execution_id).status == "RUNNING"
        cloud.advance(timedelta(seconds=5))
        assert client.describe(h.execution_id).result == "timed out"


def test_an_inline_retry_timer_delivered_early_is_rearmed() -> None:
    RUNS.clear()
    with LocalCloud(timer_app(), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("retrying")
        assert RUNS["flaky"] == 1
        _deliver_early(cloud, _one_time_timer(cloud), timedelta(seconds=2))
        assert RUNS["flaky"] == 1  # not retried before its backoff
        cloud.advance(timedelta(seconds=2))
        assert client.describe(h.execution_id).result == "ok" and RUNS["flaky"] == 2


def test_a_deferred_start_timer_delivered_early_is_rearmed() -> None:
    RUNS.clear()
    with LocalCloud(timer_app(), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("nap", delay=timedelta(minutes=10))
        _deliver_early(cloud, _one_time_timer(cloud), timedelta(seconds=1))
        assert client.describe(h.execution_id).status == "SCHEDULED"
        cloud.advance(timedelta(seconds=1))
        assert client.describe(h.execution_id).status == "RUNNING"  # started at its instant, now sleeping


def test_a_debounce_timer_delivered_early_is_rearmed() -> None:
    """An early debounce fire was dropped for good: no sweeper looks at debounce windows."""
    RUNS.clear()
    with LocalCloud(timer_app(), backend="memory") as cloud:
        client = cloud.client()
        client.send_event("Entity.updated", {"name": "ada"})
        _deliver_early(cloud, _one_time_timer(cloud), timedelta(seconds=1))
        assert RUNS["greet"] == 0
        cloud.advance(timedelta(seconds=1))
        assert RUNS["greet"] == 1


def test_duplicate_timer_deliveries_change_nothing() -> None:
    """Every timer of a run delivered twice (before and after its work was done): each step runs once."""
    RUNS.clear()
    with LocalCloud(timer_app(), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("nap")
        timer = _one_time_timer(cloud)
        assert timer.message is not None
        cloud.advance(timedelta(seconds=60))
        assert client.describe(h.execution_id).result == "awake"
        journal = sorted(r.key for r in cloud.store.load_journal(h.execution_id))
        for _ in range(2):
            cloud.resources.resend(json.dumps(timer.message.to_dict()))  # past FIFO de-duplication
            cloud.run_until_idle()
        assert RUNS["after"] == 1
        assert sorted(r.key for r in cloud.store.load_journal(h.execution_id)) == journal
        assert [t for t in cloud.timers.pending() if t.schedule is None] == []


def test_a_duplicate_timer_delivered_while_the_sleep_is_pending_is_harmless() -> None:
    """A second delivery of a timer before its instant re-arms it at most once more (same name)."""
    RUNS.clear()
    with LocalCloud(timer_app(), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("nap")
        timer = _one_time_timer(cloud)
        _deliver_early(cloud, timer, timedelta(seconds=30))
        _deliver_early(cloud, _one_time_timer(cloud), timedelta(seconds=20))
        assert [t.name for t in cloud.timers.pending() if t.schedule is None] == [timer.name]
        cloud.advance(timedelta(seconds=30))
        assert client.describe(h.execution_id).result == "awake" and RUNS["after"] == 1


def test_an_early_timer_of_an_operation_that_already_ended_is_not_set_again() -> None:
    """A wait's timeout timer delivered early after the wait got its event: nothing to re-arm."""
    from stepbridge.runtime.lifecycle import timer_due
    from stepbridge.runtime.records import JournalRecord

    wait = JournalRecord("w", "w", "wait", "wait", {"deadline": "2026-01-05T09:00:00+00:00"}, seq=1)
    journal = {"w": wait}
    assert timer_due(journal, "w#w") is not None
    journal["w"] = JournalRecord("w", "w", "wait", "result", {"event": {}}, seq=2)
    assert timer_due(journal, "w#w") is None
