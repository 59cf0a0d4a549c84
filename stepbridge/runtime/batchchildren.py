"""Large ``ctx.map``: child batches, so a 10,000-way fan-out stays inside one execution's journal limits.

A declared step item costs its execution two journal records (the dispatch and the result) plus
their share of acks, so a flat map of 10,000 declared steps would need over 20,000 records, past
``limits.MAX_JOURNAL_RECORDS`` (and every wake-up would replay all of them). Over
:data:`CHILD_BATCH_ITEMS` items of a declared step, ``ctx.map`` therefore runs the items in child
workflows of the built-in workflow :data:`MAP_WORKFLOW`, each a flat map of at most
``CHILD_BATCH_ITEMS`` items with the map's whole ``concurrency``, **one child after another**: the
parent's journal holds two records per child (10,000 items: 10 children, 20 records), each child's
at most about 2,000 + its acks, and the replay work per item stays that of a 1,000-item map instead
of growing with N (a flat map replays all N items on each of its ~N/concurrency wake-ups).

The items keep their names (``{name}-{i}`` with the global index, each in its child's journal); the
children are ``{name}-batch-{j}``. Results come back in item order, decoded to the step's return
type; without ``completion=`` the first failure (by position) of the first failing child is raised
and no later child starts (a flat map's rule: after a failure no new item starts). With
``completion=`` each child decides with the counts of the children before it plus its own, against
the whole map's total, so the policy holds across the map exactly as in a flat map taken in item
order: a child that decides ends the map (no later child starts), and its in-flight items are
abandoned inside it (runtime/batch.py). The parent needs no decision record of its own: the children's
recorded results are the decision.

Flat instead (documented in docs/API.md): inline functions (one record per item: a flat map fits up
to ~20,000 of them), and maps with ``retry=`` (a ``Retry`` may hold exception classes, which do not
travel in a child's JSON input).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stepbridge.api.completion import (
    ALL_COMPLETED,
    FAILED,
    NOT_STARTED,
    REASONS,
    SUCCEEDED,
    BatchItem,
    BatchResult,
    Completion,
)
from stepbridge.runtime import children
from stepbridge.runtime.codec import from_json_value, return_type
from stepbridge.runtime.errorcodec import rebuild_error

if TYPE_CHECKING:
    from stepbridge.runtime.replay import Replay

#: Items per child batch; a map of a declared step over this many items runs in child batches.
CHILD_BATCH_ITEMS = 1_000
#: The built-in workflow that runs one child batch (not in ``app.workflows``; runtime/batchslice.py runs it).
MAP_WORKFLOW = "stepbridge.map"
#: A child's own reason when its slice ended without deciding the whole map.
SLICE_DONE = "slice_completed"


def splits(rp: Replay, fn: Callable[..., object], n: int, retry: object) -> bool:
    """Whether ``ctx.map`` over ``n`` items of ``fn`` runs in child batches (see the module doc)."""
    return n > CHILD_BATCH_ITEMS and retry is None and rp.app.step_for(fn) is not None


async def map_in_children(
    rp: Replay,
    name: str,
    values: list[object],
    fn: Callable[..., object],
    *,
    concurrency: int,
    timeout: float | None,
    completion: Completion | None,
) -> Any:
    """The parent's side: one child per slice, one after another; flat results or a ``BatchResult``."""
    step = rp.app.step_for(fn)
    assert step is not None
    total = len(values)
    if completion is not None:
        completion.check_total(total, f"ctx.map('{name}')")
    items: list[BatchItem[Any]] = [BatchItem(i, NOT_STARTED) for i in range(total)]
    succeeded = failed = 0
    reason: str | None = None
    serde = step.serde or rp.app.serde
    kind = return_type(fn)
    for j, offset in enumerate(range(0, total, CHILD_BATCH_ITEMS)):
        chunk = values[offset : offset + CHILD_BATCH_ITEMS]
        spec: dict[str, Any] = {
            "name": name, "step": step.name, "items": chunk, "offset": offset, "total": total,
            "concurrency": concurrency, "timeout": timeout,
            "completion": policy_json(completion), "before": [succeeded, failed],
        }
        op = f"{name}-batch-{j}"
        handle = await children.start_child(rp, op, MAP_WORKFLOW, spec, None)
        out = await handle.result()
        assert isinstance(out, dict)
        if completion is None:
            if out.get("error") is not None:
                raise rebuild_error(dict(out["error"]), op)
            for i, value in enumerate(out["results"]):
                items[offset + i] = BatchItem(offset + i, SUCCEEDED, result=from_json_value(value, kind, serde))
            continue
        for i, status in enumerate(out["statuses"]):
            index = offset + i
            if status == SUCCEEDED:
                items[index] = BatchItem(index, status, result=from_json_value(out["results"][i], kind, serde))
                succeeded += 1
            elif status == FAILED:
                items[index] = BatchItem(index, status, error=rebuild_error(dict(out["errors"][str(i)]),
                                                                            f"{name}-{index}"))
                failed += 1
            else:
                items[index] = BatchItem(index, status)
        if out["reason"] in REASONS:
            reason = str(out["reason"])
            break
    if completion is None:
        return [i.result for i in items]
    return BatchResult(items, reason or ALL_COMPLETED, completion)


def policy_json(completion: Completion | None) -> dict[str, Any] | None:
    if completion is None:
        return None
    return {"min_successful": completion.min_successful, "tolerated_failures": completion.tolerated_failures}
