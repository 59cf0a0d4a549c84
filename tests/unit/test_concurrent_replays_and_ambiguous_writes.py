"""Concurrent replays, clock skew and ambiguous writes: racing replays record an operation once and adopt
each other's records safely, time never goes backwards across containers, a write that took effect despite
an error counts as written, and one failed branch stops the replay's other writes.

Each test is the deterministic reproduction of an engine bug the issue-13 soak found with its fault kinds.

Found by ``python -m tests.soak.run`` (see docs/RELIABILITY.md, "Engine bugs the fault injection
found"); each test fails on the code before its fix.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from clockskew import MinuteBehindTwin, SkewedEffects

from stepbridge import App, Context, Retry
from stepbridge.errors import NonRetryableError
from stepbridge.local import LocalCloud
from stepbridge.local.faults import Fault, FaultPlan
from stepbridge.runtime.records import WakeMessage
from stepbridge.runtime.replay import OUTCOME_WRITE_TRIES


def test_a_sleep_passed_by_a_replay_whose_clock_was_ahead_stays_passed_for_one_whose_clock_is_behind() -> None:
    """clock.skew: a replay on a container 30 s ahead found the sleep over and went on; a replay on a
    container 30 s behind, a moment later, found it not over and suspended with later operations
    unasked for - the execution FAILED with NonDeterminismError. An execution's time must not go
    backwards: a replay's clock is at least the latest instant a replay recorded."""
    app = App("skew")

    @app.workflow("naps")
    async def naps(ctx: Context) -> str:
        await ctx.sleep(60)
        await ctx.step("a", lambda: "a")
        await ctx.sleep(60)
        return "done"

    with LocalCloud(app, backend="memory") as cloud:
        skewed = SkewedEffects(cloud.env.effects)
        cloud.env.effects = skewed
        client = cloud.client()
        h = client.start("naps")
        cloud.advance(timedelta(seconds=31))
        skewed.offset = timedelta(seconds=30)  # 08:00:31 looks like 08:01:01: the first sleep is over
        cloud.effects.wake(WakeMessage(h.execution_id, "sweep", "sweep:1"))
        cloud.run_until_idle()
        assert "a" in {r.op for r in cloud.store.load_journal(h.execution_id)}
        skewed.offset = timedelta(seconds=-30)  # 08:00:32 looks like 08:00:02
        cloud.advance(timedelta(seconds=1))
        cloud.effects.wake(WakeMessage(h.execution_id, "sweep", "sweep:2"))
        cloud.run_until_idle()
        assert client.describe(h.execution_id).status == "RUNNING"
        skewed.offset = timedelta(0)
        cloud.advance(timedelta(minutes=3))
        assert client.describe(h.execution_id).result == "done"


class Declined(NonRetryableError):
    """A business error of the step."""


def test_two_containers_racing_on_a_step_failure_record_the_compensation_once() -> None:
    """queue.visibility_expired: container A announced its claim of a declared step's final error; before
    A wrote the claim, B (the same message, its visibility timeout expired) announced and claimed it,
    then ran the compensation at the next log slot. A lost the claim, kept its own slot count (one
    behind B's) and recorded the compensation again at a free slot: two results for one operation.
    A replay that loses a claim to another orchestrator must abandon its out-of-date view."""
    app = App("race")
    ran: Counter[str] = Counter()

    @app.step(timeout=30, retry=Retry(max_attempts=1))
    def charge() -> str:
        raise Declined("card declined")

    def release() -> str:
        ran["release"] += 1
        return "released"

    @app.workflow("order")
    async def order(ctx: Context) -> str:
        async with ctx.saga() as saga:
            saga.compensate(release, name="release")
            await ctx.step("charge", charge)
        return "paid"

    second_copy = Fault(
        "queue.visibility_expired",
        target="orchestrator",
        method="append_journal",
        when=lambda method, args: args[1].key == "charge" and args[1].kind == "error",
    )
    with LocalCloud(app, backend="memory", faults=FaultPlan(script=[second_copy]), orchestrator_containers=2) as cloud:
        client = cloud.client()
        h = client.start("order")
        cloud.advance(timedelta(minutes=10))
        assert cloud.faults is not None and cloud.faults.injected["queue.visibility_expired"] == 1
        desc = client.describe(h.execution_id)
        assert desc.status == "FAILED" and desc.error is not None and "card declined" in desc.error
        finals = Counter(r.op for r in cloud.store.load_journal(h.execution_id) if r.kind == "result")
        assert finals["release"] == 1


def test_once_one_branch_hit_an_infrastructure_failure_no_other_branch_of_the_replay_writes() -> None:
    """queue.visibility_expired with crashes: in a ``ctx.map`` one branch's write failed (the invocation is
    abandoned) while another branch of the same replay went on and recorded a dispatch at the next slot,
    leaving a gap behind; a second container replaying at the same time had already recorded that dispatch
    at the gap's neighbour, so the journal held it twice. An abandoned replay must write nothing more."""
    app = App("branches")

    @app.workflow("two")
    async def two(ctx: Context) -> list[str]:
        return list(await ctx.gather(ctx.step("a", lambda: "a"), ctx.step("b", lambda: "b")))

    # An inline step's outcome write is retried in-process (replay.OUTCOME_WRITE_TRIES): throttle every try.
    throttle_a = [
        Fault(
            "throttle.dynamodb",
            target="orchestrator",
            method="append_journal",
            nth=n,
            when=lambda method, args: args[1].key == "a",
        )
        for n in range(1, OUTCOME_WRITE_TRIES + 1)
    ]
    with LocalCloud(app, backend="memory", faults=FaultPlan(script=throttle_a)) as cloud:
        client = cloud.client()
        cloud.eager = False
        h = client.start("two")
        cloud._drain_queue()  # the first replay: branch a's record is throttled (every try)
        assert cloud.faults is not None and cloud.faults.injected["throttle.dynamodb"] == OUTCOME_WRITE_TRIES
        assert {r.key for r in cloud.store.load_journal(h.execution_id)} == set()  # b wrote nothing either
        cloud.eager = True
        cloud.run_until_idle()
        assert client.describe(h.execution_id).result == ["a", "b"]
        journal = [r for r in cloud.store.load_journal(h.execution_id) if r.logged]
        assert sorted(r.seq for r in journal) == list(range(1, len(journal) + 1))  # no gap in the log


def test_map_whose_first_item_fails_after_later_items_ran_fails_with_that_items_error() -> None:
    """Found by the soak (item 0's attempts kept being lost to faults; no fault is needed to reproduce it):
    ``ctx.map`` with concurrency 2 ran items 1, 2 and 3 while item 0 waited for its retries; when item 0
    finally failed, the replay stopped starting items at the first error, never asked for the recorded
    items 2 and 3, and the execution FAILED with NonDeterminismError instead of item 0's own error."""
    app = App("mapfail")

    @app.step(timeout=20, retry=Retry(max_attempts=2, backoff="fixed", initial_delay=60, jitter=False))
    def score(v: int) -> int:
        if v == 0:
            raise ValueError("item 0 cannot be scored")
        return v * 10

    @app.workflow("scores")
    async def scores(ctx: Context) -> list[int]:
        return list(await ctx.map("score", [0, 1, 2, 3], score, concurrency=2))

    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        h = client.start("scores")
        cloud.advance(timedelta(minutes=5))
        desc = client.describe(h.execution_id)
        assert desc.status == "FAILED" and desc.error is not None
        assert desc.error["type"].endswith("ValueError") and "item 0 cannot be scored" in desc.error


def test_a_durable_write_that_took_effect_despite_an_error_counts_as_written(monkeypatch: Any) -> None:
    """Seed 22 (1 container): an inline retry record (``{op}#a{k}``, durable) was applied but reported an error;
    the in-process retry found the slot taken by that very record and adopted it without counting it as written,
    so the replay passed for one that wrote nothing and left a ``$replayed`` marker saying everything due by then
    was handled - hiding the retry's instant from the sweeper when the retry timer's wake-up was then lost."""
    app = App("adopted")
    calls: list[int] = []

    @app.workflow("flaky")
    async def flaky(ctx: Context) -> str:
        def once_failing() -> str:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("first try fails")
            return "ok"

        return str(await ctx.step("x", once_failing, retry=Retry(max_attempts=3)))

    ambiguous = [
        Fault(
            "ambiguous.write",
            target="orchestrator",
            method="append_journal",
            nth=1,
            when=lambda method, args: args[1].key == "x#a1",
        )
    ]
    from stepbridge.runtime import orchestrator

    nothing_written: list[str] = []  # replays that passed for ones that wrote nothing
    original = orchestrator.Orchestrator._mark_replayed

    def spy(self: Any, rec: Any, replay: Any, began: datetime) -> None:
        nothing_written.append(rec.execution_id)
        original(self, rec, replay, began)

    monkeypatch.setattr(orchestrator.Orchestrator, "_mark_replayed", spy)
    with LocalCloud(app, backend="memory", faults=FaultPlan(script=ambiguous)) as cloud:
        client = cloud.client()
        cloud.eager = False
        h = client.start("flaky")
        cloud._drain_queue()  # the first replay: attempt 1 fails, its record's write is ambiguous (and retried)
        assert cloud.faults is not None and cloud.faults.injected["ambiguous.write"] == 1
        keys = [r.key for r in cloud.store.load_journal(h.execution_id)]
        assert "x#a1" in keys
        assert nothing_written == []  # the replay wrote the retry record (its own write, found on the retry)


def test_a_replay_that_adopted_a_racing_twins_record_leaves_no_replayed_marker() -> None:
    """Seed 22 (1 container): two copies of a message (queue.visibility_expired) raced on an inline step's
    failed attempt; the twin, on a container whose clock was behind, recorded ``{op}#a{k}`` with a retry
    instant already past for the other copy, which adopted that record, wrote nothing itself and left a
    ``$replayed`` marker saying it had handled everything due when it began - the retry instant included.
    The retry's wake-ups were then all throttled and the sweeper, trusting the marker, never woke the
    execution. A replay whose view raced another's handled nothing on its behalf: it leaves no marker."""
    from stepbridge.runtime.sweeper import stale_since

    app = App("raced")
    calls: list[int] = []

    @app.workflow("flaky")
    async def flaky(ctx: Context) -> str:
        def once_failing() -> str:
            calls.append(1)
            if len(calls) <= 2:
                raise RuntimeError("fails")
            return "ok"

        return str(await ctx.step("x", once_failing, retry=Retry(max_attempts=5)))

    twin = MinuteBehindTwin("x#a1")
    with LocalCloud(app, backend="memory", faults=FaultPlan(script=[twin.fault])) as cloud:
        skewed = twin.install(cloud)
        client = cloud.client()
        cloud.eager = False
        cloud.advance(timedelta(minutes=5))
        h = client.start("flaky")
        cloud._drain_queue()
        assert cloud.faults is not None and cloud.faults.injected["queue.visibility_expired"] == 1
        skewed.offset = timedelta(0)
        journal = cloud.store.load_journal(h.execution_id)
        retry = next(r for r in journal if r.key == "x#a1")
        record = cloud.store.get_execution(h.execution_id)
        assert record is not None
        # Every wake-up of the retry is lost: the sweeper must still see its instant as not handled.
        since, _ = stale_since(record, journal, cloud.now())
        assert since is not None and since <= datetime.fromisoformat(str(retry.data["retry_at"]))


def test_a_shared_claim_takes_no_log_slot_that_a_racing_replay_could_fill_unnoticed() -> None:
    """Seeds 18, 21 (1 container) and 32 (3 containers): in a ``gather`` of declared steps, replay A announced
    its claim of ``score-3#a2`` at log slot 59 and stored the claim under its key with seq 60, then wrote on at
    slot 61. Slot 60 stayed free in the log: replay B (the same message redelivered), whose view ended at the
    announcement, recorded the dispatch ``score-1#d7`` there, and A, which never looked at slot 60, recorded
    the same dispatch again at 62 - the step was invoked twice for one attempt. A claim shares its
    announcement's position, so A's next write goes to slot 60 and finds B's record."""
    import pytest

    from stepbridge.infra.memory import InMemoryStore
    from stepbridge.runtime.guard import JournalConflict
    from stepbridge.runtime.records import RUNNING, ExecutionRecord, JournalRecord
    from stepbridge.runtime.replay import Replay

    class Clock:
        def now(self) -> datetime:
            return datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def replay(journal: list[JournalRecord]) -> Replay:
        return Replay(
            app=App("x"),
            execution=ExecutionRecord("e1", "wf", RUNNING),
            store=store,
            effects=Clock(),  # type: ignore[arg-type]
            journal={r.key: r for r in journal},
        )

    store = InMemoryStore()
    dispatch = JournalRecord("s#d1", "s", "step", "dispatch", {"attempt": 1}, seq=1)
    store.append_journal("e1", dispatch)
    a = replay([dispatch])
    a.log.record("s", "step", "attempt", {"error": {"type": "timeout"}}, key="s#a1", shared=True)
    (announcement,) = store.load_journal_since("e1", 1)
    b = replay([dispatch, announcement])  # read the log after the announcement, before the claim was stored
    b.log.record("t", "step", "dispatch", {"attempt": 7}, key="t#d7")
    with pytest.raises(JournalConflict):  # A's next write finds B's record instead of skipping its slot
        a.log.record("s", "step", "retry", {"attempt": 1}, key="s#r1")
    logged = [r for r in store.load_journal("e1") if r.logged]
    assert sorted(r.seq for r in logged) == list(range(1, len(logged) + 1))


def test_a_sleep_whose_record_write_was_ambiguous_still_gets_its_timer() -> None:
    """Seed 30 (1 container): the write of a 2-hour sleep's record took effect but reported an error
    (ambiguous.write); the invocation was abandoned before it set the sleep's timer, and every later replay
    found the sleep recorded and not due, and suspended - nothing would wake the execution until the sweeper
    noticed the instant had passed. A record whose timer is set after it is written (a sleep's, a wait's) is
    written durably: retried in-process at its slot, where the retry finds the record applied and goes on."""
    app = App("napper")

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        await ctx.sleep(7200)
        return "rested"

    ambiguous = Fault(
        "ambiguous.write", target="orchestrator", method="append_journal", when=lambda m, args: args[1].key == "sleep"
    )
    with LocalCloud(app, backend="memory", faults=FaultPlan(script=[ambiguous])) as cloud:
        client = cloud.client()
        cloud.eager = False
        h = client.start("nap")
        cloud._drain_queue()
        assert cloud.faults is not None and cloud.faults.injected["ambiguous.write"] == 1
        (sleep,) = [r for r in cloud.store.load_journal(h.execution_id) if r.key == "sleep"]
        assert cloud.timers.exists(str(sleep.data["timer"]))  # the sleep's wake-up is scheduled
        cloud.eager = True
        cloud.advance(timedelta(hours=2, seconds=1))
        assert client.describe(h.execution_id).result == "rested"
