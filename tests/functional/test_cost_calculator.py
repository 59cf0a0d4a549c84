"""``stepbridge cost`` against the benchmark meter: the calculator's per-execution AWS calls equal the measured ones.

Three workflows run on LocalCloud (moto) with ``benchmarks.meter`` hooked on every boto3 client;
what one execution made (from its start to two virtual days later, so leftover timers are counted)
is compared with what :func:`stepbridge.cost.estimate.execution_usage` predicts from the static
operation counts and :mod:`stepbridge.cost.model`. Nothing here is random (no retries), so the
comparison is exact.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from benchmarks.cost import measure_execution
from stepbridge import App, Context
from stepbridge.client import Client
from stepbridge.cost.estimate import estimate, execution_usage
from stepbridge.cost.model import api_calls
from stepbridge.cost.ops import workflow_ops
from stepbridge.cost.prices import prices_for
from stepbridge.cost.traffic import parse_traffic
from stepbridge.errors import StepbridgeError

PING = "Cost.ping"


def _app() -> App:
    app = App("costcheck")

    def inc(x: int) -> int:
        return x + 1

    @app.step(timeout=30, memory=512)
    def charge(x: int) -> int:
        return x * 2

    @app.workflow("noop")
    async def noop(ctx: Context) -> str:
        return "ok"

    @app.workflow("checkout")
    async def checkout(ctx: Context, express: bool) -> int:
        x = await ctx.step("validate", inc, 0)
        ctx.now()
        for i in range(3):
            x = await ctx.step(f"line-{i}", inc, x)
        if express:
            x = await ctx.step("charge-card", charge, x)
        else:
            x = await ctx.step("invoice", inc, x)
        return x

    @app.workflow("remind")
    async def remind(ctx: Context, key: str) -> str:
        await ctx.sleep(timedelta(hours=1), name="nap")
        await ctx.send("Cost.reminded", {"key": key}, name="reminded")
        if ctx.patched("ack-timeout"):
            await ctx.wait_for(PING, match={"key": key}, name="ack", timeout=timedelta(days=1))
        return "done"

    @app.workflow("child-charge")
    async def child_charge(ctx: Context, x: int) -> int:
        return int(await ctx.step("charge-in-child", charge, x))

    @app.workflow("parent")
    async def parent(ctx: Context, n: int) -> int:
        total = 0
        for i in range(n):
            total += int(await ctx.child("child-charge", i, name=f"c{i}"))
        return total

    return app


TRAFFIC = {
    "defaults": {"payload_kb": 0},
    "workflows": {
        "checkout": {"executions": 1000, "branches": {"express": 1.0}},
        "remind": {"executions": 1000, "branches": {"ctx.patched('ack-timeout')": 1.0}},
        "parent": {"executions": 1000, "loops": {"for i in range(n)": 2}},
    },
}
RUNS: list[tuple[str, tuple[Any, ...]]] = [("checkout", (True,)), ("remind", ("k1",)), ("parent", (2,))]


def _measure(app: App, workflow: str, args: tuple[Any, ...]) -> dict[str, float]:
    """What one execution made, as the benchmark meter counts it (the benchmarks' own measurement)."""

    def ack(client: Client, execution_id: str) -> None:
        client.send_event(PING, {"key": args[0]})

    return measure_execution(app, workflow, args, ack if workflow == "remind" else None)


@pytest.mark.parametrize(("workflow", "args"), RUNS, ids=[r[0] for r in RUNS])
def test_calculator_calls_equal_measured_calls(workflow: str, args: tuple[Any, ...]) -> None:
    app = _app()
    traffic = parse_traffic(TRAFFIC)
    ops = workflow_ops(app, workflow, traffic.workflows[workflow], traffic.defaults, traffic.workflows)
    predicted = execution_usage(ops, payload_kb=0)
    measured = _measure(app, workflow, args)
    assert api_calls(predicted) == api_calls(measured)
    for unit in ("WRU", "RRU", "EventBridge.event", "Scheduler.invocation",
                 "Lambda.orchestrator", "Lambda.step", "Lambda.router"):
        assert predicted.get(unit, 0.0) == measured.get(unit, 0.0), unit


def test_branch_probability_weights_operations() -> None:
    app = _app()
    data = {"workflows": {"checkout": {"executions": 10, "branches": {"express": 0.25}}}}
    traffic = parse_traffic(data)
    per = workflow_ops(app, "checkout", traffic.workflows["checkout"], traffic.defaults).per_kind()
    assert per == {"inline_step": 4 + 0.75, "declared_step": 0.25, "record": 1}
    step_given = parse_traffic({"workflows": {"checkout": {"executions": 10, "steps": {"charge-card": 0.9}}}})
    per = workflow_ops(app, "checkout", step_given.workflows["checkout"], step_given.defaults).per_kind()
    assert per["declared_step"] == 0.9


def test_monthly_bill_scales_with_executions() -> None:
    app = _app()
    prices = prices_for("us-east-1")
    branch = {"ctx.patched('ack-timeout')": 1.0}
    one = estimate(app, parse_traffic({"workflows": {"remind": {"executions": 1_000_000, "branches": branch}}}),
                   prices)
    two = estimate(app, parse_traffic({"workflows": {"remind": {"executions": 2_000_000, "branches": branch}}}),
                   prices)
    assert two.total == pytest.approx(2 * one.total)
    # 1M reminders: 1 Scheduler invocation and 2 custom events (the send and the awaited event) each.
    assert one.by_service()["Scheduler"] == pytest.approx(1.0)
    assert one.by_service()["EventBridge"] == pytest.approx(2.0)
    assert one.by_service()["S3"] == 0.0
    # Step Functions: final state 1 + Wait + Task (putEvents) + Choice (the if) + Task (task token) = 5.
    assert one.workflows[0].sfn_transitions == 5
    assert one.sfn_total == pytest.approx(5 * 25.0)


@pytest.mark.parametrize(("data", "message"), [
    ({"workflows": {"nope": {"executions": 1}}}, "does not have; workflows:"),
    ({"workflows": {"checkout": {"executions": 1, "steps": {"charge": 0.5}}}}, "steps 'charge' not found"),
    ({"workflows": {"checkout": {"executions": 1, "branches": {"fast": 0.5}}}}, "known branches: 'express'"),
    ({"workflows": {"checkout": {"executions": -1}}}, "workflows.checkout.executions"),
    ({"workflows": {"checkout": {"executions": 1, "steps": {"validate": 1.5}}}}, "probability"),
    ({"workflow": {}}, "workflows"),
])
def test_bad_traffic_is_one_clear_line(data: dict[str, Any], message: str) -> None:
    app = _app()
    with pytest.raises(StepbridgeError, match=message.replace("(", r"\(")) as err:
        estimate(app, parse_traffic(data), prices_for("us-east-1"))
    assert "\n" not in str(err.value)


def test_unknown_region_names_the_known_ones() -> None:
    with pytest.raises(StepbridgeError, match="known: us-east-1"):
        prices_for("mars-1")
