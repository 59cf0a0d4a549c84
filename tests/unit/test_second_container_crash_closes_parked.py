"""A second container's crash closes its parked workflows beside the first container's running loop.

``queue.visibility_expired`` (local/visibility.py) runs the batch on a second container from inside
the first one's journal write, which runs inside the first workflow's event loop. When the second
container dies, its memory goes (``cache.clear()``): each workflow it parked is closed there. Before
``Parked.close`` could run a loop beside a running one (runtime/sticky.py ``_beside_running_loop``),
closing raised "Cannot run the event loop while another loop is running" into the *first* container's
journal write, which failed (and was retried) for no reason of its own, leaving the closed workflow
unwound only by the collector. In the harsh soak (tests/soak) this happened 18 times per run; fixing it
changed which later calls the seeded fault plan hits.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.local.faults import Fault, FaultPlan
from stepbridge.runtime import sticky


def waiter_app(name: str, unwound: list[str]) -> App:
    """An app whose "waiter" runs step a, then waits for "go"; every unwinding of it is noted in ``unwound``."""
    app = App(name)

    @app.workflow("waiter")
    async def waiter(ctx: Context) -> Any:
        first = await ctx.step("a", lambda: "a")
        try:
            return [first, await ctx.wait_for("go", timeout=3600, default="none")]
        finally:
            unwound.append(ctx.execution_id)

    return app


def visibility_runs_out_at_step_a() -> Fault:
    """At the first container's write of w-1's step a, the batch's visibility runs out: a second container takes it."""
    return Fault(
        "queue.visibility_expired",
        target="orchestrator",
        method="append_journal",
        when=lambda method, args: args[0] == "w-1" and args[1].key == "a",
    )


def test_a_second_container_crash_closes_its_parked_workflow_without_failing_the_first_containers_write(
    monkeypatch: Any,
) -> None:
    unwound: list[str] = []
    app = waiter_app("second", unwound)

    @app.workflow("other")
    async def other(ctx: Context) -> str:
        return await ctx.step("b", lambda: "b")

    closed: list[tuple[str, bool, str | None]] = []
    beside: list[str] = []  # closed while another loop ran in the thread (the first container's)
    close = sticky.Parked.close

    def recording_close(self: sticky.Parked) -> None:
        if asyncio.events._get_running_loop() is not None:
            beside.append(self.rp.execution_id)
        try:
            close(self)
        except BaseException as exc:
            closed.append((self.rp.execution_id, self.loop.is_closed(), f"{type(exc).__name__}: {exc}"))
            raise
        closed.append((self.rp.execution_id, self.loop.is_closed(), None))

    monkeypatch.setattr(sticky.Parked, "close", recording_close)
    # The first container's write of step a's outcome: the batch's visibility runs out, a second container
    # takes the batch, parks "waiter" (it waits for "go") and dies at its first write for "other".
    second_copy = visibility_runs_out_at_step_a()
    dies = Fault("crash.before_write", target="orchestrator", method="append_journal",
                 when=lambda method, args: args[0] == "o-1")
    with LocalCloud(app, backend="memory", sticky=True, eager=False,
                    faults=FaultPlan(script=[second_copy, dies])) as cloud:
        client = cloud.client()
        w = client.start("waiter", execution_id="w-1")
        o = client.start("other", execution_id="o-1")
        cloud.run_until_idle()
        assert cloud.faults is not None
        assert cloud.faults.injected["queue.visibility_expired"] == 1
        assert cloud.faults.injected["crash.before_write"] == 1
        # The second container's parked copy of w-1 was closed beside the first container's running loop:
        # unwound at once (its ``finally`` ran) and its loop closed, nothing raised into the first container.
        assert beside == ["w-1"]
        second = [c for c in closed if c[0] == "w-1"]
        assert second and all(error is None and loop_closed for _, loop_closed, error in second), closed
        assert "w-1" in unwound
        client.send_event("go", {})
        cloud.advance(timedelta(minutes=1))
        assert client.describe(w.execution_id).status == "SUCCEEDED"
        assert client.describe(w.execution_id).result == ["a", {}]
        assert client.describe(o.execution_id).status == "SUCCEEDED"


def test_a_cold_second_container_that_served_one_batch_closes_its_parked_workflow_when_it_goes(
    monkeypatch: Any,
) -> None:
    """With one orchestrator container, the second copy of a batch runs on a cold container made for it alone.
    It did not crash, but it is gone after the batch: the workflow it parked was dropped unclosed, and the
    collector later destroyed its pending tasks ("Task was destroyed but it is pending!", 8,923 times in one
    40-seed soak) and ran its ``finally`` blocks at whatever point it collected them."""
    unwound: list[str] = []
    app = waiter_app("second-cold", unwound)

    closed: list[tuple[str, bool]] = []
    close = sticky.Parked.close

    def recording_close(self: sticky.Parked) -> None:
        close(self)
        closed.append((self.rp.execution_id, self.loop.is_closed()))

    monkeypatch.setattr(sticky.Parked, "close", recording_close)
    second_copy = visibility_runs_out_at_step_a()
    with LocalCloud(app, backend="memory", sticky=True, eager=False, orchestrator_containers=1,
                    faults=FaultPlan(script=[second_copy])) as cloud:
        client = cloud.client()
        w = client.start("waiter", execution_id="w-1")
        cloud.run_until_idle()
        assert cloud.faults is not None and cloud.faults.injected["queue.visibility_expired"] == 1
        # Two copies of w-1 waited for "go": the cold container's, closed when its batch was done, and the first
        # container's, closed because its replay raced with the other one (it does not park). Both loops are
        # closed and both ``finally`` blocks ran now, not at some later collection.
        assert closed == [("w-1", True), ("w-1", True)] and unwound == ["w-1", "w-1"]
        assert cloud.crashes["orchestrator"] == 0  # nothing died: the second container simply went away
        assert cloud.orchestrator_caches[0].parked("w-1") is None
        client.send_event("go", {})
        cloud.advance(timedelta(minutes=1))
        assert client.describe(w.execution_id).result == ["a", {}]
