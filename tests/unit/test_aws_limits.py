"""AWS limits moto does not enforce: LocalCloud refuses the over-limit call with AWS's error, accepts the at-limit one.

Each limit (docs/LIMITS.md) is tried through the moto-backed clients LocalCloud's handlers use (the
check runs inside the client, so the engine sees the ``ClientError`` AWS would send), and where the
memory backend emulates the call, through it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepbridge import App, Context, PayloadTooLarge
from stepbridge.infra.aws import put_events_entry
from stepbridge.local import LocalCloud, awslimits
from stepbridge.runtime.limits import (
    EVENT_BYTES,
    EVENTBRIDGE_ENTRY_BYTES,
    LAMBDA_ASYNC_PAYLOAD_BYTES,
    LAMBDA_SYNC_PAYLOAD_BYTES,
    SCHEDULER_INPUT_BYTES,
    SQS_MESSAGE_BYTES,
    event_entry_size,
    eventbridge_entry_size,
)
from stepbridge.runtime.records import Event, StepInvocation, WakeMessage

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def limits_app() -> App:
    app = App("lim")

    @app.step(timeout=30)
    def ingest(blob: str) -> int:
        return len(blob)

    @app.workflow("echo")
    async def echo(ctx: Context, data: Any) -> Any:
        return data

    return app


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(limits_app()) as c:
        yield c


@pytest.fixture(scope="module")
def memory_cloud() -> Iterator[LocalCloud]:
    with LocalCloud(limits_app(), backend="memory") as c:
        yield c


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


# ---- SQS: MessageGroupId and MessageDeduplicationId ---------------------------------------------------


def _send(cloud: LocalCloud, **params: Any) -> str:
    params.setdefault("MessageBody", "{}")
    params.setdefault("MessageGroupId", "g")
    params.setdefault("MessageDeduplicationId", "d")
    return str(cloud._aws_effects.sqs.send_message(QueueUrl=cloud.resources.config.queue_url, **params)["MessageId"])


@pytest.mark.parametrize("member", ["MessageGroupId", "MessageDeduplicationId"])
def test_sqs_ids_of_128_characters_of_any_punctuation_are_accepted(cloud: LocalCloud, member: str) -> None:
    value = (PUNCTUATION + "a1Z" * 50)[:128]
    assert _send(cloud, **{member: value}) and _send(cloud, **{member: "x" * 128})  # accepted: a message id


@pytest.mark.parametrize("member", ["MessageGroupId", "MessageDeduplicationId"])
@pytest.mark.parametrize("value", ["x" * 129, "has space", "caf\u00e9", "tab\there"])
def test_sqs_ids_over_128_characters_or_outside_the_charset_are_invalid_parameter_value(
    cloud: LocalCloud, member: str, value: str
) -> None:
    with pytest.raises(ClientError) as exc:
        _send(cloud, **{member: value})
    assert code_of(exc) == "InvalidParameterValue" and member in str(exc.value)


def test_a_wake_up_for_a_129_character_group_is_refused_as_sqs_would_on_both_backends(
    cloud: LocalCloud, memory_cloud: LocalCloud
) -> None:
    for c in (cloud, memory_cloud):
        with pytest.raises(ClientError) as exc:
            c.effects.wake(WakeMessage("e" * 129, "start", "start"))
        assert code_of(exc) == "InvalidParameterValue"
        c.effects.wake(WakeMessage("e" * 128, "start", "start"))  # at the limit: accepted


def test_sqs_body_of_1_mib_is_accepted_and_one_byte_more_is_refused(cloud: LocalCloud) -> None:
    _send(cloud, MessageBody="b" * SQS_MESSAGE_BYTES, MessageDeduplicationId="full")
    with pytest.raises(ClientError) as exc:
        _send(cloud, MessageBody="b" * (SQS_MESSAGE_BYTES - 1) + "\u00e9", MessageDeduplicationId="over")  # 2 bytes
    assert code_of(exc) == "InvalidParameterValue" and "shorter than 1048576 bytes" in str(exc.value)


def test_sqs_body_with_a_character_outside_xml_chars_is_invalid_message_contents(cloud: LocalCloud) -> None:
    with pytest.raises(ClientError) as exc:
        _send(cloud, MessageBody="bell \x07")
    assert code_of(exc) == "InvalidMessageContents"


# ---- Lambda: payload by invocation type, function name --------------------------------------------------


def _invoke(**params: Any) -> None:
    awslimits.check("lambda", "Invoke", {"FunctionName": "lim-ingest", "InvocationType": "Event", **params})


def test_lambda_async_payload_of_1_mb_is_accepted_and_one_byte_more_is_request_entity_too_large() -> None:
    _invoke(Payload=b"x" * LAMBDA_ASYNC_PAYLOAD_BYTES)
    with pytest.raises(ClientError) as exc:
        _invoke(Payload=b"x" * (LAMBDA_ASYNC_PAYLOAD_BYTES + 1))
    assert code_of(exc) == "RequestEntityTooLargeException"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "too large for the Event invocation type (limit 1048576 bytes)" in str(exc.value)


def test_lambda_sync_payload_limit_is_6_mb() -> None:
    _invoke(InvocationType="RequestResponse", Payload=b"x" * LAMBDA_SYNC_PAYLOAD_BYTES)
    with pytest.raises(ClientError) as exc:
        _invoke(InvocationType="RequestResponse", Payload=b"x" * (LAMBDA_SYNC_PAYLOAD_BYTES + 1))
    assert code_of(exc) == "RequestEntityTooLargeException" and "6291456" in str(exc.value)


def test_lambda_function_name_is_64_characters_or_a_140_character_arn() -> None:
    _invoke(FunctionName="f" * 64)
    arn = "arn:aws:lambda:us-east-1:123456789012:function:"  # 47 characters
    _invoke(FunctionName=arn + "f" * 93)  # 140
    for name in ("f" * 65, arn + "f" * 94):
        with pytest.raises(ClientError) as exc:
            _invoke(FunctionName=name)
        assert code_of(exc) == "ValidationException"


@pytest.mark.parametrize("backend", ["cloud", "memory_cloud"])
def test_a_step_invocation_over_1_mb_fails_before_any_invoke_on_both_backends(
    backend: str, request: pytest.FixtureRequest
) -> None:
    c: LocalCloud = request.getfixturevalue(backend)
    before = c.calls["lambda.Invoke"]
    big = StepInvocation("e-1", "ingest", "ingest", ["x" * LAMBDA_ASYNC_PAYLOAD_BYTES], 1, "")
    with pytest.raises(PayloadTooLarge, match=r"step 'ingest'.*asynchronous invocation payload limit"):
        c.effects.invoke_step(big)
    assert c.calls["lambda.Invoke"] == before


# ---- EventBridge Scheduler: names and target input ------------------------------------------------------


def _schedule(cloud: LocalCloud, name: str, body: str = "{}", group: str | None = None) -> None:
    config = cloud.resources.config
    cloud._aws_effects.scheduler.create_schedule(
        Name=name,
        GroupName=group or config.schedule_group,
        ScheduleExpression="at(2030-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": config.queue_arn, "RoleArn": config.scheduler_role_arn or "arn:aws:iam::123456789012:role/r",
                "Input": body, "SqsParameters": {"MessageGroupId": "g"}},
    )


def test_schedule_names_are_1_to_64_of_the_scheduler_charset(cloud: LocalCloud) -> None:
    _schedule(cloud, "s" * 64)
    _schedule(cloud, "a-b_c.D9")
    for name in ("s" * 65, "has:colon", "sp ace"):
        with pytest.raises(ClientError) as exc:
            _schedule(cloud, name)
        assert code_of(exc) == "ValidationException"


def test_schedule_group_names_are_checked_like_schedule_names(cloud: LocalCloud) -> None:
    with pytest.raises(ClientError) as exc:
        _schedule(cloud, "ok", group="g" * 65)
    assert code_of(exc) == "ValidationException" and "groupName" in str(exc.value)


def test_schedule_input_of_256_kb_is_accepted_and_one_byte_more_is_refused(cloud: LocalCloud) -> None:
    _schedule(cloud, "input-at-limit", body="i" * SCHEDULER_INPUT_BYTES)
    with pytest.raises(ClientError) as exc:
        _schedule(cloud, "input-over", body="i" * (SCHEDULER_INPUT_BYTES + 1))
    assert code_of(exc) == "ValidationException" and "target.input" in str(exc.value)


def test_a_timer_whose_input_is_over_256_kb_fails_before_create_schedule_on_both_backends(
    cloud: LocalCloud, memory_cloud: LocalCloud
) -> None:
    for c in (cloud, memory_cloud):
        at = c.now() + timedelta(hours=1)
        message = WakeMessage("e-1", "timer", "t", {"blob": "x" * SCHEDULER_INPUT_BYTES})
        with pytest.raises(PayloadTooLarge, match="Scheduler's target input limit"):
            c._aws_effects.schedule_timer("sb-timer-1", at, message)


def test_a_timer_name_scheduler_would_refuse_is_refused_on_the_memory_backend_too(memory_cloud: LocalCloud) -> None:
    with pytest.raises(ValueError, match="Scheduler names are 1-64"):
        memory_cloud._aws_effects.schedule_timer("t" * 65, memory_cloud.now() + timedelta(hours=1),
                                                 WakeMessage("e-1", "timer", "t"))


# ---- EventBridge PutEvents: entry size computed the AWS way -------------------------------------------------


def test_entry_size_is_computed_as_eventbridge_computes_it() -> None:
    # eb-putevent-size: Time 14 bytes when present; UTF-8 bytes of Source, DetailType, Detail, each Resource.
    entry = {"Time": datetime(2026, 1, 1, tzinfo=UTC), "Source": "src", "DetailType": "Typ\u00e9",
             "Detail": '{"k":"\u20ac"}', "Resources": ["arn:1", "r"]}
    assert eventbridge_entry_size(entry) == 14 + 3 + 5 + 11 + 5 + 1
    assert eventbridge_entry_size({"Source": "s", "DetailType": "t"}) == 2
    event = Event("Typ\u00e9", {"k": "\u20ac"}, source="src", time="2026-01-01T00:00:00+00:00", resources=("r",))
    assert event_entry_size(event) == 14 + 3 + 5 + 11 + 1


def _entries(total: int, *, time: bool = False) -> list[dict[str, Any]]:
    base: dict[str, Any] = {"Source": "s", "DetailType": "t", "EventBusName": "lim-bus"}
    if time:
        base["Time"] = datetime(2026, 1, 1, tzinfo=UTC)
    overhead = eventbridge_entry_size({**base, "Detail": '{"b":""}'})
    return [{**base, "Detail": json.dumps({"b": "x" * (total - overhead)}, separators=(",", ":"))}]


def test_put_events_of_1_mb_is_accepted_and_one_byte_more_is_a_validation_exception(cloud: LocalCloud) -> None:
    events = cloud._aws_effects.events
    [entry] = _entries(EVENTBRIDGE_ENTRY_BYTES)
    assert eventbridge_entry_size(entry) == EVENTBRIDGE_ENTRY_BYTES
    events.put_events(Entries=[entry])
    # one byte over; and over only because Time counts 14 bytes
    for over in (_entries(EVENTBRIDGE_ENTRY_BYTES + 1), _entries(EVENTBRIDGE_ENTRY_BYTES + 1, time=True)):
        with pytest.raises(ClientError) as exc:
            events.put_events(Entries=over)
        assert code_of(exc) == "ValidationException"
        assert "Total size of the entries in the request is over the limit" in str(exc.value)


def test_put_events_takes_at_most_10_entries(cloud: LocalCloud) -> None:
    entry = {"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": "lim-bus"}
    cloud._aws_effects.events.put_events(Entries=[entry] * 10)
    with pytest.raises(ClientError) as exc:
        cloud._aws_effects.events.put_events(Entries=[entry] * 11)
    assert code_of(exc) == "ValidationException"


def test_memory_backend_checks_put_events_like_eventbridge(memory_cloud: LocalCloud) -> None:
    entry = put_events_entry("lim-bus", Event("Doc", {"b": "x" * 600_000}, source="s"))
    with pytest.raises(ClientError) as exc:
        awslimits.check("events", "PutEvents", {"Entries": [entry, entry]})
    assert code_of(exc) == "ValidationException"
    memory_cloud._aws_effects.publish([Event("Doc", {"b": "x" * 600_000}, source="s")] * 2)  # split: 2 requests


@pytest.mark.usefixtures("without_payload_bucket")  # with one, the detail becomes a claim check
def test_every_sender_sizes_events_with_source_and_time(cloud: LocalCloud) -> None:
    """client.send_event used to leave out the source (and the time): an event just under the cap by its
    detail-type and detail alone is over it once source and time count, as EventBridge counts them."""
    client = cloud.client()
    source = "s" * 200
    detail_len = EVENT_BYTES - len("Doc.big") - len('{"b":""}') - 10
    with pytest.raises(PayloadTooLarge, match=r"event 'Doc\.big'"):
        client.send_event("Doc.big", {"b": "x" * detail_len}, source=source)
    client.send_event("Doc.big", {"b": "x" * (detail_len - 200 - 14 + 10)}, source=source)  # exactly at the cap


# ---- DynamoDB: key sizes on every keyed operation ---------------------------------------------------------


def test_dynamodb_partition_key_of_2048_bytes_is_accepted_and_2049_is_a_validation_exception(
    cloud: LocalCloud,
) -> None:
    ddb, table = cloud.store.client, cloud.resources.config.table
    ddb.get_item(TableName=table, Key={"pk": {"S": "p" * 2048}, "sk": {"S": "s"}})
    for op in ("get_item", "delete_item"):
        with pytest.raises(ClientError) as exc:
            getattr(ddb, op)(TableName=table, Key={"pk": {"S": "p" * 2047 + "\u00e9"}, "sk": {"S": "s"}})
        assert code_of(exc) == "ValidationException" and "hashkey" in str(exc.value)


def test_dynamodb_sort_key_of_1024_bytes_is_accepted_and_1025_is_a_validation_exception(cloud: LocalCloud) -> None:
    ddb, table = cloud.store.client, cloud.resources.config.table
    ddb.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"S": "s" * 1024}})
    with pytest.raises(ClientError) as exc:
        ddb.update_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"S": "s" * 1025}},
                        UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"S": "1"}})
    assert code_of(exc) == "ValidationException" and "range keys" in str(exc.value)
    with pytest.raises(ClientError) as exc:  # moto's own check on PutItem agrees
        ddb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": "s" * 1025}})
    assert code_of(exc) == "ValidationException"
