"""Declared-step Lambda: runs one attempt of one step (asynchronous invoke from the orchestrator)."""

from __future__ import annotations

from typing import Any

from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.observability import flush_metrics, logger
from stepbridge.runtime.records import StepInvocation
from stepbridge.runtime.stepworker import StepWorker


def handle(event: dict[str, Any], env: Environment, context: Any = None) -> dict[str, Any]:
    """Run the attempt described by ``event`` (a ``StepInvocation``); returns its outcome kind.

    ``context`` is the Lambda context; the step sees it as ``step_context().lambda_context``.
    """
    invocation = StepInvocation.from_dict(event)
    log = logger()
    log.append_keys(execution_id=invocation.execution_id, step=invocation.op, attempt=invocation.attempt)
    worker = StepWorker(
        env.app, env.store, env.effects, env.loop_factory, env.enforce_step_timeout, env.overrides, sleep=env.sleep
    )
    outcome = worker.handle(invocation, context)
    log.remove_keys(["execution_id", "step", "attempt"])
    flush_metrics()
    return {"outcome": outcome}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment(), context)
