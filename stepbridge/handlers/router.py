"""Router Lambda: targets of the app bus's rules.

A trigger rule wraps the event as ``{"trigger": name, "event": <the event>}`` (InputTransformer);
the catch-all rule delivers the raw event (waiters, state machines, event log).
"""

from __future__ import annotations

from typing import Any

from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.observability import flush_metrics
from stepbridge.runtime.records import Event
from stepbridge.runtime.router import Router


def handle(event: dict[str, Any], env: Environment) -> dict[str, Any]:
    """Route one EventBridge delivery."""
    router = Router(env.app, env.store, env.effects)
    if "trigger" in event and isinstance(event.get("event"), dict):
        started = router.handle_trigger(str(event["trigger"]), Event.from_eventbridge(event["event"]))
        flush_metrics()
        return {"started": started}
    router.handle_event(Event.from_eventbridge(event))
    flush_metrics()
    return {"routed": True}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment())
