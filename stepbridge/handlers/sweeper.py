"""Sweeper Lambda: a scheduled function that wakes executions whose wake-up was lost.

EventBridge Scheduler invokes it with ``{}`` (no input configured); an EventBridge scheduled event
(a rule instead of a schedule) sweeps too. Anything else - records, an HTTP request - means a wrong
trigger: logged once, nothing swept, and the invocation returns normally (no async retries).
"""

from __future__ import annotations

from typing import Any

from stepbridge.handlers import shapes
from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.observability import add_metric, flush_metrics, logger
from stepbridge.runtime.sweeper import Sweeper


def handle(event: dict[str, object], env: Environment) -> dict[str, Any]:
    """Run one sweep; returns the ids it woke."""
    if not _is_schedule(event):
        logger().error("the sweeper received an event that is not a schedule; ignored",
                       extra={"received": shapes.describe(event)})
        return {"woken": [], "ignored": True}
    woken = Sweeper(env.store, env.effects).sweep()
    if woken:
        add_metric("ExecutionsSwept", len(woken))
    flush_metrics()
    return {"woken": woken}


def _is_schedule(event: object) -> bool:
    """Scheduler's default input ``{}`` (or any plain input object), or an EventBridge scheduled event."""
    if not isinstance(event, dict):
        return False
    if shapes.is_eventbridge_event(event):
        return event.get("detail-type") == "Scheduled Event"
    return shapes.http_kind(event) is None and not shapes.record_sources(event) and "Records" not in event


def handler(event: dict[str, object], context: object) -> dict[str, object]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment())
