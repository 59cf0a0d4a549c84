"""Large ``ctx.map`` in child batches (runtime/batchchildren.py; issue 17 goal 2) on the in-memory backend.

The slice size is patched down to 4 items so that 10 items make three children.
"""

from __future__ import annotations

from typing import Any

import pytest

from stepbridge import App, BatchResult, Completion, Context, NonRetryableError
from stepbridge.local import LocalCloud
from stepbridge.runtime import batchchildren


@pytest.fixture(autouse=True)
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(batchchildren, "CHILD_BATCH_ITEMS", 4)


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

    @app.workflow("m")
    async def m(ctx: Context, spec: dict[str, Any]) -> Any:
        policy = spec.get("policy")
        out = await ctx.map("w", list(range(spec["n"])), work, concurrency=spec.get("c", 3),
                            completion=None if policy is None else Completion(**policy))
        if isinstance(out, BatchResult):
            return {"reason": out.reason, "results": out.results, "statuses": [i.status for i in out.items],
                    "errors": [str(e) if e else None for e in out.errors]}
        return out

    return app, ran


def _children(cloud: LocalCloud, eid: str) -> list[str]:
    return [e.detail["name"] for e in cloud.client().history(eid) if e.detail_type == "Child.started"]


def test_a_large_map_runs_in_child_batches_and_returns_results_in_item_order() -> None:
    app, ran = _app()
    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("m", {"n": 10})
        assert h.result() == [x * 10 for x in range(10)]
        assert _children(cloud, h.execution_id) == ["w-batch-0", "w-batch-1", "w-batch-2"]
        assert sorted(ran) == list(range(10))
        parent = [e.detail_type for e in cloud.client().history(h.execution_id)]
        assert "Step.dispatched" not in parent  # the items are in the children's journals, not the parent's


def test_without_completion_the_first_failure_is_raised_and_no_later_child_starts() -> None:
    app, ran = _app(fail={5})
    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("m", {"n": 10})
        with pytest.raises(Exception, match="item 5 failed"):
            h.result()
        assert _children(cloud, h.execution_id) == ["w-batch-0", "w-batch-1"]
        assert max(ran) < 8


def test_tolerance_holds_across_children() -> None:
    # 10 items, "20%": 2 failures tolerated (in different children), the third one decides the batch.
    app, ran = _app(fail={1, 5, 6})
    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("m", {"n": 10, "c": 1, "policy": {"tolerated_failures": "20%"}})
        out = h.result()
        assert out["reason"] == "failure_tolerance_exceeded"
        assert out["statuses"][:7] == ["succeeded", "failed", "succeeded", "succeeded", "succeeded", "failed",
                                       "failed"]
        assert set(out["statuses"][7:]) == {"not_started"}
        assert _children(cloud, h.execution_id) == ["w-batch-0", "w-batch-1"]  # the third child never started
        assert sorted(ran) == [0, 1, 2, 3, 4, 5, 6]


def test_min_successful_counts_successes_of_earlier_children() -> None:
    app, ran = _app()
    with LocalCloud(app, backend="memory") as cloud:
        out = cloud.client().start("m", {"n": 10, "c": 1, "policy": {"min_successful": 6}}).result()
        assert out["reason"] == "min_successful_reached"
        assert out["results"][:6] == [0, 10, 20, 30, 40, 50] and out["results"][6:] == [None] * 4
        assert sorted(ran) == [0, 1, 2, 3, 4, 5]


def test_all_completed_across_children() -> None:
    app, _ = _app(fail={2, 9})
    with LocalCloud(app, backend="memory") as cloud:
        out = cloud.client().start("m", {"n": 10, "policy": {"tolerated_failures": "100%"}}).result()
        assert out["reason"] == "all_completed"
        assert out["errors"][2] == "item 2 failed" and out["errors"][9] == "item 9 failed"
        assert out["results"][3] == 30
