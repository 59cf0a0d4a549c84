"""A closed parked workflow is freed by reference counting, not left to the cyclic collector.

Sticky executions (runtime/sticky.py) keep a waiting workflow's loop, tasks and replay between wake-ups.
Closed, they were one reference cycle (the loop's task factory and the replay's ``parker`` point back at
the ``Parked``; each finished task's exception holds the frames it unwound, whose locals hold the task,
its futures and the replay), so every closed workflow waited for a full collection. ``LocalCloud.stop``
ran one (about 0.1 s per cloud, two minutes of the suite) because such a late collection, inside the
next test, broke the console's browser test. Here the collector is off: what close leaves must be freed
at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.runtime.sticky import Parked


@pytest.fixture
def no_collector() -> Iterator[None]:
    """The cyclic collector off (after one collection, so nothing older is pending), restored after."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parked_app(ran: list[str]) -> App:
    app = App("freed")

    @app.step(timeout=30)
    def double(i: int) -> int:
        return i * 2

    @app.workflow("waiter")
    async def waiter(ctx: Context) -> Any:
        return await ctx.wait_for("order.paid", timeout=3600, default="none")

    @app.workflow("fan")
    async def fan(ctx: Context, n: int) -> int:
        return sum(await ctx.gather(*[ctx.step(f"f{i}", double, i) for i in range(n)]))

    @app.workflow("guarded")
    async def guarded(ctx: Context) -> Any:
        try:
            return await ctx.wait_for("order.paid", timeout=3600, default="none")
        finally:
            ran.append("finally")
            await ctx.step("cleanup", lambda: "clean")

    def boom() -> None:
        raise ValueError("boom")

    async def aboom() -> None:
        raise ValueError("aboom")

    @app.workflow("failing-branch")
    async def failing_branch(ctx: Context) -> Any:
        once = Retry(max_attempts=1)
        with contextlib.suppress(ValueError):
            await ctx.step("aboom", aboom, retry=once, timeout=30)  # (async, timed: the carrier path)
        try:
            await ctx.gather(ctx.step("boom", boom, retry=once), ctx.wait_for("order.paid", timeout=3600))
        except ValueError as exc:
            caught = exc  # a local holding the exception whose traceback holds this frame
            return await ctx.wait_for("order.shipped", timeout=3600, default=str(caught))
        return None

    return app


def watch(parked: Parked) -> dict[str, weakref.ref[Any]]:
    """Weak references to what a parked workflow holds: itself, its loop, tasks, coroutines and replay."""
    refs: dict[str, weakref.ref[Any]] = {
        "parked": weakref.ref(parked),
        "loop": weakref.ref(parked.loop),
        "replay session": weakref.ref(parked.rp.session),  # (a ``Replay`` has slots and no weak references)
        "replay journal view": weakref.ref(parked.rp.log),
    }
    for i, task in enumerate(asyncio.all_tasks(parked.loop)):
        refs[f"task {i} ({task.get_coro().__qualname__})"] = weakref.ref(task)
        refs[f"coroutine {i} ({task.get_coro().__qualname__})"] = weakref.ref(task.get_coro())
    for op, futures in parked.waiting.items():
        for j, fut in enumerate(futures):
            refs[f"park future {op}/{j}"] = weakref.ref(fut)
    return refs


def alive(refs: dict[str, weakref.ref[Any]]) -> list[str]:
    return [name for name, ref in refs.items() if ref() is not None]


def parked_in(cloud: LocalCloud, execution_id: str) -> dict[str, weakref.ref[Any]]:
    parked = cloud.orchestrator_caches[0].parked(execution_id)
    assert parked is not None and not parked.closed
    return watch(parked)


Scenario = Callable[[LocalCloud, str], None]


def evict(cloud: LocalCloud, execution_id: str) -> None:
    cache = cloud.orchestrator_caches[0]
    cache.max_parked = 0
    cache.remember("other", {})  # any remember() enforces the bounds: the LRU entry is closed


def redeploy(cloud: LocalCloud, execution_id: str) -> None:
    cloud.redeploy()


def finish(cloud: LocalCloud, execution_id: str) -> None:
    cloud.client().send_event("order.paid", {"id": 1})
    cloud.client().send_event("order.shipped", {"id": 1})
    assert cloud.client().describe(execution_id).status == "SUCCEEDED"


def cancel(cloud: LocalCloud, execution_id: str) -> None:
    cloud.client().cancel(execution_id)
    assert cloud.client().describe(execution_id).status == "CANCELLED"


@pytest.mark.parametrize("how", [evict, redeploy, finish, cancel], ids=lambda f: f.__name__)
@pytest.mark.parametrize("workflow", ["waiter", "fan", "guarded", "failing-branch"])
def test_a_closed_parked_workflow_is_freed_without_the_collector(
    no_collector: None, workflow: str, how: Scenario
) -> None:
    ran: list[str] = []
    app = parked_app(ran)
    with LocalCloud(app, backend="memory", sticky=True, eager=False) as cloud:
        client = cloud.client()
        h = client.start(workflow, 20) if workflow == "fan" else client.start(workflow)
        cloud._drain_queue()  # the first invocation only: the workflow parks (a gather: every branch waits)
        refs = parked_in(cloud, h.execution_id)
        cloud.eager = True
        how(cloud, h.execution_id)
        assert alive(refs) == []
    if workflow == "guarded" and how in (evict, redeploy):
        assert ran == ["finally"]  # the close unwound the finally block once (it journaled nothing)


def test_stopping_the_cloud_frees_its_parked_workflows(no_collector: None) -> None:
    app = parked_app([])
    cloud = LocalCloud(app, backend="memory", sticky=True)
    with cloud:
        client = cloud.client()
        refs: dict[str, weakref.ref[Any]] = {}
        for workflow in ("waiter", "guarded", "failing-branch"):
            h = client.start(workflow)
            refs.update({f"{workflow}: {name}": ref for name, ref in parked_in(cloud, h.execution_id).items()})
        assert alive(refs)  # parked while the cloud runs
    assert alive(refs) == []


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_failed_inline_step_leaves_no_reference_cycle(no_collector: None, kind: str) -> None:
    """The replay path too: a failed step's exception was kept in the locals of a frame its own traceback
    holds (a sync step's worker call; an async one's timeout carrier, ``steps._Raised``, pointing back at
    it), so the step's frames and, in their locals, the replay waited for the cyclic collector."""
    app = App("failing-step")

    def boom() -> None:
        raise ValueError("boom")

    async def aboom() -> None:
        raise ValueError("boom")

    @app.workflow("caught")
    async def caught(ctx: Context) -> str:
        try:
            await ctx.step("boom", boom if kind == "sync" else aboom, retry=Retry(max_attempts=1), timeout=30)
        except ValueError as exc:
            return f"caught {exc}"
        return "no error"

    with LocalCloud(app, backend="memory", sticky=False) as cloud:
        assert cloud.client().start("caught").result() == "caught boom"
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        # (``type(o)``: a dead weak proxy in the garbage raises ReferenceError on ``isinstance``)
        cyclic = [type(o).__name__ for o in gc.garbage if issubclass(type(o), BaseException)]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert cyclic == []


def test_a_parked_workflow_closed_while_another_loop_runs_in_the_thread_unwinds_and_is_freed(
    no_collector: None,
) -> None:
    """LocalCloud delivers nested: a workflow's effect (a timer, a dispatch) runs another orchestrator invocation
    in the same thread, inside the first workflow's running loop, and that one may evict a parked workflow. Its
    loop could not run there ("Cannot run the event loop while another loop is running"): it was left suspended
    and open, its ``finally`` blocks ran whenever the collector finalized its coroutine, and ``close`` raised."""
    ran: list[str] = []
    app = parked_app(ran)
    with LocalCloud(app, backend="memory", sticky=True) as cloud:
        h = cloud.client().start("guarded")
        parked = cloud.orchestrator_caches[0].parked(h.execution_id)
        assert parked is not None
        refs = watch(parked)
        loop = parked.loop

        async def outer(closing: Parked) -> None:
            closing.close()  # (as a nested invocation's eviction does, from inside this running loop)

        asyncio.run(outer(parked))
        assert ran == ["finally"] and loop.is_closed()  # unwound now, once, and closed
        del parked, loop
        cloud.redeploy()
        assert alive(refs) == []
