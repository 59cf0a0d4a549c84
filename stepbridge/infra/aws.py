"""The ``Effects`` port on AWS: SQS FIFO wake-ups, async Lambda invokes, Scheduler timers, EventBridge events.

Every payload is checked against the service limit before the call, so an oversized step result
or event fails with ``PayloadTooLarge`` naming what to shrink instead of a deep botocore error.
Clients are created on first use (a cold start that only wakes pays for one client).
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stepbridge.config import RuntimeConfig, step_function_name
from stepbridge.errors import PayloadTooLarge, StepbridgeError
from stepbridge.runtime.codec import dumps
from stepbridge.runtime.limits import EVENTBRIDGE_ENTRY_BYTES, LAMBDA_ASYNC_PAYLOAD_BYTES, SQS_MESSAGE_BYTES
from stepbridge.runtime.records import Event, StepInvocation, WakeMessage, parse_iso

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sqs import SQSClient

#: EventBridge PutEvents: at most 10 entries per request (EventBridge quotas).
PUT_EVENTS_MAX_ENTRIES = 10
#: EventBridge PutEvents: the entries of one request total at most 256 KB (same sizing as one entry).
PUT_EVENTS_MAX_BYTES = EVENTBRIDGE_ENTRY_BYTES
#: EventBridge Scheduler schedule names: 1-64 of [0-9a-zA-Z-_.] (Scheduler API reference, CreateSchedule).
_SCHEDULE_NAME = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
#: Events without a source get this one (PutEvents rejects an empty Source).
DEFAULT_SOURCE = "stepbridge"


class PublishFailed(StepbridgeError):
    """EventBridge rejected some entries of a PutEvents request (``FailedEntryCount`` > 0)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _as_utc(at: datetime) -> datetime:
    return at.astimezone(UTC) if at.tzinfo is not None else at.replace(tzinfo=UTC)


def at_expression(at: datetime) -> str:
    """Scheduler's one-time expression in UTC, rounded UP to a whole second so a timer never fires early."""
    utc = _as_utc(at)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return f"at({utc:%Y-%m-%dT%H:%M:%S})"


def _check_size(size: int, limit: int, what: str, service_limit: str) -> None:
    if size > limit:
        raise PayloadTooLarge(
            f"{what} is {size:,} bytes, over {service_limit} ({limit:,} bytes); keep large data out of "
            "workflow inputs, step arguments and events (store it in S3 and pass its key)"
        )


def eventbridge_entry_size(entry: Mapping[str, Any]) -> int:
    """An entry's size as EventBridge counts it: Time (14 bytes), Source, DetailType, Detail, Resources."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        size += len(str(entry.get(key, "")).encode())
    size += sum(len(str(r).encode()) for r in entry.get("Resources", ()))
    return size


class AwsEffects:
    """``Effects`` with boto3: inject clients (tests, LocalCloud) or let it create them on first use."""

    def __init__(
        self,
        config: RuntimeConfig,
        *,
        sqs: SQSClient | None = None,
        lambda_client: LambdaClient | None = None,
        scheduler: EventBridgeSchedulerClient | None = None,
        events: EventBridgeClient | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self._sqs = sqs
        self._lambda = lambda_client
        self._scheduler = scheduler
        self._events = events
        self._clock = clock or _utcnow
        self._lock = threading.Lock()
        #: API calls by operation name (SendMessage, Invoke, CreateSchedule, ...), for benchmarks.
        self.calls: dict[str, int] = {}

    # ---- clients (lazy; boto3 session creation is not thread-safe, hence the lock) ----------

    @property
    def sqs(self) -> SQSClient:
        """The SQS client."""
        if self._sqs is None:
            with self._lock:
                if self._sqs is None:
                    import boto3

                    self._sqs = boto3.client("sqs")
        return self._sqs

    @property
    def lambda_client(self) -> LambdaClient:
        """The Lambda client."""
        if self._lambda is None:
            with self._lock:
                if self._lambda is None:
                    import boto3

                    self._lambda = boto3.client("lambda")
        return self._lambda

    @property
    def scheduler(self) -> EventBridgeSchedulerClient:
        """The EventBridge Scheduler client."""
        if self._scheduler is None:
            with self._lock:
                if self._scheduler is None:
                    import boto3

                    self._scheduler = boto3.client("scheduler")
        return self._scheduler

    @property
    def events(self) -> EventBridgeClient:
        """The EventBridge client."""
        if self._events is None:
            with self._lock:
                if self._events is None:
                    import boto3

                    self._events = boto3.client("events")
        return self._events

    def _count(self, op: str) -> None:
        with self._lock:
            self.calls[op] = self.calls.get(op, 0) + 1

    # ---- Effects ----------------------------------------------------------------------------

    def now(self) -> datetime:
        """Current UTC time."""
        return self._clock()

    def wake(self, message: WakeMessage) -> None:
        """Enqueue on the FIFO work queue; group = execution id, so one execution never runs twice at once."""
        body = dumps(message.to_dict())
        # SQS quotas: maximum message size 256 KB.
        _check_size(
            len(body.encode()), SQS_MESSAGE_BYTES,
            f"the wake-up message for execution '{message.execution_id}'", "SQS's 256 KB message limit",
        )
        self._count("SendMessage")
        self.sqs.send_message(
            QueueUrl=self.config.queue_url,
            MessageBody=body,
            MessageGroupId=message.execution_id,
            # Same logical message => same body (WakeMessage.dedup) => dropped within SQS's 5-minute window.
            MessageDeduplicationId=hashlib.sha256(body.encode()).hexdigest(),
        )

    def invoke_step(self, invocation: StepInvocation) -> None:
        """Start the declared step's own Lambda asynchronously (it reports back through the journal)."""
        if not self.config.stack:
            raise RuntimeError(
                "STEPBRIDGE_STACK is not set, so the step's function name is unknown; deploy the template "
                "that `stepbridge compile` generates"
            )
        payload = dumps(invocation.to_dict()).encode()
        # Lambda quotas: asynchronous invocation payload 256 KB.
        _check_size(
            len(payload), LAMBDA_ASYNC_PAYLOAD_BYTES,
            f"the arguments of step '{invocation.op}' (execution '{invocation.execution_id}')",
            "Lambda's 256 KB asynchronous invocation payload limit",
        )
        self._count("Invoke")
        self.lambda_client.invoke(
            FunctionName=step_function_name(self.config.stack, invocation.step),
            InvocationType="Event",
            Payload=payload,
        )

    def schedule_timer(self, name: str, at: datetime, message: WakeMessage) -> None:
        """A one-time schedule that sends ``message`` to the work queue at ``at``; idempotent by name.

        A time already passed is delivered at once through :meth:`wake` instead: a one-time schedule
        in the past is not a reliable way to fire "now".
        """
        if not _SCHEDULE_NAME.match(name):
            raise ValueError(f"timer name {name!r} is invalid: Scheduler names are 1-64 of [0-9A-Za-z-_.]")
        if _as_utc(at) <= self.now():
            self.wake(message)
            return
        body = dumps(message.to_dict())
        # The schedule's input becomes an SQS message: SQS quotas, maximum message size 256 KB.
        _check_size(
            len(body.encode()), SQS_MESSAGE_BYTES,
            f"the timer message for execution '{message.execution_id}'", "SQS's 256 KB message limit",
        )
        self._count("CreateSchedule")
        try:
            self.scheduler.create_schedule(
                Name=name,
                GroupName=self.config.schedule_group,
                ScheduleExpression=at_expression(at),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "OFF"},
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self.config.queue_arn,
                    "RoleArn": self.config.scheduler_role_arn,
                    "Input": body,
                    # Scheduler cannot pass a deduplication id: the queue's content-based dedup covers it.
                    "SqsParameters": {"MessageGroupId": message.execution_id},
                },
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConflictException":
                raise
            # Already exists: the same timer was set by an earlier (replayed or redelivered) run.

    def cancel_timer(self, name: str) -> None:
        """Delete the schedule; a missing one (fired and auto-deleted, or never created) is fine."""
        self._count("DeleteSchedule")
        try:
            self.scheduler.delete_schedule(Name=name, GroupName=self.config.schedule_group)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
                raise

    def publish(self, events: Sequence[Event]) -> None:
        """PutEvents on the app's bus, at most 10 entries and 256 KB per request; a failed entry raises."""
        entries = [self._entry(event) for event in events]
        published = 0
        for chunk in _chunks(entries):
            self._count("PutEvents")
            resp = self.events.put_events(Entries=chunk)
            failed = [e for e in resp.get("Entries", []) if e.get("ErrorCode")]
            if resp.get("FailedEntryCount", 0) or failed:
                reasons = "; ".join(f"{e.get('ErrorCode')}: {e.get('ErrorMessage', '')}" for e in failed)
                count = resp.get("FailedEntryCount", len(failed))
                raise PublishFailed(
                    f"EventBridge rejected {count} of {len(chunk)} events on bus '{self.config.bus}' "
                    f"({reasons or 'no reason given'}); {published} earlier events were published"
                )
            published += len(chunk)

    def _entry(self, event: Event) -> PutEventsRequestEntryTypeDef:
        entry: PutEventsRequestEntryTypeDef = {
            "Source": event.source or DEFAULT_SOURCE,
            "DetailType": event.detail_type,
            "Detail": dumps(event.detail),
            "EventBusName": self.config.bus,
        }
        if event.resources:
            entry["Resources"] = list(event.resources)
        if event.time:
            entry["Time"] = parse_iso(event.time)
        # EventBridge quotas: PutEvents entry size 256 KB.
        _check_size(
            eventbridge_entry_size(entry), EVENTBRIDGE_ENTRY_BYTES,
            f"event '{event.detail_type}'", "EventBridge's 256 KB event entry limit",
        )
        return entry


def _chunks(entries: list[PutEventsRequestEntryTypeDef]) -> Iterator[list[PutEventsRequestEntryTypeDef]]:
    """Split into PutEvents requests: at most 10 entries and 256 KB in total each (EventBridge quotas)."""
    chunk: list[PutEventsRequestEntryTypeDef] = []
    size = 0
    for entry in entries:
        entry_size = eventbridge_entry_size(entry)
        if chunk and (len(chunk) == PUT_EVENTS_MAX_ENTRIES or size + entry_size > PUT_EVENTS_MAX_BYTES):
            yield chunk
            chunk, size = [], 0
        chunk.append(entry)
        size += entry_size
    if chunk:
        yield chunk
