"""The ``Effects`` port on AWS: SQS FIFO wake-ups, Lambda invokes, Scheduler timers, EventBridge events.

Every payload is checked against the service limit before the call, so an oversized step result
or event fails with ``PayloadTooLarge`` naming what to shrink instead of a deep botocore error.
Clients are created on first use (a cold start that only wakes pays for one client).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from stepbridge.config import RuntimeConfig, step_function_name
from stepbridge.errors import StepbridgeError
from stepbridge.infra.clients import LazyClient
from stepbridge.runtime.codec import dumps
from stepbridge.runtime.limits import (
    DEFAULT_EVENT_SOURCE,
    EVENTBRIDGE_ENTRY_BYTES,
    SCHEDULER_INPUT_BYTES,
    SQS_MESSAGE_BYTES,
    async_invoke_payload,
    check_size,
    eventbridge_entry_size,
    invocation_what,
)
from stepbridge.runtime.messages import WorkMessage, message_group
from stepbridge.runtime.ports import StepNotStarted
from stepbridge.runtime.records import Event, StepInvocation, WakeMessage, parse_iso
from stepbridge.runtime.stepreply import REPLY_GRACE_SECONDS

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sqs import SQSClient

#: EventBridge PutEvents: at most 10 entries per request (EventBridge quotas).
PUT_EVENTS_MAX_ENTRIES = 10
#: EventBridge PutEvents: the entries of one request total less than 1 MB (same sizing as one entry).
PUT_EVENTS_MAX_BYTES = EVENTBRIDGE_ENTRY_BYTES
#: EventBridge Scheduler schedule names: 1-64 of [0-9a-zA-Z-_.] (Scheduler API reference, CreateSchedule).
_SCHEDULE_NAME = re.compile(r"^[0-9A-Za-z_.-]{1,64}$")
#: Events without a source get this one (PutEvents rejects an empty Source).
DEFAULT_SOURCE = DEFAULT_EVENT_SOURCE


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


#: Connect timeout of the synchronous step invoke: a request that cannot reach Lambda is sent asynchronously instead
#: of holding the orchestrator for botocore's default 60 s.
SYNC_CONNECT_SECONDS = 5


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
        self._sqs = LazyClient["SQSClient"]("sqs", sqs)
        self._lambda = LazyClient["LambdaClient"]("lambda", lambda_client)
        self._sync_clients: dict[int, LazyClient[LambdaClient]] = {}
        self._scheduler = LazyClient["EventBridgeSchedulerClient"]("scheduler", scheduler)
        self._events = LazyClient["EventBridgeClient"]("events", events)
        self._clock = clock or _utcnow
        self._lock = threading.Lock()
        #: API calls by operation name (SendMessage, Invoke, CreateSchedule, ...), for benchmarks.
        self.calls: dict[str, int] = {}

    # ---- clients (created on first use: infra/clients.py) ------------------------------------

    @property
    def sqs(self) -> SQSClient:
        """The SQS client."""
        return self._sqs.get()

    @property
    def lambda_client(self) -> LambdaClient:
        """The Lambda client."""
        return self._lambda.get()

    @property
    def scheduler(self) -> EventBridgeSchedulerClient:
        """The EventBridge Scheduler client."""
        return self._scheduler.get()

    @property
    def events(self) -> EventBridgeClient:
        """The EventBridge client."""
        return self._events.get()

    @property
    def clients_created(self) -> list[str]:
        """The services whose client exists yet (tests check that ``now()`` creates none)."""
        return [c.service for c in (self._sqs, self._lambda, self._scheduler, self._events) if c.created]

    def _count(self, op: str) -> None:
        with self._lock:
            self.calls[op] = self.calls.get(op, 0) + 1

    # ---- Effects ----------------------------------------------------------------------------

    def now(self) -> datetime:
        """Current UTC time."""
        return self._clock()

    def wake(self, message: WorkMessage) -> None:
        """Enqueue on the FIFO work queue; group = execution id, so one execution never runs twice at once."""
        request = send_message_request(self.config.queue_url, message)
        self._count("SendMessage")
        self.sqs.send_message(**request)

    def invoke_step(self, invocation: StepInvocation) -> None:
        """Start the declared step's own Lambda asynchronously (it reports back through the journal)."""
        if not self.config.stack:
            raise RuntimeError(
                "STEPBRIDGE_STACK is not set, so the step's function name is unknown; deploy the template "
                "that `stepbridge compile` generates"
            )
        request = invoke_request(self.config.stack, invocation)
        self._count("Invoke")
        self.lambda_client.invoke(**request)

    def call_step(self, invocation: StepInvocation) -> WakeMessage | None:
        """Invoke the declared step's Lambda synchronously; the wake-up it answered with (runtime/stepreply.py).

        The read waits until ``reply_by`` plus a grace, with no retry (a retried synchronous invoke would run the
        step twice); a step still running then reports through the queue itself. Throttled (reserved or account
        concurrency: ``TooManyRequestsException``) or unable to connect, it raises ``StepNotStarted``: the step did
        not start.
        """
        if not self.config.stack:
            self.invoke_step(invocation)  # (raises the same clear error)
            return None
        request = invoke_request(self.config.stack, invocation, sync=True)
        wait = max(1.0, (parse_iso(invocation.reply_by) - self.now()).total_seconds()) + REPLY_GRACE_SECONDS
        self._count("Invoke")
        try:
            response = self._sync_lambda(wait).invoke(**request)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TooManyRequestsException":
                raise StepNotStarted(str(exc)) from exc
            raise
        except (ConnectTimeoutError, EndpointConnectionError) as exc:  # the request never reached Lambda
            raise StepNotStarted(str(exc)) from exc
        except ReadTimeoutError:
            return None  # the step goes on: past its window it wakes the orchestrator through the queue
        if response.get("FunctionError"):
            return None  # it failed or died before answering: its deadline timer stands in (as for an async invoke)
        body = json.loads(response["Payload"].read() or b"null")
        reply = body.get("reply") if isinstance(body, dict) else None
        return WakeMessage.from_dict(reply) if isinstance(reply, dict) else None

    def _sync_lambda(self, wait: float) -> LambdaClient:
        """A Lambda client that reads a response for ``wait`` seconds (rounded up), without retries; the injected
        client when there is one (tests)."""
        if self._lambda.injected:
            return self.lambda_client
        seconds = math.ceil(wait)
        with self._lock:
            client = self._sync_clients.get(seconds)
            if client is None:
                client = self._sync_clients[seconds] = LazyClient["LambdaClient"](
                    "lambda",
                    config=Config(connect_timeout=SYNC_CONNECT_SECONDS, read_timeout=seconds,
                                  retries={"total_max_attempts": 1}),
                )
        return client.get()

    def schedule_timer(self, name: str, at: datetime, message: WorkMessage) -> None:
        """A one-time schedule that sends ``message`` to the work queue at ``at``; idempotent by name.

        A time already passed is delivered at once through :meth:`wake` instead: a one-time schedule
        in the past is not a reliable way to fire "now".
        """
        check_schedule_name(name)  # also when due now: a name AWS would refuse must fail here too
        if _as_utc(at) <= self.now():
            self.wake(message)
            return
        request = create_schedule_request(self.config, name, at, message)
        self._count("CreateSchedule")
        try:
            self.scheduler.create_schedule(**request)
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
        """PutEvents on the app's bus, at most 10 entries and 1 MB per request; a failed entry raises."""
        entries = [put_events_entry(self.config.bus, event) for event in events]
        published = 0
        for chunk in put_events_chunks(entries):
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

def check_schedule_name(name: str) -> None:
    """Raise ``ValueError`` for a timer name EventBridge Scheduler would refuse (1-64 of [0-9A-Za-z-_.])."""
    if not _SCHEDULE_NAME.match(name):
        raise ValueError(f"timer name {name!r} is invalid: Scheduler names are 1-64 of [0-9A-Za-z-_.]")


def send_message_request(queue_url: str, message: WorkMessage) -> dict[str, Any]:
    """The SendMessage request of a wake-up, after checking the body against SQS's size limit."""
    body = dumps(message.to_dict())
    # SQS API Reference, SendMessage: a message body is at most 1 MiB (1,048,576 bytes).
    check_size(
        len(body.encode()), SQS_MESSAGE_BYTES,
        f"the wake-up message for execution '{message_group(message)}'", "SQS's message size limit",
    )
    return {
        "QueueUrl": queue_url,
        "MessageBody": body,
        "MessageGroupId": message_group(message),
        # Same logical message => same body (WakeMessage.dedup) => dropped within SQS's 5-minute window.
        # A SHA-256 hex digest: 64 characters, inside the 128-character MessageDeduplicationId limit.
        "MessageDeduplicationId": hashlib.sha256(body.encode()).hexdigest(),
    }


def invoke_request(stack: str, invocation: StepInvocation, *, sync: bool = False) -> dict[str, Any]:
    """The Invoke request of a declared step (asynchronous unless ``sync``), after checking Lambda's payload limit.

    A synchronous invoke may carry 6 MB, but is held to the asynchronous 1 MB too: throttled, it is sent again
    asynchronously (``AwsEffects.call_step``)."""
    payload = async_invoke_payload(invocation.to_dict(), invocation_what(invocation))  # 1 MB: Lambda API, Invoke
    return {
        "FunctionName": step_function_name(stack, invocation.step),
        "InvocationType": "RequestResponse" if sync else "Event",
        "Payload": payload,
    }


def create_schedule_request(config: RuntimeConfig, name: str, at: datetime, message: WorkMessage) -> dict[str, Any]:
    """The CreateSchedule request of a one-time timer, after checking its name and input size."""
    check_schedule_name(name)
    body = dumps(message.to_dict())
    # Scheduler API Reference, Target: Input is at most 256 KB (it then becomes an SQS message,
    # whose 1 MiB limit is larger).
    check_size(
        len(body.encode()), SCHEDULER_INPUT_BYTES,
        f"the timer message for execution '{message_group(message)}'", "EventBridge Scheduler's target input limit",
    )
    return {
        "Name": name,
        "GroupName": config.schedule_group,
        "ScheduleExpression": at_expression(at),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {
            "Arn": config.queue_arn,
            "RoleArn": config.scheduler_role_arn,
            "Input": body,
            # Scheduler cannot pass a deduplication id: the queue's content-based dedup covers it.
            "SqsParameters": {"MessageGroupId": message_group(message)},
        },
    }


def put_events_entry(bus: str, event: Event) -> PutEventsRequestEntryTypeDef:
    """The PutEvents entry of an event, after checking its size the way EventBridge computes it."""
    entry: PutEventsRequestEntryTypeDef = {
        "Source": event.source or DEFAULT_SOURCE,
        "DetailType": event.detail_type,
        "Detail": dumps(event.detail),
        "EventBusName": bus,
    }
    if event.resources:
        entry["Resources"] = list(event.resources)
    if event.time:
        entry["Time"] = parse_iso(event.time)
    # EventBridge API Reference, PutEvents: entries total less than 1 MB, sized the AWS way.
    check_size(
        eventbridge_entry_size(entry), EVENTBRIDGE_ENTRY_BYTES,
        f"event '{event.detail_type}'", "EventBridge's PutEvents entry limit",
    )
    return entry


def put_events_chunks(entries: list[PutEventsRequestEntryTypeDef]) -> Iterator[list[PutEventsRequestEntryTypeDef]]:
    """Split into PutEvents requests: at most 10 entries and 1 MB in total each (EventBridge quotas)."""
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
