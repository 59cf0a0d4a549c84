"""Orchestrator Lambda: consumes the SQS FIFO work queue and replays executions.

Uses partial batch responses (``ReportBatchItemFailures``): a message whose processing raised
is reported back and redelivered (then dead-lettered after the queue's maxReceiveCount);
the others are deleted. Several messages for one execution in a batch are replayed once, with
the reports all of them announce (a failure reports every one of them back). The journal cache
lives in the ``Environment``, which a warm Lambda container keeps between invocations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.guard import InfrastructureFailure
from stepbridge.runtime.observability import flush_metrics, logger
from stepbridge.runtime.orchestrator import Orchestrator
from stepbridge.runtime.records import WakeMessage


def handle(event: dict[str, Any], env: Environment, context: Any = None) -> dict[str, Any]:
    """Process an SQS batch; returns ``{"batchItemFailures": [...]}``.

    ``context`` is the Lambda context: its remaining time bounds inline steps (see ``steps._inline``).
    """
    orchestrator = Orchestrator(
        env.app,
        env.store,
        env.effects,
        env.loop_factory,
        env.overrides,
        cache=env.journal_cache,
        remaining=_remaining_seconds(context),
        pause=env.sleep,
    )
    failures: list[dict[str, str]] = []
    for message, message_ids in _group(event.get("Records", [])):
        try:
            orchestrator.handle(message)
        except (InfrastructureFailure, ClientError, BotoCoreError) as failure:
            # Throttling, timeouts, a service hiccup: expected now and then; the queue redelivers.
            logger().warning(
                "infrastructure failure, message will be retried",
                extra={"execution_id": message.execution_id, "error": str(failure)},
            )
            failures.extend({"itemIdentifier": m} for m in message_ids)
        except Exception:
            logger().exception("orchestration failed", extra={"execution_id": message.execution_id})
            failures.extend({"itemIdentifier": m} for m in message_ids)
    flush_metrics()
    return {"batchItemFailures": failures}


def _remaining_seconds(context: Any) -> Callable[[], float] | None:
    """Seconds left in the invocation, read from the Lambda context (``None`` without one)."""
    millis = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(millis):
        return None
    return lambda: float(millis()) / 1000.0


def _group(records: list[dict[str, Any]]) -> list[tuple[WakeMessage, list[str]]]:
    """One wake-up per execution (with every report the batch announced for it, and the reason
    ``sweep`` if any of them is one); schedule and debounce messages stay one each. Returns each
    with the ids of the messages it stands for."""
    groups: dict[tuple[str, str], list[tuple[WakeMessage, str]]] = {}
    for position, record in enumerate(records):
        message_id = str(record.get("messageId", ""))
        try:
            message = WakeMessage.from_dict(json.loads(record["body"]))
            receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            if receives > 1:
                message = replace(message, receives=receives)
        except (KeyError, ValueError, TypeError) as exc:
            logger().error("malformed work message dropped", extra={"message_id": message_id, "error": str(exc)})
            continue  # a poison body can never succeed: drop it rather than loop (it is logged)
        special = message.reason in ("schedule", "debounce")
        key = (message.execution_id, f"{message.reason}:{position}") if special else (message.execution_id, "")
        groups.setdefault(key, []).append((message, message_id))
    merged: list[tuple[WakeMessage, list[str]]] = []
    for members in groups.values():
        first = members[0][0]
        if len(members) > 1:
            reason = "sweep" if any(m.reason == "sweep" for m, _ in members) else first.reason
            data = {**(first.data or {}), "reports": [r for m, _ in members for r in m.reports]}
            timers = sorted({k for m, _ in members for k in m.timer_keys})
            if timers:
                data["timers"] = timers  # each fired timer is checked for an early delivery
            receives = max(m.receives for m, _ in members)
            first = WakeMessage(first.execution_id, reason, first.dedup, data, receives=receives)
        merged.append((first, [message_id for _, message_id in members]))
    return merged


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment(), context)
