"""Engine bugs the issue-13 soak found with its new fault kinds, each as a deterministic reproduction.

Found by ``python -m tests.soak.run`` (see docs/RELIABILITY.md, "Engine bugs the fault injection
found"); each test fails on the code before its fix.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from stepbridge import App, Context, Retry
from stepbridge.errors import NonRetryableError
from stepbridge.local import LocalCloud
from stepbridge.local.faults import Fault, FaultPlan
from stepbridge.runtime.records import WakeMessage


class _SkewedEffects:
    """The orchestrator's effects with its clock off by ``offset`` (another container's clock)."""

    def __init__(self, effects: Any) -> None:
        self._effects = effects
        self.offset = timedelta(0)

    def now(self) -> datetime:
        shown: datetime = self._effects.now() + self.offset
        return shown

    def __getattr__(self, name: str) -> Any:
        return getattr(self._effects, name)


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
        skewed = _SkewedEffects(cloud.env.effects)
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
