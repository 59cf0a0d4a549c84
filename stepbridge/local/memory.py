"""The in-memory backend of LocalCloud: no moto, a dict store and in-process queues.

Used by the engine's unit tests and the in-memory benchmarks; the work queue's behaviour (FIFO
order per group, 5-minute content de-duplication, dead-lettering after 5 receives) follows SQS
FIFO; the router queue's (no order, no de-duplication, dead-lettering after
``ROUTER_MAX_RECEIVES`` receives) follows a standard queue.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from stepbridge.config import ROUTER_MAX_RECEIVES, RuntimeConfig
from stepbridge.infra.aws import (
    check_schedule_name,
    create_schedule_request,
    put_events_chunks,
    put_events_entry,
    send_message_request,
)
from stepbridge.infra.provision import RuleSpec
from stepbridge.local import awslimits
from stepbridge.runtime.codec import dumps
from stepbridge.runtime.ids import new_id
from stepbridge.runtime.messages import WorkMessage
from stepbridge.runtime.records import Event

#: SQS FIFO de-duplication interval (5 minutes).
DEDUP_WINDOW = timedelta(minutes=5)
#: Receives before a message moves to the dead-letter queue (the template's maxReceiveCount).
MAX_RECEIVES = 5


def _visible_again(
    msg: dict[str, Any] | None, max_receives: int, dead_letters: list[dict[str, Any]],
    back: Callable[[dict[str, Any]], None],
) -> None:
    """SQS's redrive policy for a message given back: to the dead-letter queue once it was received
    ``max_receives`` times, else ``back`` onto its queue (the head of its FIFO group, or a standard queue's tail)."""
    if msg is None:
        return
    if msg["receives"] >= max_receives:
        dead_letters.append(msg["body"])
    else:
        back(msg)


class MemoryResources:
    """Queue, dead-letter queue, rules and secrets of a LocalCloud running without moto."""

    def __init__(self, rules: list[RuleSpec], clock: Callable[[], datetime]) -> None:
        self.rules = rules
        self._clock = clock
        self._queue: deque[dict[str, Any]] = deque()
        self._in_flight: dict[str, dict[str, Any]] = {}
        self._dedup: dict[str, datetime] = {}
        self._dlq: list[dict[str, Any]] = []
        self._router_queue: deque[dict[str, Any]] = deque()
        self._router_in_flight: dict[str, dict[str, Any]] = {}
        self._router_dlq: list[dict[str, Any]] = []
        self._secrets: dict[str, str] = {}

    def push(self, body: dict[str, object]) -> None:
        """Send a message, dropping a duplicate body sent within the de-duplication window."""
        digest = hashlib.sha256(dumps(body).encode()).hexdigest()
        now = self._clock()
        seen = self._dedup.get(digest)
        if seen is not None and now - seen < DEDUP_WINDOW:
            return
        self._dedup[digest] = now
        self._queue.append({"body": body, "id": new_id(), "receives": 0})

    def receive(self, max_messages: int = 10) -> list[dict[str, object]]:
        """Up to ``max_messages`` messages, at most one in flight per message group (FIFO)."""
        records: list[dict[str, object]] = []
        busy = {m["body"]["execution_id"] for m in self._in_flight.values()}
        kept: deque[dict[str, object]] = deque()
        while self._queue and len(records) < max_messages:
            msg = self._queue.popleft()
            group = msg["body"]["execution_id"]
            if group in busy:
                kept.append(msg)
                continue
            msg["receives"] += 1
            self._in_flight[msg["id"]] = msg
            records.append(
                {
                    "messageId": msg["id"],
                    "receiptHandle": msg["id"],
                    "body": json.dumps(msg["body"]),
                    "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": str(msg["receives"])},
                }
            )
        kept.extend(self._queue)
        self._queue = kept
        return records

    def delete(self, receipt_handle: str) -> None:
        """Forget a processed message."""
        self._in_flight.pop(receipt_handle, None)

    def release(self, receipt_handle: str) -> None:
        """Return a failed message to the head of its group (or dead-letter it after 5 receives)."""
        _visible_again(self._in_flight.pop(receipt_handle, None), MAX_RECEIVES, self._dlq, self._queue.appendleft)

    def resend(self, body: str) -> None:
        """Send a copy of a received body (JSON text) to the tail, past de-duplication (a redelivery)."""
        self._queue.append({"body": json.loads(body), "id": new_id(), "receives": 0})

    def dead_letters(self) -> list[dict[str, object]]:
        """Bodies in the dead-letter queue."""
        return list(self._dlq)

    def redrive(self) -> int:
        """Move every dead-lettered body back onto the queue; returns how many."""
        moved = len(self._dlq)
        for body in self._dlq:
            self._queue.append({"body": body, "id": new_id(), "receives": 0})
        self._dlq.clear()
        return moved

    # ---- the router queue (a standard queue: no order, no de-duplication) -------------------

    def send_event(self, body: dict[str, Any]) -> None:
        """What an EventBridge rule's SQS target does: send the (transformed) event as a message."""
        self._router_queue.append({"body": body, "id": new_id(), "receives": 0})

    def receive_events(self, max_messages: int = 10) -> list[dict[str, Any]]:
        """Up to ``max_messages`` router messages as Lambda SQS event records (receive count included)."""
        records: list[dict[str, Any]] = []
        while self._router_queue and len(records) < max_messages:
            msg = self._router_queue.popleft()
            msg["receives"] += 1
            self._router_in_flight[msg["id"]] = msg
            records.append({"messageId": msg["id"], "receiptHandle": msg["id"], "body": json.dumps(msg["body"]),
                            "attributes": {"ApproximateReceiveCount": str(msg["receives"])},
                            "eventSource": "aws:sqs"})
        return records

    def delete_event(self, receipt_handle: str) -> None:
        """Forget a routed message."""
        self._router_in_flight.pop(receipt_handle, None)

    def release_event(self, receipt_handle: str) -> None:
        """A failed message becomes visible again, or moves to the router's dead-letter queue once it was
        received ``ROUTER_MAX_RECEIVES`` times (the queue's redrive policy)."""
        msg = self._router_in_flight.pop(receipt_handle, None)
        _visible_again(msg, ROUTER_MAX_RECEIVES, self._router_dlq, self._router_queue.append)

    def router_dead_letters(self) -> list[dict[str, Any]]:
        """Bodies in the router's dead-letter queue (rule deliveries the router failed every time)."""
        return list(self._router_dlq)

    def redrive_router(self) -> int:
        """Move every body of the router's dead-letter queue back onto the router queue; returns how many."""
        moved, bodies, self._router_dlq = len(self._router_dlq), self._router_dlq, []
        for body in bodies:
            self.send_event(body)
        return moved

    def router_queue_depth(self) -> int:
        """Router messages waiting or in flight."""
        return len(self._router_queue) + len(self._router_in_flight)

    def now(self) -> datetime:
        """The (virtual) clock's time."""
        return self._clock()

    def queue_depth(self) -> int:
        """Messages waiting."""
        return len(self._queue)

    def put_secret(self, name: str, value: str) -> None:
        """Store a secret."""
        self._secrets[name] = value

    def get_secret(self, name: str) -> str | None:
        """Read a secret."""
        return self._secrets.get(name)


class MemoryAws:
    """The AWS side of effects for the memory backend: the queue is in-process, the rest is a no-op.

    Each call builds the request AwsEffects would send (with its own size checks) and runs AWS's
    request checks on it (local/awslimits.py), so a request AWS would refuse fails here as well.
    """

    def __init__(self, resources: MemoryResources, app: str = "app") -> None:
        self._resources = resources
        self._config = RuntimeConfig(
            app=app,
            table=f"{app}-table",
            bus=f"{app}-bus",
            queue_url=f"https://sqs.us-east-1.amazonaws.com/123456789012/{app}-work.fifo",
            queue_arn=f"arn:aws:sqs:us-east-1:123456789012:{app}-work.fifo",
            schedule_group=f"{app}-timers",
            scheduler_role_arn=f"arn:aws:iam::123456789012:role/{app}-scheduler",
            stack=app,
        )

    def wake(self, message: WorkMessage) -> None:
        """Enqueue on the in-process FIFO queue."""
        awslimits.check("sqs", "SendMessage", send_message_request(self._config.queue_url, message))
        self._resources.push(message.to_dict())

    def schedule_timer(self, name: str, at: datetime, message: WorkMessage) -> None:
        """Nothing to create (LocalCloud's timer wheel is the scheduler), but check what CreateSchedule would."""
        check_schedule_name(name)
        if at > self._resources.now():
            awslimits.check("scheduler", "CreateSchedule", create_schedule_request(self._config, name, at, message))

    def cancel_timer(self, name: str) -> None:
        """Nothing to delete."""

    def publish(self, events: Sequence[Event]) -> None:
        """Nothing to put (LocalCloud captures and routes events itself), but check what PutEvents would."""
        entries = [put_events_entry(self._config.bus, event) for event in events]
        for chunk in put_events_chunks(entries):
            awslimits.check("events", "PutEvents", {"Entries": chunk})
