"""The sweeper finds every execution whose last replay died half-way (issue 13, reproduction 2).

A replay handles every instant that is due when it runs. If it dies after handling some of them
(and its redeliveries end in the dead-letter queue), the instants it did not get to must still
look unprocessed to the sweeper. The sweeper used to take the latest replay's time as "processed
up to here" for every instant, so an execution whose replay wrote one record and died stayed
RUNNING for good (the soak's lost executions).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.local.faults import Fault, FaultPlan
from stepbridge.runtime.lifecycle import FAILED, FINISHED, NOT_DISPATCHED, RETRY_WAIT, RUNNING
from stepbridge.runtime.operations.declared import DeclaredStep
from stepbridge.runtime.records import ACK_OP, ExecutionRecord, JournalRecord
from stepbridge.runtime.records import RUNNING as STATUS_RUNNING
from stepbridge.runtime.sweeper import stale_since


def pair_app() -> App:
    app = App("pair")

    @app.step(timeout=10, retry=Retry(max_attempts=2, backoff="fixed", initial_delay=1, jitter=False))
    def left() -> str:
        return "L"

    @app.step(timeout=10, retry=Retry(max_attempts=2, backoff="fixed", initial_delay=1, jitter=False))
    def right() -> str:
        return "R"

    @app.workflow("pair")
    async def pair(ctx: Context) -> Any:
        return await ctx.gather(ctx.step("a", left), ctx.step("b", right))

    @app.workflow("nap-pair")
    async def nap_pair(ctx: Context) -> Any:
        async def nap_then_step() -> Any:
            await ctx.sleep(70)
            return await ctx.step("c", lambda: "C")

        return await ctx.gather(nap_then_step(), ctx.step("b", right), ctx.wait_for("Never.happens"))

    return app


def _dead_lettered_after(key: str) -> tuple[list[Fault], dict[str, bool]]:
    """The replay dies right after writing ``key``, and every later orchestrator write dies too (so the
    wake-ups of that instant end in the dead-letter queue) until the test turns ``dying["on"]`` off."""
    dying = {"on": False}

    def wrote_key(method: str, args: tuple[Any, ...]) -> bool:
        dying["on"] = dying["on"] or args[1].key == key
        return args[1].key == key

    first = Fault("crash.after_write", target="orchestrator", method="append_journal", when=wrote_key)
    again = [
        Fault("crash.before_write", target="orchestrator", method="append_journal", nth=n, when=lambda *_: dying["on"])
        for n in range(1, 40)
    ]
    return [first, *again], dying


def _sweep_for(cloud: LocalCloud, execution_id: str, hours: float) -> str:
    """Sweep every 5 minutes (the template's schedule) until the execution ends or ``hours`` pass."""
    client = cloud.client()
    for _ in range(int(hours * 12)):
        status = client.describe(execution_id).status
        if status != "RUNNING":
            return status
        cloud.advance(timedelta(minutes=5))
        cloud.sweep()
    return client.describe(execution_id).status


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_gather_of_two_timed_out_steps_whose_deadline_replay_died_after_one_attempt_record_is_swept(
    backend: str,
) -> None:
    """Reproduction 2: ``a#a1`` written at the shared deadline, then the replay died and its wake-ups were
    dead-lettered; after 24 h of sweeps the execution was still RUNNING (only a redrive finished it)."""
    dying_faults, dying = _dead_lettered_after("a#a1")
    script = [Fault("step.timeout", target="step", nth=1), Fault("step.timeout", target="step", nth=2), *dying_faults]
    with LocalCloud(pair_app(), backend=backend, faults=FaultPlan(script=script)) as cloud:
        client = cloud.client()
        h = client.start("pair")
        cloud.advance(timedelta(seconds=71))  # both deadlines (10 s + 60 s grace) pass together
        dying["on"] = False
        journal = {r.key: r for r in cloud.store.load_journal(h.execution_id)}
        assert "a#a1" in journal and "b#a1" not in journal  # the replay died half-way
        # (b, the invocation's second dispatch, is timed by the timer its dispatches share: runtime/stepcover.py)
        assert sorted(m["dedup"] for m in cloud.dead_letters()) == ["timer:$cover:b#d1", "timer:a#d1"]
        status = _sweep_for(cloud, h.execution_id, hours=24 if backend == "memory" else 1)
        assert status == "SUCCEEDED"
        assert client.describe(h.execution_id).result == ["L", "R"]


def test_a_passed_sleep_is_unprocessed_when_the_replay_died_on_a_concurrent_branch() -> None:
    """A sleep ends silently (it writes nothing); a record of another branch written after it must not
    stand for it: the replay at 70 s wrote ``b#a1`` and died before the sleeping branch went on."""
    dying_faults, dying = _dead_lettered_after("b#a1")
    script = [Fault("step.timeout", target="step", nth=1), *dying_faults]
    # (a replay's order: the sleeping branch's next step waits for the other branches to catch up, so ``b#a1`` is
    # written first; a parked workflow - sticky executions - has nothing to catch up and writes ``c`` first)
    with LocalCloud(pair_app(), backend="memory", faults=FaultPlan(script=script), sticky=False) as cloud:
        client = cloud.client()
        h = client.start("nap-pair")
        cloud.advance(timedelta(seconds=71))
        dying["on"] = False
        journal = {r.key: r for r in cloud.store.load_journal(h.execution_id)}
        assert "b#a1" in journal and "c" not in journal
        assert len(cloud.dead_letters()) == 2
        for _ in range(6):
            cloud.advance(timedelta(minutes=5))
            cloud.sweep()
        journal = {r.key: r for r in cloud.store.load_journal(h.execution_id)}
        assert journal["c"].data["result"] == "C" and journal["b"].data["result"] == "R"


def test_a_waiting_execution_whose_sleep_passed_is_not_woken_again() -> None:
    """The sleep's end rides on the next record the replay writes (no extra write), so an execution
    that slept and now waits for an event is left alone by every later sweep."""
    with LocalCloud(pair_app(), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("nap-pair")
        cloud.advance(timedelta(seconds=70))
        journal = {r.key: r for r in cloud.store.load_journal(h.execution_id)}
        assert journal["c"].data["result"] == "C"
        assert not any(r.key == "$replayed" for r in journal.values())
        writes = len(journal)
        for _ in range(4):
            cloud.advance(timedelta(minutes=5))
            assert cloud.sweep() == []
        assert len(cloud.store.load_journal(h.execution_id)) == writes


# ---- the pure functions ------------------------------------------------------------------------------


def _at(minute: int, second: int = 0) -> str:
    return f"2026-01-05T08:{minute:02d}:{second:02d}.000000+00:00"


def _rec(key: str, kind: str, at: str, seq: int, **data: Any) -> JournalRecord:
    return JournalRecord(key, key.split("#")[0], "step", kind, dict(data), at=at, seq=seq)


HEADER = ExecutionRecord("e1", "wf", STATUS_RUNNING, started_at=_at(0))
NOW = datetime(2026, 1, 5, 8, 10, tzinfo=UTC)


def test_an_attempt_record_of_one_step_does_not_process_the_other_steps_deadline() -> None:
    journal = [
        _rec("a#d1", "dispatch", _at(0), 1, deadline=_at(1, 10)),
        _rec("b#d1", "dispatch", _at(0), 2, deadline=_at(1, 10)),
        JournalRecord(f"{ACK_OP}#3", ACK_OP, "ack", "announce", at=_at(1, 10), seq=3, acks=["a#a1"]),
        JournalRecord("a#a1", "a", "step", "attempt", {"attempt": 1}, at=_at(1, 10), seq=4, shared=True),
    ]
    since, idle = stale_since(HEADER, journal, NOW)
    assert since == datetime(2026, 1, 5, 8, 1, 10, tzinfo=UTC) and not idle


def test_a_sleep_is_processed_by_the_record_that_carries_its_end() -> None:
    sleep = JournalRecord("nap", "nap", "sleep", "timer", {"wake_at": _at(1)}, at=_at(0), seq=1)
    other = _rec("b#d1", "dispatch", _at(1), 2, deadline=_at(30))
    assert stale_since(HEADER, [sleep, other], NOW)[0] == datetime(2026, 1, 5, 8, 1, tzinfo=UTC)
    carried = _rec("b#d1", "dispatch", _at(1), 2, deadline=_at(30))
    carried.passed = ["nap"]
    assert stale_since(HEADER, [sleep, carried], NOW) == (None, False)


def test_the_engine_and_the_sweeper_read_a_declared_step_through_one_function() -> None:
    records: dict[str, JournalRecord] = {}
    assert DeclaredStep.state("a", records).phase == NOT_DISPATCHED
    records["a#d1"] = _rec("a#d1", "dispatch", _at(0), 1, deadline=_at(1, 10))
    assert DeclaredStep.state("a", records).phase == RUNNING
    records["a#a1"] = _rec("a#a1", "attempt", _at(1, 10), 2)
    state = DeclaredStep.state("a", records)
    assert (state.phase, state.attempt, state.failure) == (FAILED, 1, records["a#a1"])
    records["a#r1"] = _rec("a#r1", "retry", _at(1, 10), 3, retry_at=_at(1, 11))
    assert DeclaredStep.state("a", records).phase == RETRY_WAIT
    records["a#d2"] = _rec("a#d2", "dispatch", _at(1, 11), 4, deadline=_at(2, 21))
    assert (DeclaredStep.state("a", records).phase, DeclaredStep.state("a", records).attempt) == (RUNNING, 2)
    records["a"] = JournalRecord("a", "a", "step", "result", {"result": 1})
    assert DeclaredStep.state("a", records).phase == FINISHED


# ---- an operation only a replay can move on, beside a branch that waits for an event -----------------


def branches_app() -> App:
    app = App("branches")

    @app.step(timeout=10, retry=Retry(max_attempts=2, backoff="fixed", initial_delay=1, jitter=False))
    def left() -> str:
        return "L"

    @app.workflow("declared-and-wait")
    async def declared_and_wait(ctx: Context) -> Any:
        return await ctx.gather(ctx.step("a", left), ctx.wait_for("Go.ahead"))

    @app.workflow("inline-and-wait")
    async def inline_and_wait(ctx: Context) -> Any:
        return await ctx.gather(
            ctx.wait_for("Go.ahead"),
            ctx.step("c", lambda: "C", retry=Retry(max_attempts=2, backoff="fixed", initial_delay=1, jitter=False)),
        )

    return app


def test_a_declared_step_failure_recorded_by_a_dead_replay_is_swept_while_another_branch_waits() -> None:
    """Its replay recorded ``a#a1`` and died (wake-ups dead-lettered); the other branch waits for an event
    without a timeout, so the execution is not "waiting for nothing" - yet only a replay can retry ``a``."""
    dying_faults, dying = _dead_lettered_after("a#a1")
    script = [Fault("step.timeout", target="step", nth=1), *dying_faults]
    with LocalCloud(branches_app(), backend="memory", faults=FaultPlan(script=script)) as cloud:
        h = cloud.client().start("declared-and-wait")
        cloud.advance(timedelta(seconds=71))
        dying["on"] = False
        assert "a#r1" not in {r.key for r in cloud.store.load_journal(h.execution_id)}
        for _ in range(4):
            cloud.advance(timedelta(minutes=5))
            cloud.sweep()
        journal = {r.key: r for r in cloud.store.load_journal(h.execution_id)}
        assert journal["a"].data["result"] == "L"
        cloud.client().send_event("Go.ahead", {})
        assert cloud.client().describe(h.execution_id).status == "SUCCEEDED"


def test_an_inline_step_interrupted_beside_a_waiting_branch_is_swept_and_counted() -> None:
    """The container dies in the inline step; the redelivery journals the started marker and dies too. The
    other branch waits for an event: the marker without an outcome tells the sweeper that a replay must
    count the attempt."""
    dying_faults, dying = _dead_lettered_after("c#s1")
    script = [Fault("crash.inline_step", target="orchestrator", nth=1), *dying_faults]
    with LocalCloud(branches_app(), backend="memory", faults=FaultPlan(script=script)) as cloud:
        h = cloud.client().start("inline-and-wait")
        dying["on"] = False
        assert "c#s1" in {r.key for r in cloud.store.load_journal(h.execution_id)}
        # The redelivery found the marker while its writer could still be running (until its Lambda's
        # timeout) and set a timer for then; that timer is lost too: only the sweeper is left.
        from stepbridge.runtime.replay import timer_name

        assert cloud.timers.exists(timer_name(h.execution_id, "c#s1"))
        cloud.timers.cancel(timer_name(h.execution_id, "c#s1"))
        for _ in range(4):
            cloud.advance(timedelta(minutes=5))
            cloud.sweep()
        journal = {r.key: r for r in cloud.store.load_journal(h.execution_id)}
        assert journal["c"].data["result"] == "C" and journal["c#a1"].data["interrupted"] is True
        cloud.client().send_event("Go.ahead", {})
        assert cloud.client().describe(h.execution_id).result == [{}, "C"]
