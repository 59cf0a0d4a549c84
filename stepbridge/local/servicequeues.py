"""What AWS's event source mappings do with LocalCloud's queues, done on moto's SQS backend directly.

In AWS the Lambda service polls the work queue and the router queue for the orchestrator and the
router (ReceiveMessage, then DeleteMessage of each processed message, or leaving a failed one to
come back): these are calls of the Lambda service, not of stepbridge's code, and no handler waits
for them. LocalCloud used to make them through a boto3 client, so each delivery paid two botocore
round trips (request serialization, moto's response rendering, parsing) on top of the queue work
itself (issue 17: 5 of a sleep-then-wake's 16 moto calls). Here they go to moto's SQS backend
in-process: the same queue state (visibility, receive counts, FIFO groups, the redrive policy that
moves a message to its dead-letter queue at a receive), without the wire format.

They remain SQS requests on the bill: every call is reported to ``on_call`` (``(operation, messages
received, seconds)``), which the benchmark meter counts like the calls it sees through botocore.
Everything else of :class:`~stepbridge.infra.provision.ProvisionedApp` is used as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from moto.sqs.models import sqs_backends

from stepbridge.infra.provision import ProvisionedApp

#: ``(operation as "SQS.ReceiveMessage", messages received, seconds inside moto)``.
OnCall = Callable[[str, int, float], None]

_VISIBILITY_SECONDS = 60  # as the boto3 receives did (the template sets 6 x the function timeout)


def _queue_of(url: str) -> tuple[str, str]:
    """``(account id, queue name)`` of a queue URL (``https://sqs.<region>.amazonaws.com/<account>/<name>``)."""
    parts = urlparse(url).path.strip("/").split("/")
    return parts[-2], parts[-1]


class ServiceQueues:
    """``ProvisionedApp`` whose event source mapping calls (receive, delete, release) skip botocore."""

    def __init__(self, resources: ProvisionedApp, on_call: OnCall | None = None) -> None:
        self._resources = resources
        self.on_call = on_call
        account, self._work = _queue_of(resources.config.queue_url)
        _, self._router = _queue_of(resources.router_queue_url)
        self._backend = sqs_backends[account][resources.region]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._resources, name)

    def _timed(self, op: str, call: Callable[[], Any], count: Callable[[Any], int] = lambda _: 0) -> Any:
        started = time.perf_counter()
        result = call()
        if self.on_call is not None:
            self.on_call(op, count(result), time.perf_counter() - started)
        return result

    def _receive(self, queue: str, max_messages: int) -> list[Any]:
        messages: list[Any] = self._timed(
            "SQS.ReceiveMessage",
            lambda: self._backend.receive_message(queue, max_messages, 0, _VISIBILITY_SECONDS),
            len,
        )
        return messages

    # ---- the work queue (the orchestrator's event source mapping) ------------------------------

    def receive(self, max_messages: int = 10) -> list[dict[str, object]]:
        """Up to ``max_messages`` work queue messages as Lambda SQS event records (all system attributes)."""
        records: list[dict[str, object]] = []
        for m in self._receive(self._work, max_messages):
            attributes = {
                "SenderId": m.sender_id,
                "SentTimestamp": str(m.sent_timestamp),
                "ApproximateReceiveCount": str(m.approximate_receive_count),
                "ApproximateFirstReceiveTimestamp": str(m.approximate_first_receive_timestamp),
            }
            for name, value in (("MessageDeduplicationId", m.deduplication_id), ("MessageGroupId", m.group_id),
                                ("SequenceNumber", m.sequence_number)):
                if value is not None:
                    attributes[name] = value
            records.append({
                "messageId": m.id, "receiptHandle": m.receipt_handle, "body": m.body, "attributes": attributes,
                "messageAttributes": {}, "md5OfBody": m.body_md5, "eventSource": "aws:sqs",
                "eventSourceARN": self._resources.config.queue_arn, "awsRegion": self._resources.region,
            })
        return records

    def delete(self, receipt_handle: str) -> None:
        """Delete a processed message."""
        self._timed("SQS.DeleteMessage", lambda: self._backend.delete_message(self._work, receipt_handle))

    def release(self, receipt_handle: str) -> None:
        """Make a failed message visible again at once (Lambda would wait for the visibility timeout)."""
        self._timed("SQS.ChangeMessageVisibility",
                    lambda: self._backend.change_message_visibility(self._work, receipt_handle, 0))

    # ---- the router queue (the router's event source mapping) ----------------------------------

    def receive_events(self, max_messages: int = 10) -> list[dict[str, Any]]:
        """Up to ``max_messages`` router messages as Lambda SQS event records; SQS itself moves a message
        received ``maxReceiveCount`` times to the router's dead-letter queue at this receive."""
        return [
            {"messageId": m.id, "receiptHandle": m.receipt_handle, "body": m.body,
             "attributes": {"ApproximateReceiveCount": str(m.approximate_receive_count)},
             "eventSource": "aws:sqs", "awsRegion": self._resources.region}
            for m in self._receive(self._router, max_messages)
        ]

    def delete_event(self, receipt_handle: str) -> None:
        """Delete a routed message."""
        self._timed("SQS.DeleteMessage", lambda: self._backend.delete_message(self._router, receipt_handle))

    def release_event(self, receipt_handle: str) -> None:
        """Make a failed router message visible again at once."""
        self._timed("SQS.ChangeMessageVisibility",
                    lambda: self._backend.change_message_visibility(self._router, receipt_handle, 0))
