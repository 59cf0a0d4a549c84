"""``AwsEffects`` against moto: what lands in SQS, Scheduler and EventBridge, and the size limits.

Lambda is a small fake (moto runs Lambda code only with Docker); everything else is the real
boto3 call against moto.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from stepbridge.config import RuntimeConfig, step_function_name
from stepbridge.errors import PayloadTooLarge
from stepbridge.infra.aws import AwsEffects, PublishFailed, at_expression
from stepbridge.runtime.codec import dumps
from stepbridge.runtime.records import Event, StepInvocation, WakeMessage

REGION = "us-east-1"
GROUP = "stepbridge-timers"
BUS = "stepbridge-bus"
ROLE_ARN = "arn:aws:iam::123456789012:role/stepbridge-scheduler"
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class FakeLambda:
    """Records Invoke calls (moto's Lambda needs Docker to run code)."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        return {"StatusCode": 202}


@dataclass
class Cloud:
    effects: AwsEffects
    config: RuntimeConfig
    sqs: Any
    scheduler: Any
    events: Any
    fake_lambda: FakeLambda

    def receive(self, queue_url: str | None = None, *, expect: int = 1) -> list[dict[str, Any]]:
        """Receive until ``expect`` messages arrived or the queue is empty."""
        out: list[dict[str, Any]] = []
        while len(out) < expect:
            resp = self.sqs.receive_message(
                QueueUrl=queue_url or self.config.queue_url,
                MaxNumberOfMessages=10,
                MessageSystemAttributeNames=["All"],
            )
            batch = resp.get("Messages", [])
            if not batch:
                break
            out.extend(batch)
        return out


@pytest.fixture
def cloud(aws_env: None) -> Iterator[Cloud]:
    """The work queue, timer group and bus in moto, and an ``AwsEffects`` on a fixed clock."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        queue_url = sqs.create_queue(
            QueueName="stepbridge-work.fifo",
            Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
        )["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        scheduler = boto3.client("scheduler", region_name=REGION)
        scheduler.create_schedule_group(Name=GROUP)
        events = boto3.client("events", region_name=REGION)
        events.create_event_bus(Name=BUS)
        config = RuntimeConfig(
            app="tests.app:app",
            table="stepbridge-state",
            bus=BUS,
            queue_url=queue_url,
            queue_arn=queue_arn,
            schedule_group=GROUP,
            scheduler_role_arn=ROLE_ARN,
            stack="acme-prod",
        )
        fake_lambda = FakeLambda()
        effects = AwsEffects(
            config,
            sqs=sqs,
            scheduler=scheduler,
            events=events,
            lambda_client=fake_lambda,  # type: ignore[arg-type]
            clock=lambda: NOW,
        )
        yield Cloud(effects, config, sqs, scheduler, events, fake_lambda)


# ---- wake -----------------------------------------------------------------------------------


def test_wake_sends_to_the_execution_group(cloud: Cloud) -> None:
    message = WakeMessage("order-42", "step", "step:charge#1", {"op": "charge"})
    cloud.effects.wake(message)
    [received] = cloud.receive()
    assert json.loads(received["Body"]) == message.to_dict()
    assert received["Attributes"]["MessageGroupId"] == "order-42"
    body = dumps(message.to_dict())
    assert received["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(body.encode()).hexdigest()
    assert cloud.effects.calls == {"SendMessage": 1}


def test_duplicate_wake_is_deduplicated(cloud: Cloud) -> None:
    cloud.effects.wake(WakeMessage("order-42", "timer", "timer:sleep-1"))
    cloud.effects.wake(WakeMessage("order-42", "timer", "timer:sleep-1"))  # same logical message
    cloud.effects.wake(WakeMessage("order-42", "timer", "timer:sleep-2"))
    bodies = [json.loads(m["Body"])["dedup"] for m in cloud.receive(expect=3)]
    assert bodies == ["timer:sleep-1", "timer:sleep-2"]


def test_oversized_wake_raises_before_sending(cloud: Cloud) -> None:
    with pytest.raises(PayloadTooLarge, match=r"SQS's message size limit \(1,048,576 bytes\)"):
        cloud.effects.wake(WakeMessage("order-42", "event", "d", {"blob": "x" * 1_100_000}))
    assert cloud.effects.calls == {}


# ---- invoke_step ----------------------------------------------------------------------------


def test_invoke_step_async_invokes_the_steps_function(cloud: Cloud) -> None:
    invocation = StepInvocation("order-42", "charge-payment", "charge_payment", [{"total": 10}], 1, "")
    cloud.effects.invoke_step(invocation)
    [call] = cloud.fake_lambda.calls
    assert call["FunctionName"] == step_function_name("acme-prod", "charge_payment")
    assert call["FunctionName"] == "acme-prod-charge-payment"
    assert call["InvocationType"] == "Event"
    assert json.loads(call["Payload"]) == invocation.to_dict()


def test_invoke_step_payload_limit(cloud: Cloud) -> None:
    invocation = StepInvocation("order-42", "upload", "upload", ["x" * 1_100_000], 1, "")
    with pytest.raises(PayloadTooLarge, match=r"step 'upload'.*asynchronous invocation payload limit \(1,048,576"):
        cloud.effects.invoke_step(invocation)
    assert cloud.fake_lambda.calls == []


def test_invoke_step_needs_the_stack_name(cloud: Cloud) -> None:
    effects = AwsEffects(
        RuntimeConfig(**{**cloud.config.__dict__, "stack": ""}),
        lambda_client=cloud.fake_lambda,  # type: ignore[arg-type]
    )
    with pytest.raises(RuntimeError, match="STEPBRIDGE_STACK"):
        effects.invoke_step(StepInvocation("e", "op", "step", [], 1, ""))


# ---- call_step (synchronous invoke: runtime/stepreply.py) ----------------------------------------


class _Payload:
    def __init__(self, body: object) -> None:
        self._data = json.dumps(body).encode()

    def read(self) -> bytes:
        return self._data


@dataclass
class AnsweringLambda:
    """A synchronous Invoke's response, or the error it raises."""

    response: dict[str, Any] | None = None
    error: BaseException | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        assert self.response is not None
        return self.response


def _sync_effects(cloud: Cloud, fake: AnsweringLambda) -> AwsEffects:
    return AwsEffects(cloud.config, lambda_client=fake, clock=lambda: NOW)  # type: ignore[arg-type]


ASKED = StepInvocation("order-42", "charge", "charge", [1], 1, "", reply_by="2030-01-01T12:00:01+00:00")


def test_call_step_invokes_synchronously_and_returns_the_answered_wake_up(cloud: Cloud) -> None:
    wake = WakeMessage("order-42", "step", "step:charge:1:result", {"reports": [{"key": "charge"}]})
    fake = AnsweringLambda({"StatusCode": 200, "Payload": _Payload({"outcome": "result", "reply": wake.to_dict()})})
    assert _sync_effects(cloud, fake).call_step(ASKED) == wake
    [call] = fake.calls
    assert call["InvocationType"] == "RequestResponse" and call["FunctionName"] == "acme-prod-charge"
    assert json.loads(call["Payload"])["reply_by"] == ASKED.reply_by


@pytest.mark.parametrize(
    "response",
    [
        {"StatusCode": 200, "Payload": _Payload({"outcome": "result"})},  # reported late: woke it by the queue
        {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": _Payload({"errorMessage": "boom"})},
    ],
    ids=["no-answer", "function-error"],
)
def test_call_step_without_an_answer_returns_none(cloud: Cloud, response: dict[str, Any]) -> None:
    assert _sync_effects(cloud, AnsweringLambda(response)).call_step(ASKED) is None


def test_call_step_throttled_raises_step_throttled(cloud: Cloud) -> None:
    from stepbridge.runtime.ports import StepThrottled

    error = ClientError({"Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."}}, "Invoke")
    with pytest.raises(StepThrottled, match="Rate Exceeded"):
        _sync_effects(cloud, AnsweringLambda(error=error)).call_step(ASKED)


def test_call_step_read_timeout_returns_none(cloud: Cloud) -> None:
    from botocore.exceptions import ReadTimeoutError

    fake = AnsweringLambda(error=ReadTimeoutError(endpoint_url="https://lambda.us-east-1.amazonaws.com"))
    assert _sync_effects(cloud, fake).call_step(ASKED) is None


def test_call_step_other_errors_propagate(cloud: Cloud) -> None:
    error = ClientError({"Error": {"Code": "ServiceException", "Message": "internal"}}, "Invoke")
    with pytest.raises(ClientError, match="internal"):
        _sync_effects(cloud, AnsweringLambda(error=error)).call_step(ASKED)


# ---- timers ---------------------------------------------------------------------------------


def test_at_expression_is_utc_and_never_early() -> None:
    assert at_expression(datetime(2030, 1, 1, 12, 0, 5, tzinfo=UTC)) == "at(2030-01-01T12:00:05)"
    assert at_expression(datetime(2030, 1, 1, 12, 0, 5, 1, tzinfo=UTC)) == "at(2030-01-01T12:00:06)"
    assert at_expression(datetime(2030, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC)) == "at(2031-01-01T00:00:00)"
    plus_two = timezone(timedelta(hours=2))
    assert at_expression(datetime(2030, 1, 1, 14, 0, tzinfo=plus_two)) == "at(2030-01-01T12:00:00)"


def test_schedule_timer_creates_a_one_time_schedule(cloud: Cloud) -> None:
    message = WakeMessage("order-42", "timer", "timer:sleep-1")
    cloud.effects.schedule_timer("sb-abc", NOW + timedelta(minutes=5, milliseconds=250), message)
    schedule = cloud.scheduler.get_schedule(Name="sb-abc", GroupName=GROUP)
    assert schedule["ScheduleExpression"] == "at(2030-01-01T12:05:01)"
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    target = schedule["Target"]
    assert target["Arn"] == cloud.config.queue_arn
    assert target["RoleArn"] == ROLE_ARN
    assert json.loads(target["Input"]) == message.to_dict()
    assert target["SqsParameters"] == {"MessageGroupId": "order-42"}


def test_schedule_timer_is_idempotent_by_name(cloud: Cloud) -> None:
    message = WakeMessage("order-42", "timer", "timer:sleep-1")
    at = NOW + timedelta(hours=1)
    cloud.effects.schedule_timer("sb-abc", at, message)
    cloud.effects.schedule_timer("sb-abc", at, message)  # a replay sets the same timer again
    names = [s["Name"] for s in cloud.scheduler.list_schedules(GroupName=GROUP)["Schedules"]]
    assert names == ["sb-abc"]
    assert cloud.effects.calls == {"CreateSchedule": 2}


def test_schedule_timer_in_the_past_wakes_at_once(cloud: Cloud) -> None:
    message = WakeMessage("order-42", "timer", "timer:retry-1")
    cloud.effects.schedule_timer("sb-late", NOW - timedelta(seconds=1), message)
    assert cloud.scheduler.list_schedules(GroupName=GROUP)["Schedules"] == []
    [received] = cloud.receive()
    assert json.loads(received["Body"]) == message.to_dict()


def test_schedule_timer_rejects_invalid_names(cloud: Cloud) -> None:
    with pytest.raises(ValueError, match="timer name"):
        cloud.effects.schedule_timer("no spaces/here", NOW + timedelta(hours=1), WakeMessage("e", "t", "d"))


def test_cancel_timer_deletes_and_ignores_missing(cloud: Cloud) -> None:
    cloud.effects.schedule_timer("sb-abc", NOW + timedelta(hours=1), WakeMessage("order-42", "timer", "t"))
    cloud.effects.cancel_timer("sb-abc")
    with pytest.raises(ClientError) as err:
        cloud.scheduler.get_schedule(Name="sb-abc", GroupName=GROUP)
    assert err.value.response["Error"]["Code"] == "ResourceNotFoundException"
    cloud.effects.cancel_timer("sb-abc")  # already gone (fired and auto-deleted): fine
    cloud.effects.cancel_timer("sb-never-created")


# ---- publish --------------------------------------------------------------------------------


def _observer(cloud: Cloud) -> str:
    """A standard queue behind a catch-all rule on the bus: moto delivers matching events to it."""
    url: str = cloud.sqs.create_queue(QueueName="observer")["QueueUrl"]
    arn = cloud.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    cloud.events.put_rule(Name="observe", EventBusName=BUS, EventPattern=json.dumps({"source": ["acme"]}))
    cloud.events.put_targets(Rule="observe", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
    return url


def test_publish_delivers_events_in_chunks_of_ten(cloud: Cloud) -> None:
    url = _observer(cloud)
    events = [
        Event("Order.confirmed", {"orderId": i}, source="acme", time="2030-01-01T12:00:00+00:00")
        for i in range(12)
    ]
    cloud.effects.publish(events)
    assert cloud.effects.calls == {"PutEvents": 2}
    delivered = [json.loads(m["Body"]) for m in cloud.receive(url, expect=12)]
    assert sorted(e["detail"]["orderId"] for e in delivered) == list(range(12))
    assert {e["detail-type"] for e in delivered} == {"Order.confirmed"}
    assert {e["source"] for e in delivered} == {"acme"}


def test_publish_splits_requests_by_total_size(cloud: Cloud) -> None:
    url = _observer(cloud)
    blob = "x" * 400_000
    cloud.effects.publish([Event("Doc.stored", {"i": i, "blob": blob}, source="acme") for i in range(3)])
    assert cloud.effects.calls == {"PutEvents": 2}  # 2 x 400 KB, then 1: a request stays under 1 MB
    assert len(cloud.receive(url, expect=3)) == 3


def test_publish_rejects_an_event_over_1_mb(cloud: Cloud) -> None:
    url = _observer(cloud)
    events = [
        Event("Doc.stored", {"ok": True}, source="acme"),
        Event("Doc.stored", {"blob": "x" * (1024 * 1024)}, source="acme"),
    ]
    with pytest.raises(PayloadTooLarge, match=r"event 'Doc\.stored'.*PutEvents entry limit"):
        cloud.effects.publish(events)
    assert cloud.effects.calls == {}  # checked before anything is sent
    assert cloud.receive(url) == []


def test_publish_raises_on_failed_entries(cloud: Cloud) -> None:
    class FailingEvents:
        def put_events(self, **kwargs: Any) -> dict[str, Any]:
            return {
                "FailedEntryCount": 1,
                "Entries": [{"EventId": "1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}],
            }

    effects = AwsEffects(cloud.config, events=FailingEvents())  # type: ignore[arg-type]
    with pytest.raises(PublishFailed, match=r"rejected 1 of 2 events.*InternalFailure: try again"):
        effects.publish([Event("A", {}, source="acme"), Event("B", {}, source="acme")])


# ---- clock and laziness ---------------------------------------------------------------------


def test_now_is_aware_utc_and_no_client_is_created_for_it() -> None:
    effects = AwsEffects(RuntimeConfig("a:app", "t", "b", "q", "", "default", "", "s"))
    now = effects.now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5
    assert effects.clients_created == []


def test_the_synchronous_client_reads_for_the_window_plus_the_grace_and_never_retries(
    cloud: Cloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    effects = AwsEffects(cloud.config, clock=lambda: NOW)
    client = effects._sync_lambda(6.2)
    assert client.meta.config.read_timeout == 7
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert effects._sync_lambda(6.9) is client  # one client per whole-second read timeout
