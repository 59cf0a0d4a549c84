"""LocalCloud's work queue -> orchestrator delivery: what the SQS event source mapping of the FIFO work queue does.

One receive of up to ``RECEIVE_BATCH`` messages goes to one orchestrator invocation in one of the cloud's
orchestrator containers (chosen at random, as a mapping spreads batches over concurrent instances). Messages
the handler names in ``batchItemFailures`` become visible again, the others are deleted; a container crash
returns the whole batch and drops the container's memory (its journal cache and parked workflows).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepbridge.handlers import orchestrator as orchestrator_handler
from stepbridge.local.suspended import store_calls
from stepbridge.local.values import Crash, LocalOrchestratorContext

if TYPE_CHECKING:
    from stepbridge.local.cloud import LocalCloud

#: The work queue's batch size (SQS's maximum per ReceiveMessage; API_ReceiveMessage.html).
RECEIVE_BATCH = 10


def deliver_work_batch(cloud: LocalCloud) -> bool:
    """Receive one batch and run the orchestrator on it; False when the queue had nothing to deliver."""
    if not cloud._queue_dirty and cloud.faults is None:
        return False  # nothing was sent since the queue was last found empty: skip the receive
    records = cloud.resources.receive(RECEIVE_BATCH)
    if not records:
        cloud._queue_dirty = False
        return False
    if len(records) < RECEIVE_BATCH and cloud.faults is None:
        # A short batch took every visible message (one receiver; a batch may hold many of one group).
        cloud._queue_dirty = False
    if cloud.faults is not None:
        records = cloud.faults.reorder(records, cloud.resources)  # fault hook: out-of-order delivery
        if not records:
            return True
    container = cloud._container_rng.randrange(len(cloud.orchestrator_caches))
    if any(cloud.env.journal_cache is c for c in cloud.orchestrator_caches):  # not replaced by a test
        cloud.env.journal_cache = cloud.orchestrator_caches[container]
    cloud._batch = (records, container)
    groups = [str((rec.get("attributes") or {}).get("MessageGroupId", "")) for rec in records]
    cloud._suspended.invoking(groups)
    try:
        with cloud._invoking("orchestrator"), cloud._as_function(None):
            context = LocalOrchestratorContext(cloud.orchestrator_timeout)
            result = orchestrator_handler.handle({"Records": records}, cloud.env, context)
    except Crash:
        cloud.orchestrator_caches[container].clear()  # the container died with its memory
        cloud.crashes["orchestrator"] += 1
        for rec in records:  # the whole batch becomes visible again
            cloud.resources.release(rec["receiptHandle"])
        cloud._queue_dirty = True
        return True
    failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
    if cloud.faults is None:  # (under faults a second copy of a batch may run: run_second_copy)
        succeeded = [rec["messageId"] not in failed for rec in records]
        cloud._suspended.invoked(groups, succeeded, cloud.env.journal_cache, store_calls(cloud.store))
    for rec in records:
        if rec["messageId"] in failed:
            cloud.resources.release(rec["receiptHandle"])
            cloud._queue_dirty = True
        else:
            cloud.resources.delete(rec["receiptHandle"])
            if cloud.faults is not None:
                cloud.faults.after_processed(rec, cloud.resources)  # fault hook: a duplicate delivery
    return True
