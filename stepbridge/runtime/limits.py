"""AWS service limits the runtime enforces itself, so users get a clear error instead of a deep one.

Each value cites the AWS page it comes from; docs/LIMITS.md lists them all with where stepbridge
enforces or stays inside each one. Sizes are checked in one place per limit: the functions below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from stepbridge.errors import PayloadTooLarge
from stepbridge.runtime.canonical import dumps

if TYPE_CHECKING:
    from stepbridge.runtime.records import Event, StepInvocation

#: DynamoDB maximum item size, including attribute names (DynamoDB quotas: 400 KB).
DYNAMODB_ITEM_BYTES = 400 * 1024
#: DynamoDB key sizes (DynamoDB quotas, "Partition key length" 2048 bytes, "Sort key length" 1024 bytes).
DYNAMODB_PARTITION_KEY_BYTES = 2048
DYNAMODB_SORT_KEY_BYTES = 1024
#: Room left for keys and bookkeeping attributes of a journal item.
JOURNAL_PAYLOAD_BYTES = DYNAMODB_ITEM_BYTES - 4 * 1024
#: EventBridge PutEvents: the entries of one request total less than 1 MB (EventBridge API Reference,
#: PutEvents, raised from 256 KB in January 2026), sized as ``eventbridge_entry_size`` computes.
EVENTBRIDGE_ENTRY_BYTES = 1024 * 1024
#: stepbridge's own cap on an event it publishes (``ctx.send``, ``client.send_event``, ``POST /events``):
#: the router keeps every event in one DynamoDB item (400 KB) for ``wait_for`` look-back, envelope
#: included, so an event must stay well under that even though EventBridge takes 1 MB.
EVENT_BYTES = 256 * 1024
#: Lambda Invoke payload: 1 MB for asynchronous invocations (raised from 256 KB in October 2025) and
#: 6 MB (6,291,456 bytes) for synchronous ones (Lambda API Reference, Invoke; Lambda quotas).
LAMBDA_ASYNC_PAYLOAD_BYTES = 1024 * 1024
LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
#: SQS message size: 1 MiB, 1,048,576 bytes (SQS API Reference, SendMessage ``MessageBody``; raised
#: from 256 KiB in August 2025; a queue's ``MaximumMessageSize`` defaults to it).
SQS_MESSAGE_BYTES = 1024 * 1024
#: EventBridge Scheduler: the target's ``Input`` is at most 256 KB (Scheduler API Reference, Target).
SCHEDULER_INPUT_BYTES = 256 * 1024
#: Longest operation (step) name in UTF-8 bytes; journal sort keys must stay below DynamoDB's 1 KB.
MAX_OP_NAME = 400
#: How long received events are kept for ``wait_for`` look-back (DynamoDB TTL).
EVENT_LOG_RETENTION_DAYS = 30
#: Longest journal of one execution; beyond it use child workflows or ``ctx.continue_as_new``
#: (every replay reads the whole journal, so an unbounded one would make each wake-up slower).
MAX_JOURNAL_RECORDS = 20_000
#: Largest journal of one execution in bytes (records as stored), for the same reason and because a
#: cold replay holds all of it in the orchestrator's memory: the Query's attribute maps plus the
#: decoded records measured 2.0x the stored bytes for 400 KB records and 3.9x for 500-byte ones
#: (tracemalloc over ``decode_journal``). 32 MiB x 4 = 128 MB, beside the journal cache's 64 MB and
#: the runtime, fits the orchestrator's default 512 MB (compiler option ``orchestrator_memory``) with room.
MAX_JOURNAL_BYTES = 32 * 1024 * 1024
#: Room an execution header keeps free beside its input: the outcome's error (message, type names,
#: arguments), the progress and the header's own keys and fields. An error always fits, so an
#: execution whose result does not can still end FAILED saying so.
EXECUTION_RESERVE_BYTES = 16 * 1024
#: Largest workflow input (its JSON, UTF-8): DynamoDB's 400 KB item limit less the reserve (393,216 bytes).
MAX_INPUT_BYTES = DYNAMODB_ITEM_BYTES - EXECUTION_RESERVE_BYTES
#: Longest stored error message (UTF-8 bytes); longer ones are cut, keeping the start and the type.
MAX_ERROR_MESSAGE_BYTES = 8 * 1024
#: Largest JSON of an error's constructor arguments and attributes kept to rebuild it (else dropped).
MAX_ERROR_ARGS_BYTES = 2 * 1024
#: Longest ``ctx.progress`` message (UTF-8 bytes); it is stored on the execution header.
MAX_PROGRESS_MESSAGE_BYTES = 2 * 1024

#: ``Source`` of events put without one (PutEvents rejects an empty Source).
DEFAULT_EVENT_SOURCE = "stepbridge"


def eventbridge_entry_size(entry: Mapping[str, Any]) -> int:
    """A ``PutEventsRequestEntry``'s size as EventBridge computes it ("Calculating Amazon EventBridge
    PutEvents event entry size", eb-putevent-size): ``Time`` 14 bytes if present, the UTF-8 bytes of
    ``Source``, ``DetailType`` and ``Detail``, and of each of ``Resources``."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if value is not None:
            size += len(str(value).encode("utf-8"))
    resources: Iterable[object] = entry.get("Resources") or ()
    size += sum(len(str(r).encode("utf-8")) for r in resources if r is not None)
    return size


def event_entry_size(event: Event, *, default_source: str = DEFAULT_EVENT_SOURCE) -> int:
    """The size of ``event`` as the entry ``Effects.publish`` puts (its detail as compact JSON)."""
    return eventbridge_entry_size(
        {
            "Time": event.time or None,
            "Source": event.source or default_source,
            "DetailType": event.detail_type,
            "Detail": dumps(event.detail),
            "Resources": event.resources,
        }
    )


def check_event_size(event: Event, *, default_source: str = DEFAULT_EVENT_SOURCE) -> int:
    """Raise ``PayloadTooLarge`` naming the event when it is over stepbridge's event cap (``EVENT_BYTES``,
    below EventBridge's own limit); returns its entry size, computed as EventBridge computes it."""
    size = event_entry_size(event, default_source=default_source)
    check_size(
        size, min(EVENT_BYTES, EVENTBRIDGE_ENTRY_BYTES), f"event '{event.detail_type}'",
        "the 256 KB event limit (the router logs each event in one 400 KB DynamoDB item for wait_for look-back)",
    )
    return size


def json_size(data: object) -> int:
    """Bytes of ``data`` as stored: its compact JSON in UTF-8."""
    return len(dumps(data).encode())


def check_json_size(data: object, limit: int, too_large: Callable[[int], str]) -> int:
    """``data``'s stored size; ``PayloadTooLarge`` with the message ``too_large(size)`` when it is over ``limit``."""
    size = json_size(data)
    if size > limit:
        raise PayloadTooLarge(too_large(size))
    return size


def invocation_what(invocation: StepInvocation) -> str:
    """How a step invocation's payload is named in ``PayloadTooLarge``."""
    return f"the arguments of step '{invocation.op}' (execution '{invocation.execution_id}')"


def async_invoke_payload(event: object, what: str) -> bytes:
    """A Lambda event as it is sent, held to an asynchronous invocation's payload limit (1 MB, Lambda API
    Reference, Invoke): ``PayloadTooLarge`` naming ``what`` when over it."""
    payload = dumps(event).encode()
    check_size(len(payload), LAMBDA_ASYNC_PAYLOAD_BYTES, what, "Lambda's asynchronous invocation payload limit")
    return payload


def check_size(size: int, limit: int, what: str, service_limit: str) -> None:
    """Raise ``PayloadTooLarge`` when ``size`` bytes exceed ``limit``, naming ``what`` and the service limit."""
    if size > limit:
        raise PayloadTooLarge(
            f"{what} is {size:,} bytes, over {service_limit} ({limit:,} bytes); keep large data out of "
            "workflow inputs, step arguments and events (store it in S3 and pass its key)"
        )
