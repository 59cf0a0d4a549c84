"""Seed "Workflow Performance", "Workflow Caching" and "Workflow Debouncing".

| workflow             | seed section                                                            |
|----------------------|-------------------------------------------------------------------------|
| parallel-processing  | Parallel Execution: sequential, parallel, and 100 operations 10 at a time |
| expensive-operation  | Workflow Caching: whole result cached by input for 1 hour               |
| search-index-update  | Workflow Debouncing: ``Entity.updated`` debounced 5 s per ``entityId``  |
| broadcast-announcement | (beyond the seed) partial failure: notify every subscriber, tolerate 10 % |

The seed's ``batchProcess`` worker pool is ``ctx.map(name, items, fn, concurrency=10)``: one
durable step per item (``operation-0`` ... ``operation-99``), at most 10 outstanding, results
in item order. The seed's hand-made cache and ``debounceMap`` become declarations: the
engine keeps the cache and the debounce timers in DynamoDB and Scheduler, so they work across
Lambda instances (an in-memory map does not).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import fakes
from appdef import app
from models import EntityUpdate

from stepbridge import Completion, Context, NonRetryableError

OPERATIONS = 100
CONCURRENCY = 10


@app.workflow("parallel-processing")
async def parallel_processing(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """The same three operations one after another, then concurrently, then 100 of them 10 at a time."""

    async def sequential() -> list[dict[str, Any]]:
        return [await fakes.compute.operation_async(data, n) for n in (1, 2, 3)]

    async def parallel() -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(fakes.compute.operation_async(data, n) for n in (1, 2, 3))))

    # Sequential (slow)
    slow = await ctx.step("sequential", sequential)
    # Parallel (fast)
    fast = await ctx.step("parallel", parallel)
    # Parallel with concurrency limit: 100 durable steps, 10 at a time.
    limited = await ctx.map(
        "operation", list(range(OPERATIONS)), lambda i: fakes.compute.operation_async(data, i), concurrency=CONCURRENCY
    )
    return {"slow": slow, "fast": fast, "limited": limited}


@app.workflow("expensive-operation", cache_ttl=timedelta(hours=1))
async def expensive_operation(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """A long computation; results are cached for an hour per input, shared by all executions."""
    return await ctx.step("expensive", fakes.compute.complex_calculation, data)


@app.workflow("search-index-update")
async def search_index_update(ctx: Context, update: EntityUpdate) -> dict[str, Any]:
    """Reindex one entity; runs once per burst of updates (5 s after the last one)."""
    return await ctx.step("update-index", fakes.search.update_index, update.entity_id, update.wire())


# Debounce: only run when no new Entity.updated arrived for the same entity for 5 seconds;
# the latest event is the input.
app.on("Entity.updated", search_index_update, debounce=timedelta(seconds=5), key="detail.entityId")


def deliver_notice(subscriber: str) -> dict[str, Any]:
    """Notify one subscriber; an address that bounces fails for good (no retry will fix it)."""
    if "bounce" in subscriber:
        raise NonRetryableError(f"{subscriber}: mailbox does not exist")
    return fakes.notifier.notify("email", "announcement", to=subscriber)


@app.workflow("broadcast-announcement")
async def broadcast_announcement(ctx: Context, subscribers: list[str]) -> dict[str, Any]:
    """Notify every subscriber, 20 at a time; up to 10 % may bounce, more fails the broadcast."""
    batch = await ctx.map("notify", subscribers, deliver_notice, concurrency=20,
                          completion=Completion(tolerated_failures="10%"))
    batch.raise_if_failed()  # more than 10 % bounced: the first bounce is raised, the execution fails
    bounced = [subscribers[item.index] for item in batch.failed()]
    return {"delivered": len(batch.succeeded()), "bounced": bounced, "reason": batch.reason}
