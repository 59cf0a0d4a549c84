"""Declared-step Lambda: runs one attempt of one step (invoked by the orchestrator).

An asynchronous invoke reports through the journal and the work queue. A synchronous one
(``reply_by`` set: runtime/stepreply.py) may answer with the wake-up in its response, ``reply``.

An event that is not a step invocation (``{}``, a wrong trigger) is logged once and the invocation
returns normally: raising would make Lambda retry the async invoke twice for nothing.
"""

from __future__ import annotations

from stepbridge.handlers import shapes
from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.observability import flush_metrics, logger
from stepbridge.runtime.records import StepInvocation
from stepbridge.runtime.stepworker import StepWorker


def handle(event: dict[str, object], env: Environment, context: object = None) -> dict[str, object]:
    """Run the attempt described by ``event`` (a ``StepInvocation``); returns its outcome kind.

    ``context`` is the Lambda context; the step sees it as ``step_context().lambda_context``.
    """
    log = logger()
    try:
        invocation = StepInvocation.from_dict(event)
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        log.error("the step function received an event that is not a step invocation; ignored",
                  extra={"received": shapes.describe(event), "error": f"{type(exc).__name__}: {exc}"})
        return {"outcome": "ignored"}
    log.append_keys(execution_id=invocation.execution_id, step=invocation.op, attempt=invocation.attempt)
    worker = StepWorker(
        env.app, env.store, env.effects, env.loop_factory, env.enforce_step_timeout, env.overrides, sleep=env.sleep
    )
    outcome = worker.handle(invocation, context)
    log.remove_keys(["execution_id", "step", "attempt"])
    flush_metrics()
    if worker.reply is not None:
        return {"outcome": outcome, "reply": worker.reply.to_dict()}
    return {"outcome": outcome}


def handler(event: dict[str, object], context: object) -> dict[str, object]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment(), context)
