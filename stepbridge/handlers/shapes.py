"""What kind of event a Lambda received: each handler checks it got its own kind, and names the
kind in one log line when it did not (a wrong trigger, a test invoke with ``{}``, a foreign event).

Shapes follow what AWS sends (samples under tests/events/, made with ``sam local generate-event``):
API Gateway HTTP API and Lambda function URL requests (payload format 2.0), REST API proxy
requests (1.0), SQS batches, S3/SNS/DynamoDB/Kinesis records, EventBridge events (including
scheduled events), and EventBridge Scheduler's default ``{}`` input.
"""

from __future__ import annotations

from collections.abc import Mapping

#: HTTP request kinds, named as Powertools' resolvers are.
HTTP_API = "http-api"  # API Gateway HTTP API, payload format 2.0
REST_API = "rest-api"  # API Gateway REST API proxy integration, payload format 1.0
FUNCTION_URL = "function-url"  # Lambda function URL (payload format 2.0 on a *.lambda-url.* domain)


def http_kind(event: object) -> str | None:
    """Which HTTP front door sent ``event``, or ``None`` when it is not an HTTP request."""
    if not isinstance(event, Mapping):
        return None
    context = event.get("requestContext")
    if not isinstance(context, Mapping):
        return None
    if event.get("version") == "2.0" and isinstance(context.get("http"), Mapping):
        domain = str(context.get("domainName") or "")
        return FUNCTION_URL if ".lambda-url." in domain else HTTP_API
    if isinstance(event.get("httpMethod"), str) and isinstance(event.get("path"), str):
        return REST_API
    return None


def record_sources(event: Mapping[str, object]) -> set[str]:
    """The ``eventSource`` values of a records-style event (SQS ``aws:sqs``, S3 ``aws:s3``, SNS ``aws:sns``...)."""
    records = event.get("Records")
    if not isinstance(records, list):
        return set()
    return {
        str(r.get("eventSource") or r.get("EventSource") or "unknown") if isinstance(r, Mapping) else "not an object"
        for r in records
    }


def is_sqs_batch(event: object) -> bool:
    """An SQS batch: a ``Records`` list of objects from ``aws:sqs`` (records without an ``eventSource``,
    as hand-made tests and LocalCloud build them, count as SQS)."""
    # (``type(...) is dict`` first: a JSON object is a dict, and ``isinstance`` against the ``Mapping`` ABC runs
    # ``ABCMeta.__instancecheck__`` in Python, once per record of every batch)
    if not (type(event) is dict or isinstance(event, Mapping)) or not isinstance(event.get("Records"), list):
        return False
    return all(
        (type(r) is dict or isinstance(r, Mapping)) and r.get("eventSource", "aws:sqs") == "aws:sqs"
        for r in event["Records"]
    )


def is_eventbridge_event(event: object) -> bool:
    """An EventBridge event envelope (a rule's delivery): a ``detail-type`` string and a ``detail`` object."""
    return (
        isinstance(event, Mapping)
        and isinstance(event.get("detail-type"), str)
        and isinstance(event.get("detail"), Mapping)
    )


def describe(event: object) -> str:
    """A short human name for the kind of ``event``, for a log line that says what arrived."""
    if not isinstance(event, Mapping):
        return f"a {type(event).__name__} instead of a JSON object"
    if not event:
        return "an empty event {}"
    kind = http_kind(event)
    if kind is not None:
        return {HTTP_API: "an API Gateway HTTP API request", REST_API: "an API Gateway REST API (v1) request",
                FUNCTION_URL: "a Lambda function URL request"}[kind]
    sources = record_sources(event)
    if sources:
        names = {"aws:sqs": "SQS", "aws:s3": "S3", "aws:sns": "SNS", "aws:dynamodb": "DynamoDB Streams",
                 "aws:kinesis": "Kinesis"}
        return "records from " + ", ".join(sorted(names.get(s, s) for s in sources))
    if is_eventbridge_event(event):
        return f"an EventBridge event ({event.get('source')} / {event.get('detail-type')})"
    keys = sorted(str(k) for k in event)[:8]
    return f"an unrecognised event with keys {keys}"


__all__ = [
    "FUNCTION_URL", "HTTP_API", "REST_API",
    "describe", "http_kind", "is_eventbridge_event", "is_sqs_batch", "record_sources",
]
