"""Inline steps are bounded by the orchestrator Lambda, and a container that dies in one is counted
(issue 13, reproduction 3).

An inline step runs inside the orchestrator's invocation. One that outlived the Lambda (or killed
its container) was run again on every redelivery and every sweep, with no attempt recorded: in
the reproduction it repeated its side effect 1,805 times in 30 virtual hours and the execution
never failed. Now an inline step gets at most the invocation's remaining time (less a reserve),
and an attempt that a dead invocation started is recorded as a failed attempt (``StepTimeout``)
and retried under the step's policy; when the attempts are spent the step fails.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.local.faults import Fault, FaultPlan

EFFECTS: Counter[str] = Counter()
RETRY = Retry(max_attempts=3, backoff="fixed", initial_delay=5, jitter=False)


def inline_app() -> App:
    app = App("inline")

    def charge() -> str:
        EFFECTS["charge"] += 1  # the side effect happens; then the container dies before it is journaled
        return "charged"

    @app.workflow("checkout")
    async def checkout(ctx: Context) -> str:
        return str(await ctx.step("charge", charge, retry=RETRY))

    async def crunch() -> str:
        EFFECTS["crunch"] += 1
        await asyncio.sleep(200)  # longer than the orchestrator's 120 s timeout (virtual time)
        return "crunched"

    @app.workflow("crunching")
    async def crunching(ctx: Context) -> str:
        return str(await ctx.step("crunch", crunch, retry=RETRY))

    async def quick() -> str:
        EFFECTS["quick"] += 1
        await asyncio.sleep(30)
        return "quick"

    @app.workflow("quick")
    async def quick_wf(ctx: Context) -> Any:
        return [await ctx.step(f"q{n}", quick) for n in range(3)]

    return app


def _always_killed() -> FaultPlan:
    """The orchestrator's container dies during every inline step (after its side effect)."""
    return FaultPlan(script=[Fault("crash.inline_step", target="orchestrator", nth=n) for n in range(1, 5000)])


def _sweep_for(cloud: LocalCloud, execution_id: str, hours: float) -> str:
    client = cloud.client()
    for _ in range(int(hours * 12)):
        if client.describe(execution_id).status != "RUNNING":
            break
        cloud.advance(timedelta(minutes=5))
        cloud.sweep()
    return client.describe(execution_id).status


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_an_inline_step_whose_container_always_dies_fails_after_its_attempts(backend: str) -> None:
    """Reproduction 3: the effect ran 1,805 times in 30 virtual hours and the execution never failed."""
    EFFECTS.clear()
    with LocalCloud(inline_app(), backend=backend, faults=_always_killed()) as cloud:
        h = cloud.client().start("checkout")
        status = _sweep_for(cloud, h.execution_id, hours=30 if backend == "memory" else 2)
        desc = cloud.client().describe(h.execution_id)
        assert status == "FAILED", f"still {status} after {EFFECTS['charge']} runs of the effect"
        assert desc.error is not None and desc.error["type"] == "stepbridge.errors.StepTimeout"
        assert "charge" in desc.error["message"] and "interrupted" in desc.error["message"]
        # three attempts counted; the first run of the first attempt is not (it wrote no marker: see the design)
        assert EFFECTS["charge"] == RETRY.max_attempts + 1
        journal = {r.key for r in cloud.store.load_journal(h.execution_id)}
        assert {"charge#a1", "charge#a2", "charge#s1", "charge#s2", "charge#s3", "charge"} <= journal


def test_an_inline_step_killed_once_is_retried_and_succeeds() -> None:
    EFFECTS.clear()
    plan = FaultPlan(script=[Fault("crash.inline_step", target="orchestrator", nth=1)])
    with LocalCloud(inline_app(), backend="memory", faults=plan) as cloud:
        h = cloud.client().start("checkout")
        assert cloud.client().describe(h.execution_id).result == "charged"
        assert EFFECTS["charge"] == 2  # at least once: the killed run's effect happened
        assert cloud.faults is not None and cloud.faults.injected["crash.inline_step"] == 1


def test_an_inline_step_longer_than_the_orchestrators_remaining_time_times_out_and_is_retried() -> None:
    """The orchestrator Lambda (120 s in the template) would be killed mid-step: the step is stopped first."""
    EFFECTS.clear()
    with LocalCloud(inline_app(), backend="memory") as cloud:
        h = cloud.client().start("crunching")
        status = _sweep_for(cloud, h.execution_id, hours=1)
        desc = cloud.client().describe(h.execution_id)
        assert status == "FAILED"
        assert desc.error is not None and desc.error["type"] == "stepbridge.errors.StepTimeout"
        assert "remaining time" in desc.error["message"] and "crunch" in desc.error["message"]
        assert EFFECTS["crunch"] == RETRY.max_attempts
        attempts = [r for r in cloud.store.load_journal(h.execution_id) if r.kind == "attempt"]
        assert len(attempts) == RETRY.max_attempts - 1


def test_steps_that_fit_the_remaining_time_run_as_before() -> None:
    EFFECTS.clear()
    with LocalCloud(inline_app(), backend="memory", orchestrator_timeout=100) as cloud:
        h = cloud.client().start("quick")
        assert cloud.client().describe(h.execution_id).result == ["quick"] * 3
        assert EFFECTS["quick"] == 3


def test_the_orchestrator_timeout_of_local_cloud_is_configurable() -> None:
    EFFECTS.clear()
    with LocalCloud(inline_app(), backend="memory", orchestrator_timeout=20) as cloud:
        h = cloud.client().start("quick")
        _sweep_for(cloud, h.execution_id, hours=1)
        desc = cloud.client().describe(h.execution_id)
        assert desc.status == "FAILED" and desc.error is not None and "remaining time" in desc.error["message"]


def test_the_common_inline_step_still_costs_one_journal_write() -> None:
    """No started marker on a first delivery: a marker is written only when an earlier invocation may have died."""
    EFFECTS.clear()
    with LocalCloud(inline_app(), backend="memory") as cloud:
        h = cloud.client().start("checkout")
        journal = cloud.store.load_journal(h.execution_id)
        assert [r.key for r in journal] == ["charge"]


def test_a_throttled_outcome_write_is_retried_in_process_not_by_running_the_step_again() -> None:
    """The step's work is done when its outcome write is throttled: the write is retried at once (as a declared
    step retries its report), so the step neither runs again nor has an attempt counted against it."""
    EFFECTS.clear()
    throttled = [
        Fault(
            kind,
            target="orchestrator",
            method="append_journal",
            when=lambda m, a: a[1].key == "charge" and a[1].kind == "result",
        )
        for kind in ("throttle.dynamodb", "ambiguous.write")
    ]
    with LocalCloud(inline_app(), backend="memory", faults=FaultPlan(script=throttled)) as cloud:
        h = cloud.client().start("checkout")
        assert cloud.client().describe(h.execution_id).result == "charged"
        assert EFFECTS["charge"] == 1
        assert [r.key for r in cloud.store.load_journal(h.execution_id)] == ["charge"]
        assert cloud.faults is not None and cloud.faults.injected["throttle.dynamodb"] == 1
        assert cloud.faults.injected["ambiguous.write"] == 1


def test_a_redelivery_racing_a_live_invocation_waits_for_it_instead_of_counting_its_attempt() -> None:
    """The marker says until when its invocation may run (its Lambda's remaining time): a redelivery that finds
    it earlier (the message's visibility timeout expired) sets a timer for then instead of counting the attempt."""
    from stepbridge.runtime.lifecycle import INTERRUPTED
    from stepbridge.runtime.operations.inline import InlineStep
    from stepbridge.runtime.replay import timer_name

    EFFECTS.clear()
    dying = {"on": False}

    def after_marker(method: str, args: tuple[Any, ...]) -> bool:
        dying["on"] = dying["on"] or args[1].key == "charge#s1"
        return args[1].key == "charge#s1"

    script = [
        Fault("crash.inline_step", target="orchestrator", nth=1),
        Fault("crash.after_write", target="orchestrator", method="append_journal", when=after_marker),
    ]
    with LocalCloud(inline_app(), backend="memory", faults=FaultPlan(script=script)) as cloud:
        h = cloud.client().start("checkout")
        journal = {r.key: r for r in cloud.store.load_journal(h.execution_id)}
        marker = journal["charge#s1"]
        assert marker.data["alive_until"] > marker.at
        assert InlineStep.state("charge", journal).phase == INTERRUPTED
        assert "charge#a1" not in journal  # not counted while its invocation may still be running
        assert cloud.timers.exists(timer_name(h.execution_id, "charge#s1"))
        cloud.advance(timedelta(minutes=3))  # past alive_until (120 s): now the attempt is counted and retried
        assert cloud.client().describe(h.execution_id).result == "charged"
        journal = {r.key: r for r in cloud.store.load_journal(h.execution_id)}
        assert journal["charge#a1"].data["interrupted"] is True
