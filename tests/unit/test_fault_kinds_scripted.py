"""The fault kinds added for issue 13, one scripted fault each: it is injected, does what AWS does, and the
execution still ends as it would without it (each kind also runs at random in the soak)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.local.faults import (
    _OPERATIONS,
    EFFECT_METHODS,
    EFFECT_SERVICES,
    STORE_METHODS,
    STORE_WRITES,
    Fault,
    FaultPlan,
    sdk_throttling_error,
)
from stepbridge.runtime.ports import Store
from stepbridge.runtime.records import parse_iso


def nap_app() -> App:
    app = App("kinds")

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        await ctx.sleep(600)
        return "awake"

    @app.workflow("ask")
    async def ask(ctx: Context) -> Any:
        return await ctx.wait_for("Ask.answered", timeout=timedelta(hours=1), default="no answer")

    return app


def cloud_with(*faults: Fault, **plan: Any) -> LocalCloud:
    return LocalCloud(nap_app(), backend="memory", faults=FaultPlan(script=list(faults), **plan))


def test_timer_duplicate_sends_the_wake_up_again_later_and_changes_nothing() -> None:
    with cloud_with(Fault("timer.duplicate"), late_seconds=300) as cloud:
        client = cloud.client()
        h = client.start("nap")
        cloud.advance(timedelta(seconds=601))
        again = [t for t in cloud.timers.pending() if t.again]
        assert len(again) == 1 and again[0].message is not None and again[0].message.execution_id == h.execution_id
        assert client.describe(h.execution_id).result == "awake"
        before = len(cloud.store.load_journal(h.execution_id))
        cloud.advance(timedelta(seconds=301))  # the second delivery arrives: a replay finds nothing to do
        assert not [t for t in cloud.timers.pending() if t.again]
        assert len(cloud.store.load_journal(h.execution_id)) == before
        assert cloud.faults is not None and cloud.faults.injected["timer.duplicate"] == 1


def test_timer_early_fires_before_its_time_and_the_sleep_still_ends_after_it() -> None:
    with cloud_with(Fault("timer.early", target="orchestrator"), early_seconds=30) as cloud:
        client = cloud.client()
        h = client.start("nap")
        (timer,) = [t for t in cloud.timers.pending() if t.schedule is None]
        due = cloud.now() + timedelta(seconds=600)
        assert due - timedelta(seconds=30) <= timer.at < due  # Scheduler fired up to 30 s early
        cloud.advance_to(timer.at)
        assert client.describe(h.execution_id).status == "RUNNING"  # the early replay did not end the sleep
        for _ in range(4):
            cloud.advance(timedelta(minutes=5))
            cloud.sweep()
        assert client.describe(h.execution_id).result == "awake"


def test_event_late_duplicate_hands_the_event_to_the_router_again_much_later() -> None:
    with cloud_with(Fault("event.late_duplicate"), late_seconds=120) as cloud:
        client = cloud.client()
        h = client.start("ask")
        client.send_event("Ask.answered", {"yes": True})
        assert client.describe(h.execution_id).result == {"yes": True}
        (later,) = [t for t in cloud.timers.pending() if t.delivery is not None]
        assert later.delivery is not None and later.delivery["detail-type"] == "Ask.answered"
        before = len(cloud.store.load_journal(h.execution_id))
        cloud.advance(timedelta(seconds=121))
        assert not [t for t in cloud.timers.pending() if t.delivery is not None]  # delivered again
        assert len(cloud.store.load_journal(h.execution_id)) == before
        assert client.describe(h.execution_id).result == {"yes": True}


def test_clock_skew_shifts_the_invocation_clock_within_the_bound() -> None:
    with cloud_with(Fault("clock.skew", target="orchestrator"), skew_seconds=20) as cloud:
        client = cloud.client()
        started = cloud.now()
        h = client.start("nap")
        (sleep,) = [r for r in cloud.store.load_journal(h.execution_id) if r.type == "sleep"]
        offset = parse_iso(str(sleep.data["wake_at"])) - (started + timedelta(seconds=600))
        assert timedelta(0) < abs(offset) <= timedelta(seconds=20)  # the orchestrator's clock was off
        assert cloud.faults is not None and cloud.faults.injected["clock.skew"] == 1
        cloud.advance(timedelta(seconds=700))
        assert client.describe(h.execution_id).result == "awake"


def test_dynamodb_sdk_throttling_raises_botocores_modeled_exception_and_the_execution_recovers() -> None:
    error = sdk_throttling_error("append_journal", random.Random(1))
    assert isinstance(error, ClientError) and type(error).__name__ == error.response["Error"]["Code"]
    assert error.operation_name == "PutItem" and error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    throttle = Fault("throttle.dynamodb_sdk", target="orchestrator", method="append_journal")
    sweep_throttle = Fault("throttle.dynamodb_sdk", target="sweeper")  # its first table call
    with cloud_with(throttle, sweep_throttle) as cloud:
        client = cloud.client()
        h = client.start("nap")
        cloud.advance(timedelta(seconds=601))
        cloud.sweep()  # the sweeper is a target of this kind too: its first table call is throttled
        assert cloud.faults is not None and cloud.faults.injected["throttle.dynamodb_sdk"] == 2
        assert cloud.crashes["sweeper"] == 1
        assert client.describe(h.execution_id).result == "awake"


def test_fault_wrappers_cover_the_port_protocols() -> None:
    """The store and effects method lists come from the ``Store``/``Effects`` protocols, not a copy."""
    assert set(STORE_METHODS) == {n for n in vars(Store) if not n.startswith("_") and callable(vars(Store)[n])}
    assert set(STORE_METHODS) >= STORE_WRITES and set(STORE_METHODS) <= set(_OPERATIONS)
    assert set(EFFECT_SERVICES) == set(EFFECT_METHODS) - {"now"}
