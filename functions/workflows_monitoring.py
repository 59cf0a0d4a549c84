"""Seed "Workflow Monitoring": progress tracking and metrics.

| workflow | seed section                                                                |
|----------|-----------------------------------------------------------------------------|
| tracked  | Progress Tracking: ``Workflow.progress {step, total}`` around five steps     |
| measured | Workflow Metrics: duration + status as a metric and a ``Metric.record`` event |

``ctx.progress`` emits ``Workflow.progress`` once per call (never again on replay) and keeps
the latest value on the execution (``client.describe(id).progress``). ``ctx.metric`` goes to
CloudWatch through Powertools Metrics (EMF).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import fakes
from appdef import app

from stepbridge import Context

TRACKED_STAGES = ("validate", "transform", "enrich", "store", "publish")


@app.workflow("tracked")
async def tracked(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Five operations, reporting progress before each (1/5 ... 5/5) and when done."""
    total = len(TRACKED_STAGES)
    results = []
    for number, stage in enumerate(TRACKED_STAGES, start=1):
        await ctx.progress(step=number, total=total, message=f"{stage} started")
        results.append(await ctx.step(f"step-{number}", fakes.compute.operation, data, number))
    await ctx.progress(step=total, total=total, message="done")
    return {"stages": list(TRACKED_STAGES), "results": results}


@app.workflow("measured")
async def measured(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Run one operation and record how long it took and whether it worked."""
    started = ctx.now()
    try:
        result = await ctx.step("operation", fakes.compute.operation, data, 1)
    except Exception:
        await _record(ctx, started, "failure")
        raise
    await _record(ctx, started, "success")
    return result


async def _record(ctx: Context, started: datetime, status: str) -> None:
    """The seed's ``send.Metric.record``: a CloudWatch metric plus an event for other consumers."""
    duration_ms = (ctx.now() - started).total_seconds() * 1000  # both instants are journaled: replay-safe
    ctx.metric("WorkflowDuration", duration_ms, unit="Milliseconds")
    ctx.metric("WorkflowSucceeded" if status == "success" else "WorkflowFailed", 1)
    await ctx.send("Metric.record", {"workflow": "measured", "duration": duration_ms, "status": status})
