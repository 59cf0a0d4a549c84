"""``stepbridge cost``: operations counted statically from workflow sources, weighted by the traffic file."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.cli import main
from stepbridge.cost.estimate import estimate, execution_usage
from stepbridge.cost.ops import workflow_ops
from stepbridge.cost.prices import prices_for
from stepbridge.cost.traffic import Defaults, parse_traffic
from stepbridge.errors import StepbridgeError

ROUNDS = 4


class Declined(Exception):
    """A card was declined."""


def _app() -> App:
    app = App("costops")

    def work(x: int) -> int:
        return x

    @app.step(memory=1024)
    def remote(x: int) -> int:
        return x

    @app.workflow("leaf")
    async def leaf(ctx: Context, x: int) -> int:
        return int(await ctx.step("leaf-work", remote, x))

    @app.workflow("shapes")
    async def shapes(ctx: Context, items: list[int]) -> int:
        await ctx.step("first", work, 0)
        if items[0] > 10:
            return 0  # early exit: what follows runs only on the other path
        for i in range(1, ROUNDS + 1):
            await ctx.step(f"round-{i}", work, i)
        try:
            await ctx.step("charge", remote, 1)
        except Declined:
            await ctx.sleep(timedelta(days=1))
        await ctx.gather(*[ctx.step(f"part-{i}", remote, i) for i in items])
        await ctx.map("each", items, remote)
        await ctx.child(leaf, 1)
        await ctx.send("Shapes.done", {})
        return 1

    return app


def _ops(data: dict[str, Any]) -> dict[str, float]:
    traffic = parse_traffic({"workflows": {"shapes": {"executions": 1, **data}}})
    return workflow_ops(_app(), "shapes", traffic.workflows["shapes"], traffic.defaults, traffic.workflows).per_kind()


BASE = {"items": {"part-{i}": 3, "each": 5}}


def test_loops_comprehensions_maps_children_and_early_returns() -> None:
    per = _ops({**BASE, "branches": {"items[0] > 10": 0.0}})
    # first + 4 rounds (range(1, ROUNDS + 1) read from the module) inline; charge, 3 parts, 5 map items and
    # the child's leaf-work declared; one child, one send; the except handler is not taken by default. charge and
    # leaf-work are awaited alone (answered in-process: runtime/stepreply.py), the gather's and the map's run
    # concurrently (woken through the queue).
    assert per == {"inline_step": 5, "declared_step": 1 + 1, "declared_step_queued": 3 + 5, "child": 1, "send": 1}


def declared(per: dict[str, float]) -> float:
    """Declared step attempts of either kind."""
    return per.get("declared_step", 0.0) + per.get("declared_step_queued", 0.0)


def test_early_return_weights_the_rest_of_the_path() -> None:
    per = _ops({**BASE, "branches": {"items[0] > 10": 0.5, "except Declined": 0.1}})
    assert per["inline_step"] == pytest.approx(1 + 0.5 * 4)
    assert declared(per) == pytest.approx(0.5 * 10)
    assert per["sleep"] == pytest.approx(0.5 * 0.1)


def test_loop_iterations_and_step_traffic_override() -> None:
    per = _ops({**BASE, "branches": {"items[0] > 10": 0.0},
                "loops": {"for i in range(1, ROUNDS + 1)": 10}, "steps": {"charge": {"attempts": 2}}})
    assert per["inline_step"] == 1 + 10
    assert declared(per) == 2 + 3 + 5 + 1


def test_map_without_an_item_count_is_a_clear_error() -> None:
    with pytest.raises(StepbridgeError, match=r"ctx.map 'each' needs its expected item count.*items.each: N"):
        _ops({"items": {"part-{i}": 3}})


def test_payload_size_adds_write_units_and_chunks() -> None:
    app = _app()
    traffic = parse_traffic({"workflows": {"leaf": {"executions": 1}}})
    ops = workflow_ops(app, "leaf", traffic.workflows["leaf"], Defaults())
    small, big = execution_usage(ops, 0), execution_usage(ops, 100)
    # the header (2 records: item and GSI copy) and the step result carry the payload: ceil(100.25) = 101 WRU each
    assert big["WRU"] - small["WRU"] == 3 * 100
    # 100 KB is two 64 KB SQS chunks: every SQS request of the execution counts twice
    assert big["SQS.extra_chunks"] == sum(small[k] for k in ("SQS.SendMessage", "SQS.ReceiveMessage",
                                                              "SQS.DeleteMessage"))


def test_declared_step_memory_and_duration_drive_gb_seconds() -> None:
    app = _app()
    prices = prices_for("us-east-1")
    fast = estimate(app, parse_traffic({"defaults": {"step_duration_ms": 0},
                                        "workflows": {"leaf": {"executions": 1_000_000}}}), prices)
    slow = estimate(app, parse_traffic({"defaults": {"step_duration_ms": 1000},
                                        "workflows": {"leaf": {"executions": 1_000_000}}}), prices)
    # 1M x 1 s at 1024 MB = 1M GB-s more, plus the orchestrator (512 MB) waiting for the answer: 0.5M GB-s
    extra = slow.by_service()["Lambda duration"] - fast.by_service()["Lambda duration"]
    assert extra == pytest.approx(1_500_000 * prices["lambda_gb_s_arm64"])


def test_a_declared_step_that_outlasts_the_reply_window_is_priced_with_the_queue_and_the_wait() -> None:
    app = _app()
    traffic = parse_traffic({"defaults": {"step_duration_ms": 5000}, "workflows": {"leaf": {"executions": 1}}})
    ops = workflow_ops(app, "leaf", traffic.workflows["leaf"], traffic.defaults, traffic.workflows)
    assert ops.per_kind() == {"declared_step_queued": 1}
    assert ops.occurrences[0].waited_ms == 1000.0  # the orchestrator waited the whole window in vain
    usage = execution_usage(ops)
    assert usage["SQS.SendMessage"] == 2 and usage["Lambda.orchestrator"] == 2  # the start and the step's wake-up


def test_cli_prints_json_and_markdown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traffic = tmp_path / "traffic.yaml"
    traffic.write_text("workflows:\n  customer-onboarding:\n    executions: 1000000\n", encoding="utf-8")
    assert main(["cost", "functions/app.py", "--traffic", str(traffic), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["region"] == "us-east-1" and out["by_service"]["S3"] == 0
    flow = out["workflows"][0]
    assert flow["operations_per_execution"] == {"declared_step": 1, "inline_step": 2, "record": 1}  # ctx.now()
    assert out["comparison"]["step_functions_standard"] > out["monthly_total"] > 0
    assert main(["cost", "functions/app.py", "--traffic", str(traffic), "--format", "markdown"]) == 0
    assert "| Step Functions Standard |" in capsys.readouterr().out


def test_cli_bad_traffic_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    traffic = tmp_path / "traffic.yaml"
    traffic.write_text("workflows:\n  customer-onboarding:\n    executions: 10\n    steps: {nope: 0.5}\n",
                       encoding="utf-8")
    assert main(["cost", "functions/app.py", "--traffic", str(traffic)]) == 2
    err = capsys.readouterr().err.strip()
    assert "steps 'nope' not found" in err and "'welcome-email'" in err and "\n" not in err


def test_child_steps_are_weighted_by_the_childs_own_traffic() -> None:
    traffic = {"executions": 1, **BASE, "branches": {"items[0] > 10": 0.0}}
    with pytest.raises(StepbridgeError, match="steps 'leaf-work' not found"):
        _ops({**traffic, "steps": {"leaf-work": 0.5}})
    data = parse_traffic({"workflows": {"shapes": traffic, "leaf": {"executions": 0, "steps": {"leaf-work": 0.5}}}})
    per = workflow_ops(_app(), "shapes", data.workflows["shapes"], data.defaults, data.workflows).per_kind()
    assert declared(per) == 1 + 3 + 5 + 0.5
