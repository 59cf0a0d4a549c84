"""A declared step's result taken from the step cache (``cache_ttl``) after it was dispatched is the only
record of the step however the journal is loaded, and a declared step's result enters the cache once read.

Before the ordered log, the orchestrator's cached-result record and the step worker's report both
went to ``J#{op}`` (first writer wins). Now the orchestrator's record goes to a log slot, so the
step worker's later report for the same key also lands: the journal holds two records for one key
with different values, and which one a replay sees depends on how it loaded the journal."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stepbridge import App, Context
from stepbridge.handlers import step as step_handler
from stepbridge.local import LocalCloud
from stepbridge.runtime.ports import Item
from stepbridge.runtime.records import iso
from stepbridge.runtime.steps import cache_item_key


def stamp_app(counter: list[int]) -> App:
    app = App("stamp")

    @app.step(timeout=30)
    def stamp() -> int:  # e.g. "fetch the current exchange rate": the value changes over time
        counter.append(len(counter) + 1)
        return counter[-1]

    @app.step(timeout=30)
    def other() -> int:
        return 0

    @app.step(timeout=30)
    def use(x: int) -> int:
        return x

    @app.workflow("rate")
    async def rate(ctx: Context) -> int:
        a, _ = await ctx.gather(ctx.step("fetch", stamp, cache_ttl=3600), ctx.step("other", other))
        return int(await ctx.step(f"use-{a}", use, a))

    return app


def _run_steps_of(cloud: LocalCloud, execution_id: str, op: str | None = None) -> None:
    """Deliver the queued step invokes of one execution (optionally one op) and then the work queue."""
    keep = []
    while cloud._step_queue:
        inv = cloud._step_queue.popleft()
        if inv.execution_id == execution_id and (op is None or inv.op == op):
            step_handler.handle(inv.to_dict(), cloud.env, cloud._lambda_context(inv))
            while cloud._drain_queue():
                pass
        else:
            keep.append(inv)
    cloud._step_queue.extend(keep)


@pytest.mark.parametrize("cached", [False, True])
def test_a_cached_result_recorded_after_dispatch_is_the_only_record_of_the_step(cached: bool) -> None:
    counter: list[int] = []
    with LocalCloud(stamp_app(counter), backend="memory") as cloud:
        if not cached:
            cloud.env.journal_cache = None
        client = cloud.client()
        cloud.eager = False
        e1 = client.start("rate").execution_id
        while cloud._drain_queue():
            pass  # e1 dispatches fetch and other (the step cache is empty)
        # Meanwhile another execution caches a value under the same step-cache key (e.g. an inline
        # step with the same cache_key; the store write is what it leaves behind).
        ckey = cache_item_key("fetch", [], None)
        cloud.store.put_item(
            Item(
                f"CACHE#{ckey}", "CACHE", {"result": 1, "op": "fetch"}, expires_at=iso(cloud.now() + timedelta(hours=1))
            )
        )
        counter.append(1)
        _run_steps_of(cloud, e1, "other")  # e1 resumes: fetch is taken from the step cache (value 1)
        _run_steps_of(cloud, e1, "fetch")  # e1's own fetch invocation reports too (value 2)
        if cached:
            for c in cloud.orchestrator_caches:
                c.clear()  # the next resume lands on another container
        _run_steps_of(cloud, e1)
        d = client.describe(e1)
        assert d.status == "SUCCEEDED", d.error
        journal = [r for r in cloud.store.load_journal(e1) if r.key == "fetch"]
        assert len(journal) == 1, [(r.slot, r.data) for r in journal]


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_declared_steps_result_enters_the_step_cache_once_read(backend: str) -> None:
    runs: list[int] = []
    app = App("cached-declared")

    @app.step(timeout=30)
    def lookup(n: int) -> int:
        runs.append(n)
        return n * 3

    @app.workflow("w")
    async def w(ctx: Context, n: int) -> int:
        return int(await ctx.step("lookup", lookup, n, cache_ttl=3600))

    with LocalCloud(app, backend=backend) as cloud:
        client = cloud.client()
        assert client.start("w", 4, execution_id="first").result() == 12
        assert client.start("w", 4, execution_id="second").result() == 12  # from the cache
        assert client.start("w", 5, execution_id="third").result() == 15  # other arguments: runs
        assert runs == [4, 5]
        second = [e.detail for e in client.history("second") if e.detail_type == "Step.completed"]
        assert second and second[0].get("cached") is True
