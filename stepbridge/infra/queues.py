"""Dead-letter handling for a deployed stack: find the work queue's DLQ and move its messages back.

``stepbridge executions redrive --stack NAME`` uses this. The stack's outputs name the work queue
(``WorkQueueUrl``); its dead-letter queue is whatever the queue's ``RedrivePolicy`` points at, so
this also works for a DLQ the template names differently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import boto3

from stepbridge.errors import StepbridgeError
from stepbridge.infra.provision import redrive_queue, redrive_router_queue
from stepbridge.infra.stack import stack_outputs


class QueueSetupError(StepbridgeError):
    """The stack's work queue or its dead-letter queue cannot be found."""


@dataclass(frozen=True)
class RedriveReport:
    """What a redrive found and did."""

    queue_url: str
    dlq_url: str
    waiting: int  # approximate number of messages in the DLQ before the redrive
    moved: int
    router_dlq_url: str | None = None
    router_queue_url: str | None = None
    router_waiting: int = 0
    router_moved: int = 0  # failed router events moved back to the router queue


def dead_letter_queue_url(sqs: Any, queue_url: str) -> str | None:
    """The URL of the dead-letter queue named by ``queue_url``'s ``RedrivePolicy`` (``None`` without one)."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"]).get("Attributes", {})
    policy = attributes.get("RedrivePolicy")
    if not policy:
        return None
    arn = str(json.loads(policy)["deadLetterTargetArn"])
    parts = arn.split(":")  # arn:aws:sqs:<region>:<account>:<name>
    if len(parts) != 6:
        raise QueueSetupError(f"the work queue's RedrivePolicy names an unexpected dead-letter target {arn!r}")
    return str(sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"])


def approximate_depth(sqs: Any, queue_url: str) -> int:
    """``ApproximateNumberOfMessages`` of a queue (visible messages)."""
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))


def redrive_stack(
    stack_name: str, *, region: str | None = None, dry_run: bool = False, max_messages: int = 10_000
) -> RedriveReport:
    """Move the stack's dead-lettered work messages back to its work queue (``dry_run``: only count them)."""
    outputs = stack_outputs(stack_name, region=region)
    queue_url = outputs.get("WorkQueueUrl")
    if not queue_url:
        raise QueueSetupError(
            f"stack '{stack_name}' has no WorkQueueUrl output; was it deployed from a `stepbridge compile` template?"
        )
    sqs: Any = boto3.client("sqs", region_name=region)
    dlq_url = dead_letter_queue_url(sqs, queue_url)
    if dlq_url is None:
        raise QueueSetupError(f"the work queue of stack '{stack_name}' has no RedrivePolicy (no dead-letter queue)")
    waiting = approximate_depth(sqs, dlq_url)
    moved = 0 if dry_run else redrive_queue(sqs, dlq_url, queue_url, max_messages=max_messages)
    router_dlq, router_queue = outputs.get("RouterDeadLetterQueueUrl"), outputs.get("RouterQueueUrl")
    router_waiting = router_moved = 0
    if router_dlq and router_queue:
        router_waiting = approximate_depth(sqs, router_dlq)
        if not dry_run:
            router_moved = redrive_router_queue(sqs, router_dlq, router_queue, max_messages=max_messages)
    return RedriveReport(
        queue_url=queue_url,
        dlq_url=dlq_url,
        waiting=waiting,
        moved=moved,
        router_dlq_url=router_dlq if router_queue else None,
        router_queue_url=router_queue,
        router_waiting=router_waiting,
        router_moved=router_moved,
    )
