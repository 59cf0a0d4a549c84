"""Orchestrator Lambda: consumes the SQS FIFO work queue and replays executions.

Uses partial batch responses (``ReportBatchItemFailures``): a message whose processing raised
is reported back and redelivered (then dead-lettered after the queue's maxReceiveCount);
the others are deleted. Several messages for one execution in a batch are replayed once.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.guard import InfrastructureFailure
from stepbridge.runtime.observability import flush_metrics, logger
from stepbridge.runtime.orchestrator import Orchestrator
from stepbridge.runtime.records import WakeMessage


def handle(event: dict[str, Any], env: Environment) -> dict[str, Any]:
    """Process an SQS batch; returns ``{"batchItemFailures": [...]}``."""
    orchestrator = Orchestrator(env.app, env.store, env.effects, env.loop_factory, env.overrides)
    failures: list[dict[str, str]] = []
    done: set[tuple[str, str]] = set()
    for record in event.get("Records", []):
        message_id = str(record.get("messageId", ""))
        try:
            message = WakeMessage.from_dict(json.loads(record["body"]))
        except (KeyError, ValueError, TypeError) as exc:
            logger().error("malformed work message dropped", extra={"message_id": message_id, "error": str(exc)})
            continue  # a poison body can never succeed: drop it rather than loop (it is logged)
        key = (message.execution_id, message.reason if message.reason in ("schedule", "debounce") else "")
        if key in done and message.reason not in ("schedule", "debounce"):
            continue
        try:
            orchestrator.handle(message)
            done.add(key)
        except (InfrastructureFailure, ClientError, BotoCoreError) as failure:
            # Throttling, timeouts, a service hiccup: expected now and then; the queue redelivers.
            logger().warning(
                "infrastructure failure, message will be retried",
                extra={"execution_id": message.execution_id, "error": str(failure)},
            )
            failures.append({"itemIdentifier": message_id})
        except Exception:
            logger().exception("orchestration failed", extra={"execution_id": message.execution_id})
            failures.append({"itemIdentifier": message_id})
    flush_metrics()
    return {"batchItemFailures": failures}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment())
