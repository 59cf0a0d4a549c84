"""Router Lambda: consumes the router queue, which the app bus's rules deliver to.

Each SQS message body is what a rule's target received: a trigger rule wraps the event as
``{"trigger": name, "event": <the event>}`` (InputTransformer); the catch-all rule delivers the raw
event (waiters, state machines, event log). The queue sits between the bus and the router so an
event whose routing fails is retried up to the queue's ``maxReceiveCount`` (not Lambda's two async
retries) before it reaches ``RouterDeadLetterQueue`` (docs/RELIABILITY.md, "The router's queue").

Partial batch responses (``ReportBatchItemFailures``): a record whose routing raised is reported and
redelivered after the visibility timeout; its batch-mates are deleted. A record that is not an
EventBridge event can never succeed: it is logged once and dropped (reporting it would only
redeliver it until the dead-letter queue). A direct EventBridge event (an asynchronous invoke, as
the rules made before the queue existed, or a test) is still routed; anything else (``{}``, S3
records, an HTTP request) is logged once and the invocation returns normally.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepbridge.handlers import shapes
from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.guard import EngineSignal, InfrastructureFailure
from stepbridge.runtime.observability import flush_metrics, logger
from stepbridge.runtime.records import Event
from stepbridge.runtime.router import Router

#: How much of a malformed body the log line keeps.
_EXCERPT = 1024


def handle(event: dict[str, Any], env: Environment) -> dict[str, Any]:
    """Route an SQS batch of rule deliveries (``{"batchItemFailures": [...]}``), or one direct delivery."""
    router = Router(env.app, env.store, env.effects)
    if shapes.is_sqs_batch(event):
        failures = [{"itemIdentifier": str(r.get("messageId", ""))}
                    for r in event["Records"] if not _route_record(router, r)]
        flush_metrics()
        return {"batchItemFailures": failures}
    wrapped = isinstance(event, dict) and "trigger" in event
    if not shapes.is_eventbridge_event(event["event"] if wrapped else event):
        logger().error("the router received an event that is not an EventBridge event; ignored",
                       extra={"received": shapes.describe(event["event"] if wrapped else event)})
        return {"routed": False}
    outcome = _route(router, event)
    flush_metrics()
    return outcome


def _route(router: Router, delivery: Mapping[str, Any]) -> dict[str, Any]:
    """Route one rule delivery (a wrapped trigger event or a raw event); raises what routing raised."""
    if "trigger" in delivery:
        return {"started": router.handle_trigger(str(delivery["trigger"]), Event.from_eventbridge(delivery["event"]))}
    router.handle_event(Event.from_eventbridge(dict(delivery)))
    return {"routed": True}


def _route_record(router: Router, record: Mapping[str, Any]) -> bool:
    """Route one SQS record; ``False`` when it must be redelivered (its routing failed)."""
    message_id = str(record.get("messageId", ""))
    try:
        delivery = json.loads(record["body"])
        inner = delivery.get("event") if isinstance(delivery, dict) and "trigger" in delivery else delivery
        if not shapes.is_eventbridge_event(inner):
            raise ValueError(f"not an EventBridge event: {shapes.describe(inner)}")
    except (KeyError, ValueError, TypeError) as exc:
        logger().error("malformed router message dropped", extra={
            "message_id": message_id, "error": f"{type(exc).__name__}: {exc}",
            "body_excerpt": str(record.get("body"))[:_EXCERPT]})
        return True
    try:
        _route(router, delivery)
        return True
    except (InfrastructureFailure, ClientError, BotoCoreError) as failure:
        # Throttling, timeouts, a service hiccup: the queue redelivers it (up to maxReceiveCount).
        logger().warning("infrastructure failure, event will be retried",
                         extra={"message_id": message_id, "error": str(failure)})
        return False
    except (KeyboardInterrupt, EngineSignal):
        raise  # a real interrupt (never in Lambda) or LocalCloud's simulated container death: the batch returns
    except Exception:
        logger().exception("routing failed, event will be retried", extra={"message_id": message_id})
        return False


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment())
