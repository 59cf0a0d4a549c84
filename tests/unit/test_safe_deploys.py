"""Safe deploys: new code under running executions fails loudly, naming the step - never a silent wrong result.

The "deploy" swaps the app the handlers load (what a new Lambda version does) while executions
of the old code are in flight, on the moto backend. The engine notices that the new code skips,
renames or reorders recorded operations *before* the new code's first side effect (so a renamed
payment step is not charged a second time), and ``ctx.patched()`` is the way to change code safely.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud

RUNS: Counter[str] = Counter()


def v1() -> App:
    # asynchronous step invokes (runtime/stepreply.py): the in_flight fixture holds one in flight
    app = App("shop", step_reply_window=0)

    @app.step(timeout=30, name="charge-payment")
    def charge(amount: int) -> str:
        RUNS["v1 charge"] += 1
        return f"charged {amount}"

    @app.workflow("checkout")
    async def checkout(ctx: Context, amount: int) -> dict[str, Any]:
        reservation = await ctx.step("reserve", lambda: "reserved")
        payment = await ctx.step("charge", charge, amount)
        return {"reservation": reservation, "payment": payment}

    return app


def v2_renamed_operation() -> App:
    app = App("shop")

    @app.step(timeout=30, name="charge-payment")
    def charge(amount: int) -> str:
        RUNS["v2 charge"] += 1
        return f"charged {amount}"

    @app.workflow("checkout")
    async def checkout(ctx: Context, amount: int) -> dict[str, Any]:
        reservation = await ctx.step("reserve", lambda: "reserved")
        payment = await ctx.step("charge-card", charge, amount)  # renamed operation
        return {"reservation": reservation, "payment": payment}

    return app


def v2_new_step_first() -> App:
    app = App("shop")

    @app.step(timeout=30, name="charge-payment")
    def charge(amount: int) -> str:
        RUNS["v2 charge"] += 1
        return f"charged {amount}"

    @app.step(timeout=30)
    def fraud_check(amount: int) -> bool:
        RUNS["v2 fraud-check"] += 1
        return True

    @app.workflow("checkout")
    async def checkout(ctx: Context, amount: int) -> dict[str, Any]:
        await ctx.step("fraud-check", fraud_check, amount)  # inserted before the recorded steps
        reservation = await ctx.step("reserve", lambda: "reserved")
        payment = await ctx.step("charge", charge, amount)
        return {"reservation": reservation, "payment": payment}

    return app


def v2_dropped_step() -> App:
    app = App("shop")

    @app.step(timeout=30, name="charge-payment")
    def charge(amount: int) -> str:
        RUNS["v2 charge"] += 1
        return f"charged {amount}"

    @app.workflow("checkout")
    async def checkout(ctx: Context, amount: int) -> dict[str, Any]:
        payment = await ctx.step("charge", charge, amount)  # "reserve" removed
        return {"reservation": None, "payment": payment}

    return app


def v2_renamed_declared_step() -> App:
    app = App("shop")

    @app.step(timeout=30, name="charge-card")  # the step function's name changed
    def charge(amount: int) -> str:
        RUNS["v2 charge"] += 1
        return f"charged {amount}"

    @app.workflow("checkout")
    async def checkout(ctx: Context, amount: int) -> dict[str, Any]:
        reservation = await ctx.step("reserve", lambda: "reserved")
        payment = await ctx.step("charge", charge, amount)
        return {"reservation": reservation, "payment": payment}

    return app


def v2_patched() -> App:
    app = App("shop")

    @app.step(timeout=30, name="charge-payment")
    def charge(amount: int) -> str:
        RUNS["v2 charge"] += 1
        return f"charged {amount}"

    @app.step(timeout=30)
    def fraud_check(amount: int) -> bool:
        RUNS["v2 fraud-check"] += 1
        return True

    @app.workflow("checkout")
    async def checkout(ctx: Context, amount: int) -> dict[str, Any]:
        if ctx.patched("fraud-check"):
            await ctx.step("fraud-check", fraud_check, amount)
        reservation = await ctx.step("reserve", lambda: "reserved")
        payment = await ctx.step("charge", charge, amount)
        return {"reservation": reservation, "payment": payment}

    return app


@pytest.fixture
def in_flight() -> Iterator[tuple[LocalCloud, str]]:
    """A v1 checkout whose declared step was dispatched but has not reported yet."""
    RUNS.clear()
    with LocalCloud(v1()) as cloud:
        cloud.eager = False
        handle = cloud.client().start("checkout", 42)
        cloud._drain_queue()  # reserve runs inline, charge is dispatched
        assert [i.step for i in cloud._step_queue] == ["charge-payment"]
        yield cloud, handle.execution_id


def deploy(cloud: LocalCloud, app: App) -> None:
    """What a new Lambda version does: every handler loads the new code; the state stays."""
    cloud.app = cloud.env.app = app


def finish(cloud: LocalCloud, execution_id: str) -> Any:
    cloud.eager = True
    cloud.run_until_complete(execution_id)
    return cloud.client().describe(execution_id)


def test_renamed_operation_fails_naming_both_names(in_flight: tuple[LocalCloud, str]) -> None:
    cloud, execution_id = in_flight
    deploy(cloud, v2_renamed_operation())
    desc = finish(cloud, execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.NonDeterminismError"
    assert "'charge'" in desc.error["message"] and "'charge-card'" in desc.error["message"]
    assert RUNS == {"v2 charge": 1}  # the in-flight attempt of the old operation; charge-card never ran


def test_step_inserted_before_recorded_ones_fails_before_it_runs(in_flight: tuple[LocalCloud, str]) -> None:
    cloud, execution_id = in_flight
    deploy(cloud, v2_new_step_first())
    desc = finish(cloud, execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.NonDeterminismError"
    message = desc.error["message"]
    assert "'charge'" in message and "'reserve'" in message and "'fraud-check'" in message
    assert RUNS["v2 fraud-check"] == 0  # the new step did not run for an execution of the old code
    history = [e.detail["name"] for e in cloud.client().history(execution_id) if e.detail_type == "Step.dispatched"]
    assert history == ["charge"]


def test_dropped_step_fails_instead_of_succeeding_with_a_wrong_result(in_flight: tuple[LocalCloud, str]) -> None:
    cloud, execution_id = in_flight
    deploy(cloud, v2_dropped_step())
    desc = finish(cloud, execution_id)
    assert desc.status == "FAILED" and desc.result is None
    assert "'reserve'" in desc.error["message"]


def test_renamed_declared_step_function_fails_naming_the_step(in_flight: tuple[LocalCloud, str]) -> None:
    """The in-flight invoke names ``charge-payment``, which the new code no longer declares."""
    cloud, execution_id = in_flight
    deploy(cloud, v2_renamed_declared_step())
    desc = finish(cloud, execution_id)
    assert desc.status == "FAILED"
    assert "declared step 'charge-payment' is not in app 'shop'" in desc.error["message"]
    assert sum(RUNS.values()) == 0


def test_patched_change_keeps_running_executions_on_the_old_path(in_flight: tuple[LocalCloud, str]) -> None:
    cloud, execution_id = in_flight
    deploy(cloud, v2_patched())
    desc = finish(cloud, execution_id)
    assert desc.result == {"reservation": "reserved", "payment": "charged 42"}
    assert RUNS == {"v2 charge": 1}
    new = cloud.client().start("checkout", 7)  # a new execution takes the new path
    assert new.result() == {"reservation": "reserved", "payment": "charged 7"}
    assert RUNS["v2 fraud-check"] == 1
