"""The warm orchestrator's journal cache: a resume reads only what is new, and never a stale journal."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.infra.memory import InMemoryStore
from stepbridge.local import LocalCloud
from stepbridge.runtime.guard import JournalConflict
from stepbridge.runtime.journalcache import JournalCache
from stepbridge.runtime.ports import Store
from stepbridge.runtime.records import (
    ACK_OP,
    RUNNING,
    ExecutionRecord,
    JournalRecord,
    StepInvocation,
    WakeMessage,
    report_wake,
)
from stepbridge.runtime.replay import Replay
from stepbridge.runtime.sticky import Parked


def cache_app() -> App:
    app = App("cache")

    @app.step(timeout=30)
    def double(i: int) -> int:
        return i * 2

    @app.step(timeout=30, retry=Retry(max_attempts=3, backoff="fixed", initial_delay=1))
    def flaky(i: int) -> int:
        flaky.calls += 1  # type: ignore[attr-defined]
        if flaky.calls % 2:  # type: ignore[attr-defined]
            raise RuntimeError("first try fails")
        return i

    flaky.calls = 0  # type: ignore[attr-defined]

    @app.workflow("chain")
    async def chain(ctx: Context, n: int) -> int:
        total = 0
        for i in range(n):
            total += await ctx.step(f"s{i}", double, i)
        return total

    @app.workflow("fan")
    async def fan(ctx: Context, n: int) -> list[int]:
        return list(await ctx.gather(*[ctx.step(f"f{i}", double, i) for i in range(n)]))

    @app.workflow("mixed")
    async def mixed(ctx: Context, n: int) -> int:
        total = 0
        for i in range(n):
            values = await ctx.gather(ctx.step(f"a{i}", double, i), ctx.step(f"b{i}", flaky, i))
            total += sum(values)
            await ctx.sleep(5, name=f"nap{i}")
        return total

    return app


class ReadCounter:
    """Counts journal reads on a store (calls and records returned)."""

    def __init__(self, store: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.records: Counter[str] = Counter()
        for name in ("load_execution", "load_journal", "load_journal_since", "get_journal"):
            setattr(store, name, self._wrap(name, getattr(store, name)))

    def _wrap(self, name: str, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            self.calls[name] += 1
            journal = out[1] if isinstance(out, tuple) else out  # load_execution: (header, journal)
            self.records[name] += len(journal) if isinstance(journal, list) else int(journal is not None)
            return out

        return call


def run_chain(backend: str, n: int) -> tuple[ReadCounter, JournalCache, int]:
    with LocalCloud(cache_app(), backend=backend) as cloud:
        reads = ReadCounter(cloud.store)
        cache = cloud.env.journal_cache
        assert cache is not None
        result = cloud.client().start("chain", n).result()
        return reads, cache, result


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_warm_resume_reads_only_the_new_log(backend: str) -> None:
    small, cache_small, result_small = run_chain(backend, 8)
    assert cache_small.stats["hits"] == 8 and cache_small.stats["misses"] == 1
    large, cache_large, result_large = run_chain(backend, 32)
    assert result_small == sum(2 * i for i in range(8)) and result_large == sum(2 * i for i in range(32))
    # One whole-journal read per execution (the first wake-up, with the header; the client's result read is not a
    # journal read) ...
    assert small.calls["load_execution"] == large.calls["load_execution"] == 1
    assert small.calls["load_journal"] == large.calls["load_journal"] == 0
    # ... every later resume is a cache hit that reads just the log past what it knows ...
    assert cache_large.stats["hits"] == 32 and cache_large.stats["misses"] == 1
    # ... and the step results arrive inside their wake-ups: no per-record reads.
    assert large.calls["get_journal"] == 0
    per_resume_small = small.records["load_journal_since"] / small.calls["load_journal_since"]
    per_resume_large = large.records["load_journal_since"] / large.calls["load_journal_since"]
    assert per_resume_small == per_resume_large == 0  # nobody else wrote: the range is empty each time


def test_without_a_cache_every_resume_reads_the_whole_journal() -> None:
    with LocalCloud(cache_app(), backend="memory") as cloud:
        cloud.env.journal_cache = None
        reads = ReadCounter(cloud.store)
        assert cloud.client().start("chain", 10).result() == 90
        assert reads.calls["load_execution"] == 11 and reads.calls["load_journal_since"] == 0
        assert reads.calls["load_journal"] == 0  # (each read with the header)
        # 1 + 2 + ... records: quadratic in the number of steps
        assert reads.records["load_execution"] > 10 * 10


def trickle(
    cloud: LocalCloud,
    execution_id: str,
    run_step: Callable[[LocalCloud, StepInvocation], None] | None = None,
    limit: int = 2000,
) -> None:
    """Deliver like AWS under load: each step's report resumes the orchestrator before the next step runs
    (``run_until_idle`` runs every queued step first, so a gather would see all its reports at once).

    ``run_step`` runs one step invocation (default: the step handler, as LocalCloud does); after
    ``limit`` deliveries the execution counts as stuck.
    """
    from stepbridge.handlers import step as step_handler

    cloud.eager = False
    for _ in range(limit):
        if cloud._step_queue:
            inv = cloud._step_queue.popleft()
            if run_step is None:
                step_handler.handle(inv.to_dict(), cloud.env, cloud._lambda_context(inv))
            else:
                run_step(cloud, inv)
            cloud._drain_queue()
        elif cloud._drain_queue():
            continue
        else:
            rec = cloud.store.get_execution(execution_id)
            assert rec is not None
            if rec.status != RUNNING:
                return
            nxt = cloud.timers.peek(one_time_only=True)
            assert nxt is not None, "the execution waits for nothing"
            cloud.clock.set(nxt.at)
            fired = cloud.timers.pop_due(cloud.clock.now())
            assert fired is not None
            cloud._fire(fired)
    raise AssertionError("did not finish")


class SwitchingCache(JournalCache):
    """Two warm containers taking turns: each resume lands on the other one's (stale) copy."""

    def __init__(self) -> None:
        super().__init__()
        self.containers = [JournalCache(), JournalCache()]
        self.turn = 0

    def cold(self, execution_id: str) -> bool:
        return self.containers[(self.turn + 1) % 2].cold(execution_id)  # the container whose turn comes next

    def load_or_resume(
        self,
        store: Store,
        execution_id: str,
        reports: Iterable[dict[str, Any]] = (),
        *,
        resume: bool = True,
        journal: list[JournalRecord] | None = None,
    ) -> tuple[list[JournalRecord], Parked | None]:
        self.turn += 1
        return self.containers[self.turn % 2].load_or_resume(
            store, execution_id, reports, resume=resume, journal=journal
        )

    def remember(
        self, execution_id: str, journal: dict[str, JournalRecord], parked: Parked | None = None, **sizes: Any
    ) -> None:
        self.containers[self.turn % 2].remember(execution_id, journal, parked, **sizes)

    def forget(self, execution_id: str, *, keep: Parked | None = None) -> None:
        for c in self.containers:
            c.forget(execution_id, keep=keep)


@pytest.mark.parametrize("workflow", ["chain", "fan", "mixed"])
def test_containers_taking_turns_never_replay_a_stale_journal(workflow: str) -> None:
    expected = {"chain": 2 * sum(range(6)), "fan": [2 * i for i in range(6)], "mixed": 3 * sum(range(6))}[workflow]
    with LocalCloud(cache_app(), backend="memory") as cloud:
        switching = SwitchingCache()
        cloud.env.journal_cache = switching
        client = cloud.client()
        cloud.eager = False
        h = client.start(workflow, 6)
        trickle(cloud, h.execution_id)
        assert client.describe(h.execution_id).status == "SUCCEEDED"
        assert client.describe(h.execution_id).result == expected
        journal = cloud.store.load_journal(h.execution_id)
        ops = [r for r in journal if not r.op.startswith("$")]
        assert len({r.key for r in ops}) == len(ops)  # no operation recorded twice
        # both containers really resumed from their own copies
        assert all(c.stats["hits"] > 0 for c in switching.containers)
        # every report except those the finishing replay read is named by a log record, so a copy catches up
        acked = {k for r in journal for k in r.acks}
        assert len({r.key for r in journal if r.foreign} - acked) <= 1


def test_a_gather_that_consumes_a_report_without_writing_acknowledges_it_in_the_log() -> None:
    with LocalCloud(cache_app(), backend="memory") as cloud:
        client = cloud.client()
        cloud.eager = False
        h = client.start("fan", 3)
        trickle(cloud, h.execution_id)
        assert client.describe(h.execution_id).result == [0, 2, 4]
        journal = cloud.store.load_journal(h.execution_id)
        acks = [r for r in journal if r.op == ACK_OP]
        # results f0 and f1 each resumed a gather that still waited: nothing else was written then
        assert acks and all(r.logged and r.acks for r in acks)
        assert {k for r in journal for k in r.acks} == {"f0", "f1"}  # f2 was read by the finishing replay
        history = client.history(h.execution_id)
        assert ACK_OP not in {e.detail.get("name") for e in history if isinstance(e.detail, dict)}
        assert not any("ack" in e.detail_type.lower() for e in history)


def test_a_sweeper_wake_reads_the_whole_journal() -> None:
    store = InMemoryStore()
    cache = JournalCache()
    store.create_execution(ExecutionRecord("e1", "wf", RUNNING))
    store.append_journal("e1", JournalRecord("s1#d1", "s1", "step", "dispatch", seq=1))
    cache.remember("e1", {r.key: r for r in store.load_journal("e1")})
    lost = JournalRecord("s1", "s1", "step", "result", {"result": 1})
    store.append_journal("e1", lost)  # the step reported, but its wake-up was lost
    assert "s1" not in {r.key for r in cache.load(store, "e1")}  # nothing announced it
    cache.remember("e1", {r.key: r for r in store.load_journal("e1") if r.key != "s1"})
    from stepbridge.runtime.orchestrator import Orchestrator

    orch = Orchestrator(App("x"), store, effects=None, cache=cache)  # type: ignore[arg-type]
    record = store.get_execution("e1")
    assert record is not None
    loaded, parked = orch._load(record, WakeMessage("e1", "sweep", "sweep:1"))
    assert parked is None
    assert "s1" in {r.key for r in loaded}


def test_reports_in_the_wake_up_spare_the_read_and_keys_alone_are_read() -> None:
    store = InMemoryStore()
    cache = JournalCache()
    store.append_journal("e1", JournalRecord("s1#d1", "s1", "step", "dispatch", seq=1))
    cache.remember("e1", {r.key: r for r in store.load_journal("e1")})
    won = JournalRecord("s1", "s1", "step", "result", {"result": 7})
    store.append_journal("e1", won)
    reads = ReadCounter(store)
    inline = report_wake("e1", "step", "d", won, won=True).reports
    assert inline[0]["record"]["data"] == {"result": 7}
    loaded = {r.key: r for r in cache.load(store, "e1", inline)}
    assert loaded["s1"].data == {"result": 7} and reads.calls["get_journal"] == 0
    cache.remember("e1", {"s1#d1": loaded["s1#d1"]})
    ambiguous = report_wake("e1", "step", "d", won, won=False).reports
    assert "record" not in ambiguous[0]
    loaded = {r.key: r for r in cache.load(store, "e1", ambiguous)}
    assert loaded["s1"].data == {"result": 7} and reads.calls["get_journal"] == 1


def _replay(store: InMemoryStore, journal: list[JournalRecord]) -> Replay:
    return Replay(
        app=App("x"),
        execution=ExecutionRecord("e1", "wf", RUNNING),
        store=store,
        effects=_Clock(),  # type: ignore[arg-type]
        journal={r.key: r for r in journal},
    )


class _Clock:
    def now(self) -> Any:
        from datetime import UTC, datetime

        return datetime(2026, 1, 1, tzinfo=UTC)


def test_a_replay_from_a_stale_view_conflicts_instead_of_forking_the_log() -> None:
    store = InMemoryStore()
    base = [JournalRecord("a", "a", "step", "result", {"result": 1}, seq=1)]
    store.append_journal("e1", base[0])
    first = _replay(store, base)
    first.log.record("b", "step", "result", {"result": 2})
    stale = _replay(store, base)  # began from the same journal, then took another path
    with pytest.raises(JournalConflict, match="log slot 2 holds 'b'"):
        stale.log.record("c", "step", "result", {"result": 3})
    twin = _replay(store, base)  # a redelivered message replaying the same path adopts the first record
    assert twin.log.record("b", "step", "result", {"result": 99}).data == {"result": 2}


def test_a_shared_claim_is_announced_in_the_log_before_it_is_made() -> None:
    store = InMemoryStore()
    dispatch = JournalRecord("s#d1", "s", "step", "dispatch", seq=1)
    store.append_journal("e1", dispatch)
    report = JournalRecord("s#a1", "s", "step", "attempt", {"error": {"type": "x"}})
    store.append_journal("e1", report)  # the step's own report won the key
    rp = _replay(store, [dispatch])
    won = rp.log.record("s", "step", "attempt", {"error": {"type": "timeout"}}, key="s#a1", shared=True)
    assert won.data == {"error": {"type": "x"}}  # the report is adopted
    (announcement,) = store.load_journal_since("e1", 1)
    assert announcement.op == ACK_OP and announcement.acks == ["s#a1"] and announcement.seq == 2


def test_the_cache_is_bounded() -> None:
    cache = JournalCache(max_executions=2, max_records=5)
    for i in range(3):
        cache.remember(f"e{i}", {"k": JournalRecord("k", "k", "step", "result", seq=1)})
    assert len(cache) == 2 and "e0" not in cache
    cache.remember("big", {f"k{i}": JournalRecord(f"k{i}", "k", "step", "result", seq=i + 1) for i in range(5)})
    assert "big" in cache and len(cache) == 1  # the others were dropped to stay within 5 records


def test_the_cache_is_bounded_in_bytes_and_skips_journals_larger_than_its_budget() -> None:
    store = InMemoryStore()
    big = JournalRecord("s", "s", "step", "result", {"result": "x" * 300_000}, seq=1)
    store.append_journal("e1", big)
    (loaded,) = store.load_journal("e1")
    assert loaded.size > 300_000  # the stores report what they read
    cache = JournalCache(max_bytes=1_000_000)
    for i in range(4):
        cache.remember(f"e{i}", {"s": loaded})
    assert len(cache) == 3 and "e0" not in cache  # 4 x 300 KB would pass the 1 MB budget
    cache.remember("huge", {f"k{i}": loaded for i in range(4)})
    assert "huge" not in cache  # bigger than the whole budget: not kept at all


def test_the_step_worker_reads_the_header_eventually_consistently_and_the_orchestrator_consistently() -> None:
    with LocalCloud(cache_app(), backend="moto") as cloud:
        seen: list[tuple[str, bool]] = []

        def capture(params: dict[str, Any], **_: Any) -> None:
            if params.get("Key", {}).get("sk", {}).get("S") == "META":
                seen.append((current[0], bool(params.get("ConsistentRead"))))

        current = [""]
        from stepbridge.handlers import step as step_handler

        original = step_handler.handle

        def tagged(*args: Any, **kwargs: Any) -> Any:
            current[0] = "step"
            try:
                return original(*args, **kwargs)
            finally:
                current[0] = ""

        cloud.store.client.meta.events.register("provide-client-params.dynamodb.GetItem", capture)  # type: ignore[attr-defined]
        step_handler.handle = tagged  # type: ignore[assignment]
        try:
            assert cloud.client().start("chain", 3).result() == 6
        finally:
            step_handler.handle = original  # type: ignore[assignment]
        by_step = [consistent for who, consistent in seen if who == "step"]
        others = [consistent for who, consistent in seen if who != "step"]
        assert by_step == [False, False, False]  # one advisory read per declared step
        assert others and all(others)  # the orchestrator (and the client) decide on consistent reads


def test_a_batch_is_replayed_once_per_execution_with_every_report_it_announces() -> None:
    import json

    from stepbridge.handlers.orchestrator import _group
    from stepbridge.runtime.messages import message_group

    a = report_wake("e1", "step", "d1", JournalRecord("s1", "s1", "step", "result", {"result": 1}), won=True)
    b = report_wake("e1", "step", "d2", JournalRecord("s2", "s2", "step", "result", {"result": 2}), won=False)
    sweep = WakeMessage("e1", "sweep", "sweep:1")
    sched = WakeMessage("$schedule:daily", "schedule", "t", {"schedule": "daily", "scheduled_time": "t"})
    records = [
        {"messageId": f"m{i}", "body": json.dumps(m.to_dict())} for i, m in enumerate([a, sched, b, sweep, sched])
    ]
    records.append({"messageId": "bad", "body": "not json"})
    groups = _group(records)
    assert [(message_group(m), m.to_dict()["reason"], ids) for m, ids in groups] == [
        ("e1", "sweep", ["m0", "m2", "m3"]),  # a sweep among them: the replay reads the whole journal
        ("$schedule:daily", "schedule", ["m1"]),
        ("$schedule:daily", "schedule", ["m4"]),
    ]
    merged = groups[0][0]
    assert isinstance(merged, WakeMessage)
    assert [r["key"] for r in merged.reports] == ["s1", "s2"]
    assert "record" in merged.reports[0] and "record" not in merged.reports[1]
