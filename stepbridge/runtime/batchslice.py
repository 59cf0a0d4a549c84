"""The child side of a large ``ctx.map``'s child batches (runtime/batchchildren.py): the built-in workflow
:data:`~stepbridge.runtime.batchchildren.MAP_WORKFLOW` runs one slice as a flat map (runtime/batch.py).

It is registered with :mod:`stepbridge.runtime.builtin` on import (the engine imports this module), so the
engine and ``children`` find it by name without importing ``batch`` (no import cycle).
"""

from __future__ import annotations

from typing import Any

from stepbridge.api.app import App, WorkflowDef
from stepbridge.api.completion import ABANDONED, ALL_COMPLETED, FAILED, SUCCEEDED, Completion
from stepbridge.runtime import batch, builtin
from stepbridge.runtime.batchchildren import MAP_WORKFLOW, SLICE_DONE
from stepbridge.runtime.errorcodec import error_dict
from stepbridge.runtime.replay import Replay


@builtin.register
def workflow_for(app: App, name: str) -> WorkflowDef | None:
    """The built-in child-batch workflow when ``name`` is :data:`MAP_WORKFLOW`."""
    if name != MAP_WORKFLOW:
        return None
    return WorkflowDef(name=name, fn=_run_slice, input_type=Any, takes_input=True,
                       description="runs one child batch of a large ctx.map")


async def _run_slice(ctx: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """The child's side (the workflow :data:`MAP_WORKFLOW`): a flat map of one slice, its outcome as JSON."""
    rp: Replay = ctx.replay
    step = rp.app.steps[str(spec["step"])]
    name, offset, total = str(spec["name"]), int(spec["offset"]), int(spec["total"])
    values = list(spec["items"])
    timeout = spec.get("timeout")

    def run_item(op: str, value: object) -> Any:
        return ctx.step(op, step.fn, value, timeout=timeout)

    if spec.get("completion") is None:
        try:
            results = await batch.map_all(rp, name, values, step.fn, run_item, int(spec["concurrency"]), offset)
        except Exception as exc:
            return {"error": error_dict(exc)}
        return {"results": results}
    completion = Completion(**spec["completion"])
    base_ok, base_failed = (int(v) for v in spec["before"])

    def decide(succeeded: int, failed: int) -> str | None:
        reason = completion.decide(base_ok + succeeded, base_failed + failed, total)
        if reason == ALL_COMPLETED and base_ok + base_failed + succeeded + failed < total:
            reason = None  # (cannot happen: all completed needs every item, including later slices)
        if reason is None and succeeded + failed >= len(values):
            return SLICE_DONE
        return reason

    result = await batch.map_with_policy(
        rp, name, values, step.fn, run_item, int(spec["concurrency"]), completion, offset=offset, decide=decide
    )
    return {
        "reason": result.reason,
        "statuses": [i.status for i in result.items],
        "results": [i.result if i.status == SUCCEEDED else None for i in result.items],
        "errors": {str(i.index): error_dict(i.error) for i in result.items if i.status == FAILED and i.error},
        "abandoned": sum(1 for i in result.items if i.status == ABANDONED),
    }
