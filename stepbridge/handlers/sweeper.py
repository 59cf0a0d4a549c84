"""Sweeper Lambda: a scheduled function that wakes executions whose wake-up was lost."""

from __future__ import annotations

from typing import Any

from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.observability import add_metric, flush_metrics
from stepbridge.runtime.sweeper import Sweeper


def handle(event: dict[str, Any], env: Environment) -> dict[str, Any]:
    """Run one sweep; returns the ids it woke."""
    woken = Sweeper(env.store, env.effects).sweep()
    if woken:
        add_metric("ExecutionsSwept", len(woken))
    flush_metrics()
    return {"woken": woken}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment())
