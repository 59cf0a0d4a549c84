"""Completion policies and child batches of ``ctx.map`` through LocalCloud on moto (DynamoDB conditional
writes, Scheduler timers, SQS wake-ups); the same scenarios as tests/unit/test_batch_*.py on the memory backend."""

from __future__ import annotations

from typing import Any

import pytest

from stepbridge import App, Completion, Context, NonRetryableError
from stepbridge.local import LocalCloud
from stepbridge.runtime import batchchildren
from stepbridge.runtime.records import StepInvocation


def _app() -> tuple[App, list[int]]:
    app = App("batchmoto")
    ran: list[int] = []

    @app.step(timeout=10)
    def work(x: int) -> int:
        ran.append(x)
        if x % 7 == 3:
            raise NonRetryableError(f"item {x} failed")
        return x * 10

    @app.workflow("m")
    async def m(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
        batch = await ctx.map("w", list(range(spec["n"])), work, concurrency=spec["c"],
                              completion=Completion(**spec["policy"]))
        return {"reason": batch.reason, "results": batch.results, "statuses": [i.status for i in batch.items]}

    return app, ran


def test_min_successful_abandons_in_flight_declared_steps_on_moto() -> None:
    app, ran = _app()
    with LocalCloud(app) as cloud:
        held: list[StepInvocation] = []
        original = cloud.effect_invoke

        def invoke(inv: StepInvocation) -> None:
            if inv.op in ("w-1", "w-2"):
                held.append(inv)  # in flight: their Lambdas have not run yet
                return
            original(inv)

        cloud.effect_invoke = invoke  # type: ignore[method-assign]
        client = cloud.client()
        h = client.start("m", {"n": 8, "c": 4, "policy": {"min_successful": 1}})
        out = h.result()
        assert out["reason"] == "min_successful_reached"
        assert out["statuses"][:3] == ["succeeded", "abandoned", "abandoned"]
        assert out["statuses"][3] in ("failed", "abandoned")  # item 3 fails: counted if it reported in time
        assert set(out["statuses"][4:]) == {"not_started"}
        cloud.effect_invoke = original  # type: ignore[method-assign]
        for inv in held:
            cloud._step_queue.append(inv)  # delivered late: the steps are finished, nothing runs
        cloud.run_until_idle()
        assert 1 not in ran and 2 not in ran
        history = client.history(h.execution_id)
        abandoned = [f"w-{i}" for i, status in enumerate(out["statuses"]) if status == "abandoned"]
        assert [e.detail["name"] for e in history if e.detail_type == "Step.failed" and e.detail.get("abandoned")] == (
            abandoned)
        assert client.describe(h.execution_id).result == out
        assert not cloud.sweep()


def test_a_large_map_in_child_batches_keeps_the_policy_across_children_on_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batchchildren, "CHILD_BATCH_ITEMS", 4)
    app, ran = _app()
    with LocalCloud(app) as cloud:
        client = cloud.client()
        # items 3 and 10 fail (x % 7 == 3); "10%" of 12 tolerates one failure, the second decides.
        out = client.start("m", {"n": 12, "c": 1, "policy": {"tolerated_failures": "10%"}}).result()
    assert out["reason"] == "failure_tolerance_exceeded"
    assert out["statuses"][3] == "failed" and out["statuses"][10] == "failed"
    assert out["results"][:3] == [0, 10, 20] and out["results"][9] == 90
    assert 11 not in ran  # not started: the batch was decided at item 10
