from __future__ import annotations

from datetime import timedelta

import pytest

from stepbridge import App, Context, Retry, State, StateMachine, Transition
from stepbridge.local import LocalCloud
from stepbridge.patterns import Bulkhead

STATE: dict = {}


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_bulkhead_max_concurrent_declared_steps(backend):
    """Seed Bulkhead / DESIGN `Bulkhead(name, max_concurrent)`: at most max_concurrent run at once.

    With a declared step (own Lambda), the slot must be held while the step is in flight.
    """
    bh = Bulkhead("render", 1)
    app = App("b")

    @app.step
    def render(i: int) -> int:
        STATE["seen"].append(dict(bh.holders(STATE["cloud"].store)))
        return i

    @app.workflow("rw")
    async def rw(ctx: Context, i: int) -> int:
        return await bh.call(ctx, "render", render, i)

    STATE["seen"] = []
    with LocalCloud(app, backend=backend, eager=False) as cloud:
        STATE["cloud"] = cloud
        c = cloud.client()
        hs = [c.start("rw", i, execution_id=f"ex{i}") for i in range(3)]
        cloud.run_until_idle()
        cloud.advance(timedelta(minutes=10))
        assert [h.result() for h in hs] == [0, 1, 2]
        # each running step must see exactly its own execution holding the only slot
        assert all(len(s) == 1 for s in STATE["seen"]), STATE["seen"]


def test_bulkhead_slot_held_during_retry_backoff():
    bh = Bulkhead("api", 1)
    app = App("b")
    calls = []

    def flaky(i):
        calls.append(i)
        if calls.count(i) == 1:
            raise RuntimeError("x")
        return i

    @app.workflow("rw")
    async def rw(ctx: Context, i: int) -> int:
        return await bh.call(ctx, "call", flaky, i, retry=Retry(max_attempts=2, jitter=False))

    with LocalCloud(app, backend="memory", eager=False) as cloud:
        c = cloud.client()
        hs = [c.start("rw", i, execution_id=f"ex{i}") for i in range(2)]
        cloud.run_until_idle()
        cloud.advance(timedelta(minutes=10))
        assert [h.result() for h in hs] == [0, 1]
        # with one slot, ex0 must finish both attempts before ex1 runs at all
        assert calls == [0, 0, 1, 1], calls


def test_first_event_rejected_machine_state():
    m = StateMachine(
        "m",
        initial="draft",
        states={
            "draft": State(on={"submit": Transition("pending", guard=lambda c: len(c["items"]) > 0)}),
            "pending": State(),
        },
    )
    app = App("b")
    app.state_machine(m, events={"S": "submit"}, key="detail.id")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("S", {"id": "k", "items": []})
        rej = [e.detail for e in cloud.events if e.detail_type == "StateMachine.rejected"]
        assert len(rej) == 1
        assert c.machine_state("m", "k") is None  # project reading: no instance until a first accepted event
