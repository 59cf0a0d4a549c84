"""Orchestrator Lambda: consumes the SQS FIFO work queue and replays executions.

Any other event (``{}``, a scheduled event, S3 records: a wrong trigger or a test invoke) is logged
once and answered with no batch failures: nothing in it can ever become a wake-up.

Uses partial batch responses (``ReportBatchItemFailures``): a message whose processing raised
is reported back and redelivered (then dead-lettered after the queue's maxReceiveCount);
the others are deleted. Several messages for one execution in a batch are replayed once, with
the reports all of them announce (a failure reports every one of them back). The journal cache
lives in the ``Environment``, which a warm Lambda container keeps between invocations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stepbridge.handlers import shapes
from stepbridge.handlers.env import Environment, from_lambda_environment
from stepbridge.runtime.guard import EngineSignal, InfrastructureFailure
from stepbridge.runtime.messages import WorkMessage, message_group, parse_message
from stepbridge.runtime.observability import flush_metrics, logger
from stepbridge.runtime.orchestrator import Orchestrator
from stepbridge.runtime.records import WakeMessage
from stepbridge.runtime.vocabulary import Reason


def handle(event: dict[str, Any], env: Environment, context: object = None) -> dict[str, Any]:
    """Process an SQS batch; returns ``{"batchItemFailures": [...]}``.

    ``context`` is the Lambda context: its remaining time bounds inline steps (see ``steps._inline``).
    """
    if not shapes.is_sqs_batch(event):
        logger().error("the orchestrator received an event that is not an SQS batch; ignored",
                       extra={"received": shapes.describe(event)})
        return {"batchItemFailures": []}
    groups = _group(event.get("Records", []))
    orchestrator = Orchestrator(
        env.app,
        env.store,
        env.effects,
        env.loop_factory,
        env.overrides,
        cache=env.journal_cache,
        remaining=_remaining_seconds(context),
        pause=env.sleep,
        # Waiting in-process for a declared step's answer would delay the batch's other executions.
        exclusive=len(groups) == 1,
    )
    failures: list[dict[str, str]] = []
    for message, message_ids in groups:
        try:
            orchestrator.handle(message)
        except (InfrastructureFailure, ClientError, BotoCoreError) as failure:
            # Throttling, timeouts, a service hiccup: expected now and then; the queue redelivers.
            logger().warning(
                "infrastructure failure, message will be retried",
                extra={"execution_id": message_group(message), "error": str(failure)},
            )
            failures.extend({"itemIdentifier": m} for m in message_ids)
        except Exception:
            logger().exception("orchestration failed", extra={"execution_id": message_group(message)})
            failures.extend({"itemIdentifier": m} for m in message_ids)
        except (KeyboardInterrupt, EngineSignal):
            raise  # a real interrupt of this process (never in Lambda) or LocalCloud's simulated container death
        except BaseException:
            # The engine turns what user code raises into the execution's failure; anything else that
            # still escapes fails this message only, so the rest of the batch is processed.
            logger().exception("orchestration failed", extra={"execution_id": message_group(message)})
            failures.extend({"itemIdentifier": m} for m in message_ids)
    flush_metrics()
    return {"batchItemFailures": failures}


def _remaining_seconds(context: object) -> Callable[[], float] | None:
    """Seconds left in the invocation, read from the Lambda context (``None`` without one)."""
    millis = getattr(context, "get_remaining_time_in_millis", None)
    if not callable(millis):
        return None
    return lambda: float(millis()) / 1000.0


#: How much of a malformed message body the log line keeps.
_EXCERPT = 1024


def _group(records: list[dict[str, Any]]) -> list[tuple[WorkMessage, list[str]]]:
    """One wake-up per execution (with every report the batch announced for it, and the reason
    ``sweep`` if any of them is one); schedule and debounce fires stay one each. Returns each
    with the ids of the messages it stands for."""
    groups: dict[tuple[str, int], list[tuple[WorkMessage, str]]] = {}
    for position, record in enumerate(records):
        message_id = str(record.get("messageId", ""))
        try:
            body = json.loads(record["body"])
            if not isinstance(body, dict):
                raise TypeError(f"the body is a JSON {type(body).__name__}, not an object")
            receives = int((record.get("attributes") or {}).get("ApproximateReceiveCount") or 1)
            message = parse_message(body, receives=receives)
        except (KeyError, ValueError, TypeError) as exc:
            # A poison body can never succeed. Reporting it as a batch failure would redeliver it
            # maxReceiveCount times - blocking its FIFO message group meanwhile - before the DLQ:
            # it is dropped instead, and this line (id and excerpt) is its record.
            logger().error("malformed work message dropped", extra={
                "message_id": message_id, "error": f"{type(exc).__name__}: {exc}",
                "body_excerpt": str(record.get("body"))[:_EXCERPT]})
            continue
        # A fire is never merged (its own group, keyed by position); an execution's wake-ups are.
        key = (message.execution_id, -1) if isinstance(message, WakeMessage) else (message.group, position)
        groups.setdefault(key, []).append((message, message_id))
    merged: list[tuple[WorkMessage, list[str]]] = []
    for members in groups.values():
        wakes = [m for m, _ in members if isinstance(m, WakeMessage)]
        first = _merge(wakes) if len(wakes) > 1 else members[0][0]
        merged.append((first, [message_id for _, message_id in members]))
    return merged


def _merge(wakes: list[WakeMessage]) -> WakeMessage:
    """Several wake-ups of one execution as one: every report, every fired timer, ``sweep`` if any is one."""
    first = wakes[0]
    reason = Reason.SWEEP if any(m.reason == Reason.SWEEP for m in wakes) else first.reason
    data = {**(first.data or {}), "reports": [r for m in wakes for r in m.reports]}
    reasons = sorted({str(m.reason) for m in wakes})
    if len(reasons) > 1:
        data["reasons"] = reasons  # a parked workflow (sticky executions) wakes what each of them concerns
    timers = sorted({k for m in wakes for k in m.timer_keys})
    if timers:
        data["timers"] = timers  # each fired timer is checked for an early delivery
    return WakeMessage(first.execution_id, reason, first.dedup, data, receives=max(m.receives for m in wakes))


def handler(event: dict[str, object], context: object) -> dict[str, object]:
    """AWS Lambda entry point."""
    return handle(event, from_lambda_environment(), context)
