"""Router Lambda: targets of the app bus's rules.

A trigger rule wraps the event as ``{"trigger": name, "event": <the event>}`` (InputTransformer);
the catch-all rule delivers the raw event (waiters, state machines, event log). Any well-formed
EventBridge event is routed (one nothing waits for is only logged in the event log); anything else
(``{}``, SQS or S3 records, an HTTP request) is logged once and the invocation returns normally:
raising would make Lambda retry it twice and then dead-letter it, and it can never succeed.
"""

from __future__ import annotations

from typing import Any

from stepbridge.handlers import shapes
from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.observability import flush_metrics, logger
from stepbridge.runtime.records import Event
from stepbridge.runtime.router import Router


def handle(event: dict[str, Any], env: Environment) -> dict[str, object]:
    """Route one EventBridge delivery."""
    wrapped = isinstance(event, dict) and "trigger" in event
    if not shapes.is_eventbridge_event(event["event"] if wrapped else event):
        logger().error("the router received an event that is not an EventBridge event; ignored",
                       extra={"received": shapes.describe(event["event"] if wrapped else event)})
        return {"routed": False}
    router = Router(env.app, env.store, env.effects)
    if wrapped:
        started = router.handle_trigger(str(event["trigger"]), Event.from_eventbridge(event["event"]))
        flush_metrics()
        return {"started": started}
    router.handle_event(Event.from_eventbridge(event))
    flush_metrics()
    return {"routed": True}


def handler(event: dict[str, object], context: object) -> dict[str, object]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment())
