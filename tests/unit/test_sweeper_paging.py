"""The sweeper reaches every unfinished execution, however many there are (issue 13, reproduction 5).

It used to check at most 10,000 executions per sweep, newest first: an old approval whose timer
was lost waited forever behind 10,000 newer waiters. Now each sweep checks a page of executions
oldest first and stores where it stopped (a cursor item in the table); the next sweep goes on
from there and wraps around at the end. Any execution is therefore checked at least once every
``ceil(unfinished / page)`` sweeps. The tests use a page of 3 instead of 10,000.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime.sweeper import CURSOR_PK, Sweeper

PAGE = 3


def waiting_app() -> App:
    app = App("crowd")

    @app.workflow("approval")
    async def approval(ctx: Context) -> str:
        await ctx.sleep(60)
        return "approved"

    @app.workflow("waiter")
    async def waiter(ctx: Context) -> object:
        return await ctx.wait_for("Decision.made")  # legitimately waiting: never woken by the sweeper

    @app.workflow("later")
    async def later(ctx: Context) -> str:
        return "started"

    return app


def _sweep(cloud: LocalCloud, page: int = PAGE) -> list[str]:
    """One sweep with a small page (as the scheduled function runs it), then deliver what it woke."""
    woken = Sweeper(cloud.env.store, cloud.env.effects, page=page).sweep()
    cloud.run_until_idle()
    return woken


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_an_old_execution_with_a_lost_timer_is_woken_behind_a_crowd_of_newer_waiters(backend: str) -> None:
    """Reproduction 5: the oldest execution's timer is lost and more than a page of newer executions wait."""
    with LocalCloud(waiting_app(), backend=backend) as cloud:
        client = cloud.client()
        old = client.start("approval", execution_id="old-approval")
        (timer,) = [t for t in cloud.timers.pending() if t.schedule is None]
        cloud.timers.cancel(timer.name)  # the Scheduler delivery is lost
        waiters = 10
        for n in range(waiters):
            cloud.advance(timedelta(seconds=1))
            client.start("waiter", execution_id=f"waiter-{n:02d}")
        cloud.advance(timedelta(minutes=3))  # the sleep is due and past the sweeper's grace
        unfinished = waiters + 1
        bound = math.ceil(unfinished / PAGE)  # the documented recovery bound, in sweeps
        for _ in range(bound):
            if client.describe(old.execution_id).status != "RUNNING":
                break
            _sweep(cloud)
        assert client.describe(old.execution_id).result == "approved"
        assert all(client.describe(f"waiter-{n:02d}").status == "RUNNING" for n in range(waiters))


def test_the_cursor_is_stored_in_the_table_and_wraps_around() -> None:
    with LocalCloud(waiting_app(), backend="memory") as cloud:
        client = cloud.client()
        for n in range(7):
            cloud.advance(timedelta(seconds=1))
            client.start("waiter", execution_id=f"waiter-{n}")
        store = cloud.store
        checked: list[list[str]] = []
        sweeper = Sweeper(cloud.env.store, cloud.env.effects, page=PAGE)
        for _ in range(4):
            sweeper.sweep()
            checked.append(list(sweeper.checked))
        assert checked == [
            ["waiter-0", "waiter-1", "waiter-2"],
            ["waiter-3", "waiter-4", "waiter-5"],
            ["waiter-6", "waiter-0", "waiter-1"],  # the end reached, the page goes on from the oldest
            ["waiter-2", "waiter-3", "waiter-4"],
        ]
        cursor = store.get_item(CURSOR_PK, "RUNNING")
        assert cursor is not None and cursor.body["after"].endswith("#waiter-4")


def test_a_page_larger_than_the_crowd_checks_each_execution_once_per_sweep() -> None:
    with LocalCloud(waiting_app(), backend="memory") as cloud:
        client = cloud.client()
        for n in range(4):
            client.start("waiter", execution_id=f"waiter-{n}")
        sweeper = Sweeper(cloud.env.store, cloud.env.effects, page=10)
        for _ in range(2):
            sweeper.sweep()
            assert sorted(sweeper.checked) == [f"waiter-{n}" for n in range(4)]


def test_scheduled_executions_are_paged_too() -> None:
    """A deferred start whose start timer was lost is found behind a crowd of later deferred starts."""
    with LocalCloud(waiting_app(), backend="memory") as cloud:
        client = cloud.client()
        first = client.start("later", execution_id="first", delay=timedelta(minutes=1))
        for n in range(7):
            client.start("later", execution_id=f"later-{n}", delay=timedelta(days=1))
        for timer in [t for t in cloud.timers.pending() if t.schedule is None]:
            if timer.at == cloud.now() + timedelta(minutes=1):
                cloud.timers.cancel(timer.name)  # the first start's timer is lost
        cloud.advance(timedelta(minutes=4))
        for _ in range(math.ceil(8 / PAGE)):
            _sweep(cloud)
        assert client.describe(first.execution_id).result == "started"
