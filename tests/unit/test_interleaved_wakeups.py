"""LocalCloud delivers wake-ups while a fan-out's steps still run (``LocalCloud(step_burst=)``, issue 17).

In AWS step Lambdas and the orchestrator run at the same time; LocalCloud used to run every pending
step invocation before the first wake-up, so a 1,000-way gather piled 1,000 messages into the
execution's FIFO group (moto's SQS slows with depth). Now a batch of the work queue is delivered
after every ``step_burst`` step invocations. Outcomes and journals must not depend on it.
"""

from __future__ import annotations

from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.local.cloud import STEP_BURST


def fan_app() -> App:
    app = App("interleave")

    @app.step(timeout=30)
    def plus_one(x: int) -> int:
        return x + 1

    @app.step(timeout=30, retry=Retry(max_attempts=3, initial_delay=1))
    def picky(x: int) -> int:
        if x % 7 == 3:
            raise ValueError(f"no {x}")
        return x * 2

    @app.workflow("fan")
    async def fan(ctx: Context, n: int) -> int:
        return sum(await ctx.gather(*[ctx.step(f"f{i}", plus_one, i) for i in range(n)]))

    @app.workflow("mixed")
    async def mixed(ctx: Context, n: int) -> dict[str, Any]:
        fanned = await ctx.gather(*[ctx.step(f"g{i}", plus_one, i) for i in range(n)])
        mapped = await ctx.map("m", list(range(n)), plus_one, concurrency=3)
        chained = 0
        for i in range(5):
            chained = await ctx.step(f"c{i}", plus_one, chained)
        failures = 0
        for i in range(6):
            try:
                await ctx.step(f"p{i}", picky, i)
            except ValueError:
                failures += 1
        return {"fanned": sum(fanned), "mapped": sum(mapped), "chained": chained, "failures": failures}

    return app


def _run(workflow: str, n: int, step_burst: int | None, backend: str = "memory", sticky: bool | None = None
         ) -> tuple[Any, list[dict[str, Any]], int]:
    """(result, the execution's journal without timestamps, the deepest the work queue got before a step ran)."""
    deepest = 0
    with LocalCloud(fan_app(), backend=backend, step_burst=step_burst, sticky=sticky) as cloud:
        run_step = cloud._run_step

        def measured(invocation: Any) -> None:
            nonlocal deepest
            deepest = max(deepest, cloud.resources.queue_depth())
            run_step(invocation)

        cloud._run_step = measured  # type: ignore[method-assign]
        result = cloud.client().start(workflow, n, execution_id="x").result()
        journal = sorted((_timeless(r.to_dict()) for r in cloud.store.load_journal("x")), key=lambda r: r["key"])
    return result, journal, deepest


def _timeless(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "at"}


@pytest.mark.parametrize("sticky", [True, False])
def test_a_gathers_journal_and_result_do_not_depend_on_interleaving(sticky: bool) -> None:
    before = _run("fan", 45, None, sticky=sticky)
    after = _run("fan", 45, STEP_BURST, sticky=sticky)
    assert after[0] == before[0] == sum(range(1, 46))
    assert after[1] == before[1]  # the same records, keys, sequence numbers and data
    assert before[2] >= 44  # every step's wake-up waited for the last step
    assert after[2] <= STEP_BURST  # the queue is drained as the steps go


def test_mixed_workflow_outcome_is_the_same_with_interleaved_wakeups() -> None:
    """Map with a concurrency limit, a chain and retried failures: the same result and the same reports."""
    before = _run("mixed", 30, None)
    after = _run("mixed", 30, STEP_BURST)
    small = _run("mixed", 30, 1)  # a wake-up batch after every step invocation
    expected = {"fanned": sum(range(1, 31)), "mapped": sum(range(1, 31)), "chained": 5, "failures": 1}
    assert before[0] == after[0] == small[0] == expected

    def reports(journal: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["key"], r["kind"], r.get("data")) for r in journal if not r.get("seq")]

    assert reports(after[1]) == reports(before[1]) == reports(small[1])


def test_interleaving_on_moto_keeps_the_fifo_group_short() -> None:
    result, _, deepest = _run("fan", 40, STEP_BURST, backend="moto")
    assert result == sum(range(1, 41))
    assert deepest <= STEP_BURST


def test_step_burst_is_checked() -> None:
    with pytest.raises(ValueError, match="step_burst must be a positive int"):
        LocalCloud(fan_app(), backend="memory", step_burst=0)
