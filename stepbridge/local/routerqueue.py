"""LocalCloud's router queue: EventBridge rules -> SQS (standard) -> router, as the template builds it.

A rule's target is the router queue (``RouterQueue``): EventBridge sends the (transformed) event as
a message, and the router consumes the queue through an event source mapping with batch item
failures. A message whose routing failed is received again, until SQS moves it to
``RouterDeadLetterQueue`` after ``ROUTER_MAX_RECEIVES`` receives (the redrive policy's
``maxReceiveCount``). A container crash returns the whole batch, each receive counted, as Lambda
does when a function errors or times out on an SQS batch.

One simplification, as for the work queue: a failed message is visible again at once instead of
after the queue's visibility timeout (6 x the router's timeout in the template). Retries come
sooner on the virtual clock, never fewer; the number of tries before the dead-letter queue is AWS's.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from stepbridge.config import ROUTER_BATCH_SIZE, ROUTER_MAX_RECEIVES
from stepbridge.handlers import router as router_handler
from stepbridge.local.values import Crash
from stepbridge.runtime.ids import new_id
from stepbridge.runtime.observability import logger

if TYPE_CHECKING:
    from stepbridge.local.cloud import LocalCloud

#: ``LocalCloud.calls`` key: messages EventBridge sent to the router queue (SQS requests no handler makes).
SENDS = "router-queue.SendMessage"


def send(cloud: LocalCloud, delivery: dict[str, Any], *, again: bool = False) -> None:
    """A rule's target: EventBridge sends the delivery to the router queue. It delivers at least once:
    fault hooks ``event.duplicate`` (a second copy now) and ``event.late_duplicate`` (one much later,
    after the first was routed); ``again`` marks such a late copy, which draws no more copies."""
    cloud.resources.send_event(delivery)
    cloud.calls[SENDS] += 1
    cloud._router_pending += 1
    cloud._router_dirty = True
    faults = cloud.faults
    if faults is None or again:
        return
    if faults.on_event_delivery():
        cloud.resources.send_event(delivery)
        cloud.calls[SENDS] += 1
        cloud._router_pending += 1
    if (later := faults.event_again()) is not None:
        at = cloud.clock.now() + timedelta(seconds=later)
        cloud.timers.add(f"$event-again:{new_id()}", at, delivery=delivery)


def deliver_batch(cloud: LocalCloud) -> bool:
    """Receive one batch of the router queue and run the router on it; ``False`` when the queue was empty."""
    records: list[dict[str, Any]] = cloud.resources.receive_events(ROUTER_BATCH_SIZE)
    if not records:
        cloud._router_dirty = False  # nothing is sent to it but through LocalCloud: skip receives until then
        cloud._router_pending = 0  # (messages SQS moved to the dead-letter queue at a receive included)
        return False
    for rec in records:
        body = json.loads(rec["body"])
        cloud.router_receives["trigger" if isinstance(body, dict) and "trigger" in body else "event"] += 1
    failed: set[str]
    try:
        with cloud._invoking("router"):
            result = router_handler.handle({"Records": records}, cloud.env)
        failed = {str(f["itemIdentifier"]) for f in result.get("batchItemFailures", [])}
    except Crash:
        cloud.crashes["router"] += 1  # the container died: every message of the batch comes back
        failed = {str(rec["messageId"]) for rec in records}
    except Exception:  # the function failed as a whole: Lambda returns the whole batch too
        logger().exception("the router function failed; its batch returns to the router queue")
        cloud.crashes["router"] += 1
        failed = {str(rec["messageId"]) for rec in records}
    for rec in records:
        if str(rec["messageId"]) not in failed:
            cloud.resources.delete_event(rec["receiptHandle"])
            cloud._router_pending -= 1
            continue
        cloud.router_receives["failed"] += 1
        cloud.resources.release_event(rec["receiptHandle"])
        if int((rec.get("attributes") or {}).get("ApproximateReceiveCount") or 1) >= ROUTER_MAX_RECEIVES:
            # SQS moves it to the router's dead-letter queue (its alarm fires): an event given up on.
            cloud.failed_deliveries.append({"target": "router", "payload": json.loads(rec["body"]),
                                            "error": f"received {ROUTER_MAX_RECEIVES} times, never routed"})
    if cloud.faults is None:
        # LocalCloud made every send to this queue (it is EventBridge's rule target): with none left
        # undeleted, a receive would come back empty (batch size 1 cannot tell that by a short batch). Below
        # zero, someone else sent (a redrive): receive until the queue is found empty.
        cloud._router_dirty = cloud._router_pending != 0
        cloud._router_pending = max(cloud._router_pending, 0)
    return True
