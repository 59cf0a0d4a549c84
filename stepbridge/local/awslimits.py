"""AWS's own request checks that moto leaves out, so code under LocalCloud fails where AWS would fail.

Each check raises the ``ClientError`` AWS answers with (same error code, HTTP status and, where
known, message), so the engine sees in LocalCloud exactly what it would see deployed. They run on
the request parameters a boto3 client is about to send (``install`` hooks them into a client's
``before-parameter-build`` event) and on the requests LocalCloud delivers without moto (Lambda
invokes, and every call of the memory backend) through ``check``. Values and sources:
docs/LIMITS.md. moto already enforces the 400 KB DynamoDB item and the key sizes on PutItem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from stepbridge.runtime.limits import (
    DYNAMODB_PARTITION_KEY_BYTES,
    DYNAMODB_SORT_KEY_BYTES,
    EVENTBRIDGE_ENTRY_BYTES,
    LAMBDA_ASYNC_PAYLOAD_BYTES,
    LAMBDA_SYNC_PAYLOAD_BYTES,
    SCHEDULER_INPUT_BYTES,
    SQS_MESSAGE_BYTES,
    eventbridge_entry_size,
)

#: SQS MessageGroupId / MessageDeduplicationId: up to 128 of alphanumerics and punctuation
#: (SQS API Reference, SendMessage).
SQS_TOKEN = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}")
#: Characters an SQS message body may hold (SQS API Reference, SendMessage; W3C XML Char).
_SQS_BODY_BAD = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
#: Scheduler schedule and group names: 1-64 of [0-9a-zA-Z-_.] (Scheduler API Reference, CreateSchedule).
SCHEDULER_NAME = re.compile(r"[0-9a-zA-Z\-_.]{1,64}")
#: Lambda function name: 64 characters as a name, 140 as an ARN (Lambda API Reference, Invoke).
LAMBDA_NAME_MAX, LAMBDA_ARN_MAX = 64, 140
#: PutEvents: at most 10 entries per request (EventBridge quotas).
PUT_EVENTS_MAX_ENTRIES = 10

Check = Callable[[Mapping[str, Any]], None]


class AwsLimitError(ClientError):
    """The ``ClientError`` LocalCloud raises for a request AWS would refuse (``error_code`` as AWS's)."""


def aws_error(code: str, message: str, operation: str, status: int = 400) -> ClientError:
    """A ``ClientError`` shaped like botocore's for ``code`` answered to ``operation``."""
    return AwsLimitError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {
                "HTTPStatusCode": status, "HTTPHeaders": {}, "HostId": "", "RequestId": "local", "RetryAttempts": 0
            },
        },
        operation,
    )


def _constraint(value: object, member: str, what: str, operation: str) -> ClientError:
    shown = str(value) if len(str(value)) <= 200 else str(value)[:200] + "..."
    return aws_error(
        "ValidationException",
        f"1 validation error detected: Value '{shown}' at '{member}' failed to satisfy constraint: {what}",
        operation,
    )


# ---- SQS ------------------------------------------------------------------------------------------


def check_send_message(params: Mapping[str, object]) -> None:
    """SendMessage: group and de-duplication ids (128 of alphanumerics and punctuation), body content and size."""
    for member in ("MessageGroupId", "MessageDeduplicationId"):
        value = params.get(member)
        if value is not None and not SQS_TOKEN.fullmatch(str(value)):
            raise aws_error(
                "InvalidParameterValue",
                f"Value {value} for parameter {member} is invalid. Reason: {member} can only include alphanumeric "
                "and punctuation characters. 1 to 128 in length.",
                "SendMessage",
            )
    body = str(params.get("MessageBody", ""))
    if _SQS_BODY_BAD.search(body):
        raise aws_error(
            "InvalidMessageContents", "Invalid binary character in the message body (outside the allowed set).",
            "SendMessage",
        )
    size = len(body.encode("utf-8"))
    if size > SQS_MESSAGE_BYTES:
        raise aws_error(
            "InvalidParameterValue",
            f"One or more parameters are invalid. Reason: Message must be shorter than {SQS_MESSAGE_BYTES} bytes.",
            "SendMessage",
        )


# ---- Lambda ---------------------------------------------------------------------------------------


def check_invoke(params: Mapping[str, Any]) -> None:
    """Invoke: function name length, and the payload limit of its invocation type (1 MB async, 6 MB sync)."""
    name = str(params.get("FunctionName", ""))
    limit = LAMBDA_ARN_MAX if name.startswith("arn:") else LAMBDA_NAME_MAX
    if not 0 < len(name) <= limit:
        raise _constraint(name, "functionName", f"Member must have length less than or equal to {limit}", "Invoke")
    payload = params.get("Payload", b"")
    size = len(payload.encode("utf-8") if isinstance(payload, str) else bytes(payload))
    if params.get("InvocationType") == "Event":
        if size > LAMBDA_ASYNC_PAYLOAD_BYTES:
            raise aws_error(
                "RequestEntityTooLargeException",
                f"{size} byte payload is too large for the Event invocation type (limit {LAMBDA_ASYNC_PAYLOAD_BYTES} "
                "bytes)",
                "Invoke",
                413,
            )
    elif size > LAMBDA_SYNC_PAYLOAD_BYTES:
        raise aws_error(
            "RequestEntityTooLargeException",
            f"Request must be smaller than {LAMBDA_SYNC_PAYLOAD_BYTES} bytes for the InvokeFunction operation",
            "Invoke",
            413,
        )


# ---- EventBridge Scheduler ------------------------------------------------------------------------


def check_create_schedule(params: Mapping[str, Any]) -> None:
    """CreateSchedule: name and group name patterns, target input size, the SQS target's group id."""
    for member, key in (("name", "Name"), ("groupName", "GroupName")):
        value = params.get(key)
        if value is not None and not SCHEDULER_NAME.fullmatch(str(value)):
            raise _constraint(
                value, member, "Member must satisfy regular expression pattern: [0-9a-zA-Z-_.]+ and have length "
                "between 1 and 64", "CreateSchedule",
            )
    target = params.get("Target") or {}
    body = target.get("Input")
    if body is not None and len(str(body).encode("utf-8")) > SCHEDULER_INPUT_BYTES:
        raise _constraint(
            f"<{len(str(body).encode('utf-8'))} bytes>", "target.input",
            f"Member must have size less than or equal to {SCHEDULER_INPUT_BYTES} bytes", "CreateSchedule",
        )
    group = (target.get("SqsParameters") or {}).get("MessageGroupId")
    if group is not None and not 0 < len(str(group)) <= 128:
        raise _constraint(
            group, "target.sqsParameters.messageGroupId", "Member must have length less than or equal to 128",
            "CreateSchedule",
        )


# ---- EventBridge ----------------------------------------------------------------------------------


def check_put_events(params: Mapping[str, Any]) -> None:
    """PutEvents: at most 10 entries, whose sizes (computed the AWS way) total less than 1 MB."""
    entries = list(params.get("Entries") or [])
    if len(entries) > PUT_EVENTS_MAX_ENTRIES:
        raise _constraint(
            f"<{len(entries)} entries>", "entries", "Member must have length less than or equal to 10", "PutEvents"
        )
    if sum(eventbridge_entry_size(entry) for entry in entries) > EVENTBRIDGE_ENTRY_BYTES:
        raise aws_error("ValidationException", "Total size of the entries in the request is over the limit.",
                        "PutEvents")


# ---- DynamoDB -------------------------------------------------------------------------------------


def dynamodb_key_check(hash_key: str, range_key: str | None) -> Callable[[str], Check]:
    """Key-size checks for operations that name an item by ``Key`` (moto checks only PutItem's)."""

    def for_operation(operation: str) -> Check:
        def check(params: Mapping[str, Any]) -> None:
            keys = [params.get("Key")] if "Key" in params else []
            keys += [
                (item.get(kind) or {}).get("Key")
                for item in params.get("TransactItems") or []
                for kind in ("ConditionCheck", "Delete", "Update", "Get")
            ]
            for key in keys:
                if isinstance(key, Mapping):
                    _check_key(key, hash_key, range_key, operation)

        return check

    return for_operation


def _check_key(key: Mapping[str, Any], hash_key: str, range_key: str | None, operation: str) -> None:
    def size(attr: str) -> int:
        value = key.get(attr) or {}
        text = value.get("S", value.get("N", value.get("B", "")))
        return len(text) if isinstance(text, bytes) else len(str(text).encode("utf-8"))

    if size(hash_key) > DYNAMODB_PARTITION_KEY_BYTES:
        raise aws_error(
            "ValidationException",
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of"
            f"{DYNAMODB_PARTITION_KEY_BYTES} bytes",
            operation,
        )
    if range_key is not None and size(range_key) > DYNAMODB_SORT_KEY_BYTES:
        raise aws_error(
            "ValidationException",
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size "
            f"limit of {DYNAMODB_SORT_KEY_BYTES} bytes",
            operation,
        )


_CHECKS: dict[tuple[str, str], Check] = {
    ("sqs", "SendMessage"): check_send_message,
    ("lambda", "Invoke"): check_invoke,
    ("scheduler", "CreateSchedule"): check_create_schedule,
    ("events", "PutEvents"): check_put_events,
}
_DYNAMODB_KEYED = ("GetItem", "DeleteItem", "UpdateItem", "TransactWriteItems", "TransactGetItems")


def check(service: str, operation: str, params: Mapping[str, object]) -> None:
    """Raise what AWS would answer to ``operation`` of ``service`` (botocore's names) with ``params``."""
    found = _CHECKS.get((service, operation))
    if found is not None:
        found(params)


def install(client: Any, *, key_schema: tuple[str, str | None] = ("pk", "sk")) -> Any:
    """Hook the checks into a boto3 client: a request AWS would refuse raises before moto sees it.

    ``key_schema`` names a DynamoDB client's table keys (hash, range); stepbridge's table is ``pk``/``sk``.
    """
    service = client.meta.service_model.service_name
    keyed = dynamodb_key_check(*key_schema) if service == "dynamodb" else None

    def before_parameter_build(params: dict[str, object], model: Any, **_: object) -> None:
        operation = model.name
        if keyed is not None and operation in _DYNAMODB_KEYED:
            keyed(operation)(params)
        check(service, operation, params)

    client.meta.events.register(
        f"before-parameter-build.{client.meta.service_model.service_id.hyphenize()}", before_parameter_build
    )
    return client
