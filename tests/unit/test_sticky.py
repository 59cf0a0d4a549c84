"""Sticky executions (runtime/sticky.py): park, resume without replay, evict, fall back on conflicts."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.runtime.journalcache import JournalCache
from stepbridge.runtime.sticky import sticky_default


def sticky_app(tops: Counter[str], ran: Counter[str]) -> App:
    """Workflows that count how often their body starts from the top (``tops``) and what their steps ran."""
    app = App("sticky")

    @app.step(timeout=30)
    def double(i: int) -> int:
        ran[f"double-{i}"] += 1
        return i * 2

    def cleanup() -> str:
        ran["cleanup"] += 1
        return "clean"

    @app.workflow("chain")
    async def chain(ctx: Context, n: int) -> int:
        tops["chain"] += 1
        total = 0
        for i in range(n):
            total += await ctx.step(f"s{i}", double, i)
        return total

    @app.workflow("fan")
    async def fan(ctx: Context, n: int) -> int:
        tops["fan"] += 1
        return sum(await ctx.gather(*[ctx.step(f"f{i}", double, i) for i in range(n)]))

    @app.workflow("napping")
    async def napping(ctx: Context, n: int) -> int:
        tops["napping"] += 1
        total = 0
        for i in range(n):
            await ctx.sleep(10, name=f"nap{i}")
            total += await ctx.step(f"s{i}", double, i)
        return total

    @app.workflow("guarded")
    async def guarded(ctx: Context, n: int) -> int:
        tops["guarded"] += 1
        try:
            total = 0
            for i in range(n):
                total += await ctx.step(f"s{i}", double, i)
            return total
        finally:
            await ctx.step("cleanup", cleanup)

    @app.workflow("waiter")
    async def waiter(ctx: Context) -> Any:
        tops["waiter"] += 1
        return await ctx.wait_for("order.paid", timeout=3600, default="none")

    @app.workflow("mixed")
    async def mixed(ctx: Context) -> list[Any]:
        tops["mixed"] += 1

        async def slow_inline() -> str:
            await asyncio.sleep(5)  # a loop timer (virtual time): the loop is not quiet while it runs
            return "inline"

        return list(await ctx.gather(ctx.step("remote", double, 21), ctx.step("local", slow_inline)))

    return app


def make(sticky: bool = True, **kw: Any) -> tuple[LocalCloud, Counter[str], Counter[str]]:
    tops: Counter[str] = Counter()
    ran: Counter[str] = Counter()
    cloud = LocalCloud(sticky_app(tops, ran), backend="memory", sticky=sticky, **kw)
    return cloud, tops, ran


def cache_of(cloud: LocalCloud) -> JournalCache:
    return cloud.orchestrator_caches[0]


def test_a_warm_container_resumes_a_parked_chain_without_replaying_it() -> None:
    cloud, tops, ran = make()
    with cloud:
        h = cloud.client().start("chain", 20)
        assert cloud.client().describe(h.execution_id).status == "SUCCEEDED"
        assert cloud.client().describe(h.execution_id).result == sum(2 * i for i in range(20))
        stats = cache_of(cloud).stats
    assert tops["chain"] == 1  # the body started once: 20 wake-ups went on where it waited
    assert stats["resumed"] == 20 and stats["parked"] == 20
    assert all(ran[f"double-{i}"] == 1 for i in range(20))
    assert cache_of(cloud).parked_count == 0  # the execution ended: nothing of it stays parked


def test_sticky_off_replays_from_the_top_on_every_wake_up() -> None:
    cloud, tops, _ = make(sticky=False)
    with cloud:
        h = cloud.client().start("chain", 5)
        assert cloud.client().describe(h.execution_id).result == 20
        stats = cache_of(cloud).stats
    assert tops["chain"] == 6
    assert stats["resumed"] == 0 and stats["parked"] == 0


def test_a_parked_gather_takes_every_report_and_ends_with_the_same_journal_as_a_replay() -> None:
    results = {}
    journals = {}
    for sticky in (True, False):
        cloud, tops, _ = make(sticky=sticky)
        with cloud:
            h = cloud.client().start("fan", 30)
            results[sticky] = cloud.client().describe(h.execution_id).result
            journals[sticky] = sorted(
                r.key for r in cloud.store.load_journal(h.execution_id) if not r.key.startswith("$")
            )
        if sticky:
            assert tops["fan"] == 1
    assert results[True] == results[False] == sum(2 * i for i in range(30))
    assert journals[True] == journals[False]


def test_sleeps_and_events_resume_parked_operations() -> None:
    cloud, tops, _ = make()
    with cloud:
        client = cloud.client()
        h = client.start("napping", 3)
        assert client.describe(h.execution_id).status == "RUNNING"
        assert cache_of(cloud).parked(h.execution_id) is not None
        cloud.advance(30)
        assert client.describe(h.execution_id).result == 6
        w = client.start("waiter")
        assert cache_of(cloud).parked(w.execution_id) is not None
        client.send_event("order.paid", {"id": 7})
        assert client.describe(w.execution_id).result == {"id": 7}
    assert tops["napping"] == 1 and tops["waiter"] == 1


def test_an_inline_step_on_a_loop_timer_finishes_before_the_workflow_parks() -> None:
    cloud, tops, _ = make()
    with cloud:
        h = cloud.client().start("mixed")
        first = {r.key for r in cloud.store.load_journal(h.execution_id)}
        assert "local" in first  # journaled in the first invocation: the loop was not taken for quiet
        assert cloud.client().describe(h.execution_id).result == [42, "inline"]
    assert tops["mixed"] == 1


def test_eviction_closes_the_parked_workflow_without_running_its_finally_block_twice() -> None:
    cloud, tops, ran = make()
    cache_of(cloud).max_parked = 1  # a second parked execution evicts the first
    with cloud:
        client = cloud.client()
        cloud.eager = False
        a = client.start("guarded", 3)
        b = client.start("guarded", 3)
        cloud.run_until_idle()
        assert client.describe(a.execution_id).result == 6
        assert client.describe(b.execution_id).result == 6
        stats = cache_of(cloud).stats
        for h in (a, b):
            cleanups = [r for r in cloud.store.load_journal(h.execution_id) if r.op == "cleanup"]
            assert [r.kind for r in cleanups] == ["result"]
    assert stats["unparked"] >= 1  # evictions happened: those executions replayed from the top
    assert tops["guarded"] > 2
    assert ran["cleanup"] == 2  # once per execution: the evicted workflow's finally block ran nothing


def test_a_parked_execution_someone_else_advanced_is_replayed() -> None:
    cloud, tops, _ = make(eager=False)
    with cloud:
        client = cloud.client()
        h = client.start("napping", 2)
        cloud.run_until_idle()
        home = cache_of(cloud)
        assert home.parked(h.execution_id) is not None
        # Another container handles the next wake-ups: it replays and writes the log past the parked copy.
        other = JournalCache(sticky=True)
        cloud.env.journal_cache = other
        cloud.advance(10)
        assert other.parked(h.execution_id) is not None
        cloud.env.journal_cache = home
        cloud.advance(10)
        assert client.describe(h.execution_id).result == 2
        assert home.stats["unparked"] == 1  # the stale parked workflow was closed, not resumed
    assert tops["napping"] == 3  # first run, the other container, and the replay after the conflict


def test_cancelling_a_parked_execution_ends_it_and_closes_the_parked_workflow() -> None:
    cloud, _, ran = make()
    with cloud:
        client = cloud.client()
        h = client.start("napping", 3)
        assert cache_of(cloud).parked(h.execution_id) is not None
        client.cancel(h.execution_id)
        assert client.describe(h.execution_id).status == "CANCELLED"
        assert cache_of(cloud).parked_count == 0
        assert ran["double-0"] == 0


def test_a_container_death_drops_parked_workflows() -> None:
    cloud, tops, _ = make()
    with cloud:
        client = cloud.client()
        cloud.eager = False
        h = client.start("napping", 2)
        cloud.run_until_idle()
        assert cache_of(cloud).parked_count == 1
        cloud.redeploy()
        assert cache_of(cloud).parked_count == 0
        cloud.advance(30)
        assert client.describe(h.execution_id).result == 2
    assert tops["napping"] == 2


def test_the_parked_bound_counts_waiting_operations() -> None:
    cloud, tops, _ = make(eager=False)
    cache_of(cloud).max_parked_ops = 10  # a 30-way gather waits on more than that: it is not kept parked
    with cloud:
        h = cloud.client().start("fan", 30)
        cloud.run_until_idle()
        assert cloud.client().describe(h.execution_id).result == sum(2 * i for i in range(30))
        assert cache_of(cloud).stats["unparked"] >= 1
    assert tops["fan"] > 1


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("off", False), ("1", True), ("", True)])
def test_the_switch_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("STEPBRIDGE_STICKY", value)
    assert sticky_default() is expected


def failing_app(tops: Counter[str]) -> App:
    app = App("failing")

    def boom() -> int:
        raise ValueError("boom")

    @app.workflow("gather-fails")
    async def gather_fails(ctx: Context) -> str:
        tops["gather-fails"] += 1
        try:
            await ctx.gather(ctx.sleep(3600, name="long"), ctx.step("boom", boom, retry=Retry(max_attempts=1)))
        except ValueError as exc:
            return f"caught {exc}"
        return "no error"

    def item(i: int) -> int:
        if i == 1:
            raise KeyError(f"item {i}")  # not retried
        raise RuntimeError("retried in an hour")

    @app.workflow("map-fails")
    async def map_fails(ctx: Context) -> str:
        retry = Retry(max_attempts=2, backoff="fixed", initial_delay=3600, max_delay=3600, jitter=False,
                      non_retryable=(KeyError,))
        try:
            await ctx.map("m", [0, 1, 2], item, concurrency=3, retry=retry)
        except KeyError as exc:
            return f"caught {exc}"
        return "no error"

    return app


@pytest.mark.parametrize("sticky", [True, False])
def test_a_failed_branch_is_raised_while_its_siblings_wait_as_in_a_replay(sticky: bool) -> None:
    tops: Counter[str] = Counter()
    with LocalCloud(failing_app(tops), backend="memory", sticky=sticky) as cloud:
        client = cloud.client()
        h = client.start("gather-fails")
        assert client.describe(h.execution_id).status == "SUCCEEDED"  # no hour passed: the sleep was left waiting
        assert client.describe(h.execution_id).result == "caught boom"
        m = client.start("map-fails")
        assert client.describe(m.execution_id).result == "caught 'item 1'"  # items 0 and 2 wait an hour


def test_a_parked_operation_costs_less_than_the_documented_bound() -> None:
    """journalcache.MAX_PARKED_OPS assumes 5-7 KB per waiting operation: measured here, sticky on minus off."""
    import gc
    import tracemalloc

    app = App("mem")

    @app.step(timeout=30)
    def remote(i: int) -> int:
        return i

    @app.workflow("fan")
    async def fan(ctx: Context, n: int) -> int:
        return sum(await ctx.gather(*[ctx.step(f"f{i}", remote, i) for i in range(n)]))

    n = 200
    grown = {}
    for sticky in (True, False):
        with LocalCloud(app, backend="memory", eager=False, sticky=sticky) as cloud:
            h = cloud.client().start("fan", n)
            gc.collect()
            tracemalloc.start()
            try:
                before = tracemalloc.take_snapshot()
                cloud._drain_queue()  # the first orchestrator invocation only: every branch parks
                gc.collect()
                grown[sticky] = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
            finally:
                tracemalloc.stop()
            parked = cache_of(cloud).parked(h.execution_id)
            assert (parked is not None and parked.parked_ops == n) is sticky
    per_op = (grown[True] - grown[False]) / n
    assert 500 < per_op < 12_000


class StubParked:
    """Stands in for a parked workflow in the cache's decisions."""

    def __init__(self, ops: int = 1) -> None:
        self.closed = False
        self.parked_ops = ops

    def close(self) -> None:
        self.closed = True


def test_the_cache_resumes_a_parked_execution_only_when_nobody_advanced_it() -> None:
    from stepbridge.infra.memory import InMemoryStore
    from stepbridge.runtime.records import RUNNING, ExecutionRecord, JournalRecord

    store = InMemoryStore()
    store.create_execution(ExecutionRecord("e1", "wf", RUNNING))
    store.append_journal("e1", JournalRecord("s1#d1", "s1", "step", "dispatch", seq=1))
    cache = JournalCache(sticky=True)
    parked = StubParked()
    cache.remember("e1", {r.key: r for r in store.load_journal("e1")}, parked)  # type: ignore[arg-type]
    report = JournalRecord("s1", "s1", "step", "result", {"result": 1})
    store.append_journal("e1", report)
    new, resumed = cache.load_or_resume(store, "e1", [{"key": "s1"}])
    assert resumed is parked and [r.key for r in new] == ["s1"]  # only what is new, for the parked view
    assert "e1" not in cache and cache.parked_count == 0  # taken out while it runs
    cache.remember("e1", {r.key: r for r in store.load_journal("e1")}, parked)  # type: ignore[arg-type]
    # Another container replayed and wrote the log past this copy: the parked workflow is out of date.
    store.append_journal("e1", JournalRecord("s2#d1", "s2", "step", "dispatch", seq=2))
    journal, resumed = cache.load_or_resume(store, "e1")
    assert resumed is None and parked.closed
    assert {r.key for r in journal} == {"s1#d1", "s1", "s2#d1"}  # the whole journal, for a replay


def test_the_least_recently_resumed_parked_workflow_is_closed_first_and_its_copy_kept() -> None:
    cache = JournalCache(sticky=True, max_parked=2)
    parked = [StubParked() for _ in range(3)]
    for i, p in enumerate(parked):
        cache.remember(f"e{i}", {}, p)  # type: ignore[arg-type]
    assert [p.closed for p in parked] == [True, False, False]
    assert "e0" in cache and cache.parked("e0") is None and cache.parked_count == 2
    heavy = StubParked(ops=100)
    cache.max_parked_ops = 50
    cache.remember("e3", {}, heavy)  # type: ignore[arg-type]
    assert heavy.closed and cache.parked_count == 2  # over the waiting-operations bound by itself
    cache.forget("e1")
    assert parked[1].closed
    cache.clear()
    assert parked[2].closed and cache.parked_count == 0
