"""Completion policies of ``ctx.map`` / ``ctx.gather`` on the in-memory backend (issue 14, item 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from stepbridge import App, BatchResult, Completion, Context, NonRetryableError, Retry, WorkflowDefinitionError
from stepbridge.local import LocalCloud
from stepbridge.runtime.records import StepInvocation


def _app(fail: set[int] | None = None) -> tuple[App, list[int]]:
    app = App("t")
    ran: list[int] = []
    failing = fail or set()

    @app.step(timeout=10)
    def work(x: int) -> int:
        ran.append(x)
        if x in failing:
            raise NonRetryableError(f"item {x} failed")
        return x * 10

    def inline(x: int) -> int:
        ran.append(x)
        if x in failing:
            raise NonRetryableError(f"item {x} failed")
        return x * 10

    @app.workflow("m")
    async def m(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
        fn = work if spec.get("declared", True) else inline
        batch = await ctx.map("w", list(range(spec["n"])), fn, concurrency=spec.get("c", 10),
                              completion=Completion(**spec.get("policy", {})))
        assert isinstance(batch, BatchResult)
        after = await ctx.step("after", lambda: "went on")
        return {
            "reason": batch.reason,
            "results": batch.results,
            "errors": [type(e).__name__ if e else None for e in batch.errors],
            "statuses": [i.status for i in batch.items],
            "after": after,
        }

    return app, ran


@contextmanager
def _held(cloud: LocalCloud, hold: set[str]) -> Iterator[list[StepInvocation]]:
    """Keep the async invokes of the named steps back (they are "in flight") until the block ends."""
    held: list[StepInvocation] = []
    original = cloud.effect_invoke

    def invoke(inv: StepInvocation) -> None:
        if inv.op in hold:
            held.append(inv)
            cloud.calls["lambda.Invoke"] += 1
            return
        original(inv)

    cloud.effect_invoke = invoke  # type: ignore[method-assign]
    try:
        yield held
    finally:
        cloud.effect_invoke = original  # type: ignore[method-assign]


def _types(cloud: LocalCloud, eid: str) -> list[str]:
    return [e.detail_type for e in cloud.client().history(eid)]


def test_without_completion_map_and_gather_raise_the_first_failure_as_before() -> None:
    """Both bad items fail in the same invocation (no retries), so the first by position is raised. (With retries
    their last attempts end at different instants: the map raises the failure known when it settles - a parked
    workflow (sticky executions) keeps that one, where replays re-evaluate it each time.)"""
    app = App("t")

    @app.workflow("m")
    async def m(ctx: Context) -> str:
        def bad(x: int) -> int:
            if x in (2, 3):
                raise ValueError(f"bad {x}")
            return x

        try:
            await ctx.map("w", range(5), bad, retry=Retry(max_attempts=1))
        except ValueError as exc:
            first = str(exc)
        try:
            await ctx.gather(ctx.step("a", lambda: 1), ctx.step("b", bad, 3))
        except ValueError as exc:
            return f"{first}|{exc}"
        return "no error"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("m").result() == "bad 2|bad 3"


def test_all_completed_runs_every_item_and_returns_results_and_errors_in_item_order() -> None:
    app, ran = _app(fail={1, 3})
    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("m", {"n": 5, "policy": {"tolerated_failures": "100%"}})
        out = h.result()
        assert out["reason"] == "all_completed"
        assert out["results"] == [0, None, 20, None, 40]
        assert out["errors"] == [None, "NonRetryableError", None, "NonRetryableError", None]
        assert sorted(ran) == [0, 1, 2, 3, 4]
        assert "Batch.decided" not in _types(cloud, h.execution_id)  # nothing was abandoned: nothing to record


def test_empty_completion_is_fail_fast_like_ldf_and_never_starts_the_rest() -> None:
    app, ran = _app(fail={1})
    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("m", {"n": 6, "c": 2, "declared": False, "policy": {}})
        out = h.result()
        assert out["reason"] == "failure_tolerance_exceeded"
        assert out["statuses"] == ["succeeded", "failed", "not_started", "not_started", "not_started", "not_started"]
        assert sorted(ran) == [0, 1]
        assert out["after"] == "went on"
        decided = [e for e in cloud.client().history(h.execution_id) if e.detail_type == "Batch.decided"]
        assert decided and decided[0].detail["reason"] == "failure_tolerance_exceeded"
        assert decided[0].detail["started"] == 2


def test_min_successful_reached_abandons_in_flight_declared_steps_and_ignores_their_late_results() -> None:
    app, ran = _app()
    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        with _held(cloud, {"w-2", "w-3"}) as held:
            h = client.start("m", {"n": 6, "c": 4, "policy": {"min_successful": 2}})
            cloud.run_until_idle()
            out = h.result()
        assert out["reason"] == "min_successful_reached"
        assert out["statuses"] == ["succeeded", "succeeded", "abandoned", "abandoned", "not_started", "not_started"]
        assert out["results"] == [0, 10, None, None, None, None]
        assert sorted(ran) == [0, 1]
        history = client.history(h.execution_id)
        abandoned = [e for e in history if e.detail_type == "Step.failed" and e.detail.get("abandoned")]
        assert sorted(e.detail["name"] for e in abandoned) == ["w-2", "w-3"]
        # The held invocations are delivered late: the step is finished (abandoned), nothing runs or changes.
        for inv in held:
            cloud._step_queue.append(inv)
        cloud.run_until_idle()
        assert sorted(ran) == [0, 1]
        assert client.describe(h.execution_id).status == "SUCCEEDED"
        assert client.describe(h.execution_id).result == out
        assert not cloud.sweep()  # nothing outstanding: the sweeper wakes nothing


def test_late_result_recorded_before_the_abandon_claim_is_ignored_and_noted() -> None:
    app = App("t")
    seen: list[Any] = []

    @app.step(timeout=10)
    def work(x: int) -> int:
        return x

    @app.workflow("m")
    async def m(ctx: Context) -> Any:
        batch = await ctx.map("w", [0, 1, 2], work, completion=Completion.first_successful())
        seen.append(batch.results)
        await ctx.sleep(60)
        return batch.results

    from stepbridge.runtime.records import JournalRecord

    # (replays are what this test is about: sticky executions would keep the workflow parked instead)
    with LocalCloud(app, backend="memory", sticky=False) as cloud:
        client = cloud.client()
        original = cloud.store.append_journal

        def race(eid: str, rec: JournalRecord) -> Any:
            if rec.kind == "decided":  # w-1's report lands between the decision and the abandon claims
                late = JournalRecord(key="w-1", op="w-1", type="step", kind="result",
                                     data={"result": 1, "attempts": 1}, at=rec.at)
                original(eid, late)
            return original(eid, rec)

        cloud.store.append_journal = race  # type: ignore[method-assign]
        with _held(cloud, {"w-1", "w-2"}):
            h = client.start("m")
            cloud.run_until_idle()
        assert seen == [[0, None, None]]
        assert h.result() == [0, None, None]  # later replays (the sleep's timer) rebuild the same decision
        assert len(seen) >= 2 and all(r == [0, None, None] for r in seen)
        ignored = [e.detail for e in client.history(h.execution_id) if e.detail_type == "Batch.ignored"]
        assert ignored == [{"name": "$batch:w", "item": 1, "op": "w-1", "outcome": "result"}]


def test_tolerated_percentage_rounds_like_ldf() -> None:
    # 10 items, "10%": one failure is 10 % (not more), tolerated; two are 20 %, exceeded.
    for failing, reason in (({3}, "all_completed"), ({3, 7}, "failure_tolerance_exceeded")):
        app, _ = _app(fail=failing)
        with LocalCloud(app, backend="memory") as cloud:
            out = cloud.client().start("m", {"n": 10, "c": 1, "declared": False,
                                             "policy": {"tolerated_failures": "10%"}}).result()
            assert out["reason"] == reason
    assert Completion(tolerated_failures="12.5%").tolerance_exceeded(1, 8) is False
    assert Completion(tolerated_failures="12.5%").tolerance_exceeded(2, 9) is True  # 22.2 % > 12.5 %
    assert Completion(tolerated_failures="33%").tolerance_exceeded(1, 3) is True  # 33.33.. % > 33 %


def test_tolerated_count_and_min_successful_combined() -> None:
    app, ran = _app(fail={0, 1, 2})
    with LocalCloud(app, backend="memory") as cloud:
        out = cloud.client().start("m", {"n": 8, "c": 1, "declared": False,
                                         "policy": {"min_successful": 2, "tolerated_failures": 2}}).result()
    assert out["reason"] == "failure_tolerance_exceeded"  # the third failure comes before any success
    assert sorted(ran) == [0, 1, 2]


def test_empty_batch_is_all_completed() -> None:
    app, _ = _app()
    with LocalCloud(app, backend="memory") as cloud:
        out = cloud.client().start("m", {"n": 0, "policy": {"min_successful": None}}).result()
    assert out["reason"] == "all_completed" and out["results"] == []


def test_bad_policies_are_refused_with_one_line_errors() -> None:
    with pytest.raises(WorkflowDefinitionError, match="min_successful"):
        Completion(min_successful=0)
    with pytest.raises(WorkflowDefinitionError, match="percentage"):
        Completion(tolerated_failures="150%")
    with pytest.raises(WorkflowDefinitionError, match="tolerated_failures"):
        Completion(tolerated_failures=-1)
    with pytest.raises(WorkflowDefinitionError, match="more than the 2 item"):
        Completion(min_successful=3).check_total(2, "ctx.map('w')")


def test_gather_first_successful_abandons_the_slow_branch_and_its_next_operation_never_runs() -> None:
    app = App("t")
    ran: list[str] = []

    @app.step(timeout=10)
    def slow(x: int) -> int:
        ran.append(f"slow{x}")
        return x

    @app.workflow("g")
    async def g(ctx: Context) -> Any:
        async def branch() -> int:
            first = await ctx.step("slow-1", slow, 1)
            return int(await ctx.step("then", lambda: ran.append("then") or first))

        async def failing() -> int:
            raise ValueError("nope")

        batch = await ctx.gather(ctx.step("quick", lambda: 7), branch(), failing(),
                                 completion=Completion.first_successful())
        await ctx.sleep(30)
        return {"reason": batch.reason, "results": batch.results,
                "statuses": [i.status for i in batch.items]}

    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        with _held(cloud, {"slow-1"}) as held:
            h = client.start("g")
            cloud.run_until_idle()
        for inv in held:
            cloud._step_queue.append(inv)  # the abandoned branch's step reports late
        out = h.result()
    assert out["reason"] == "min_successful_reached"
    assert out["results"][0] == 7 and out["statuses"][1] == "abandoned"
    assert "then" not in ran  # the abandoned branch started nothing after the decision


def test_replay_after_decision_rebuilds_the_same_result_even_when_a_crash_hit_between_records() -> None:
    from stepbridge.runtime.records import JournalRecord

    app, _ = _app()
    calls = {"n": 0}

    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        store = cloud.store
        original = store.append_journal

        def crash_after_decision(eid: str, rec: JournalRecord) -> Any:
            out = original(eid, rec)
            if rec.op.startswith("w-") and rec.data.get("abandoned"):
                calls["n"] += 1
                if calls["n"] == 1:
                    from stepbridge.local import Crash

                    raise Crash()  # the orchestrator dies after the first abandon record
            return out

        store.append_journal = crash_after_decision  # type: ignore[method-assign]
        with _held(cloud, {"w-2", "w-3", "w-4"}):
            h = client.start("m", {"n": 6, "c": 5, "policy": {"min_successful": 2}})
            for _ in range(5):
                cloud.run_until_idle()
                cloud.advance(60)
            out = h.result()
        assert out["statuses"] == ["succeeded", "succeeded", "abandoned", "abandoned", "abandoned", "not_started"]
        history = client.history(h.execution_id)
        assert [e.detail_type for e in history].count("Batch.decided") == 1
        assert sorted(e.detail["name"] for e in history if e.detail_type == "Step.failed") == ["w-2", "w-3", "w-4"]
