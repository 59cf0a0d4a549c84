"""Create an app's resources in an account (moto for LocalCloud) and read the work queue.

LocalCloud uses this module for every AWS call it makes itself, keeping boto3 inside
``stepbridge/infra``. The names match what the compiler emits, so the same handlers run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

from stepbridge.config import ROUTER_MAX_RECEIVES, RuntimeConfig
from stepbridge.infra.dynamodb import table_definition
from stepbridge.runtime import keys
from stepbridge.runtime.vocabulary import Reason


@dataclass
class RuleSpec:
    """An EventBridge rule on the app bus and what its target receives."""

    name: str
    pattern: dict[str, Any]
    trigger: str | None = None  # None = the router's catch-all rule (raw event)


@dataclass
class ProvisionedApp:
    """Handles to the resources of one app in one (usually moto) account."""

    config: RuntimeConfig
    region: str
    dlq_url: str
    rules: list[RuleSpec] = field(default_factory=list)
    #: The router's dead-letter queue (the router queue's redrive target).
    router_dlq_url: str = ""
    #: The router queue: a standard queue the rules deliver to and the router consumes.
    router_queue_url: str = ""
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        """A cached boto3 client for ``service`` in the app's region."""
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name=self.region)  # type: ignore[call-overload]
        return self._clients[service]

    # ---- work queue ---------------------------------------------------------------------

    def receive(self, max_messages: int = 10) -> list[dict[str, Any]]:
        """Receive up to ``max_messages`` from the work queue as Lambda SQS event records."""
        resp = self.client("sqs").receive_message(
            QueueUrl=self.config.queue_url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=60,
            AttributeNames=["All"],
        )
        records = []
        for m in resp.get("Messages", []):
            records.append(
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.config.queue_arn,
                    "awsRegion": self.region,
                }
            )
        return records

    def delete(self, receipt_handle: str) -> None:
        """Delete a processed message."""
        self.client("sqs").delete_message(QueueUrl=self.config.queue_url, ReceiptHandle=receipt_handle)

    def release(self, receipt_handle: str) -> None:
        """Make a failed message visible again at once (Lambda would wait for the visibility timeout)."""
        self.client("sqs").change_message_visibility(
            QueueUrl=self.config.queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
        )

    def resend(self, body: str) -> None:
        """Send a copy of a received body to the work queue under a fresh de-duplication id (a redelivery)."""
        import uuid

        group = str(json.loads(body).get("execution_id", "redelivery"))
        self.client("sqs").send_message(
            QueueUrl=self.config.queue_url,
            MessageBody=body,
            MessageGroupId=group,
            MessageDeduplicationId=f"resend-{uuid.uuid4().hex}",
        )

    def dead_letters(self) -> list[dict[str, Any]]:
        """Bodies of messages in the dead-letter queue (parsed JSON)."""
        resp = self.client("sqs").receive_message(QueueUrl=self.dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in resp.get("Messages", [])]

    def redrive(self) -> int:
        """Move dead-lettered messages back to the work queue (receive, send, delete); returns how many."""
        return redrive_queue(self.client("sqs"), self.dlq_url, self.config.queue_url)

    # ---- the router queue (standard; EventBridge rules -> SQS -> router) -----------------------

    def send_event(self, body: dict[str, Any]) -> None:
        """What an EventBridge rule's SQS target does: send the (transformed) event as a message."""
        self.client("sqs").send_message(QueueUrl=self.router_queue_url, MessageBody=json.dumps(body))

    def receive_events(self, max_messages: int = 10) -> list[dict[str, Any]]:
        """Up to ``max_messages`` router messages as Lambda SQS event records; SQS itself moves a message
        received ``maxReceiveCount`` times to the router's dead-letter queue at this receive."""
        resp = self.client("sqs").receive_message(
            QueueUrl=self.router_queue_url, MaxNumberOfMessages=max_messages, VisibilityTimeout=60,
            AttributeNames=["ApproximateReceiveCount"],
        )
        return [
            {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
             "attributes": m.get("Attributes", {}), "eventSource": "aws:sqs", "awsRegion": self.region}
            for m in resp.get("Messages", [])
        ]

    def delete_event(self, receipt_handle: str) -> None:
        """Delete a routed message."""
        self.client("sqs").delete_message(QueueUrl=self.router_queue_url, ReceiptHandle=receipt_handle)

    def release_event(self, receipt_handle: str) -> None:
        """Make a failed router message visible again at once (Lambda would wait for the visibility timeout)."""
        self.client("sqs").change_message_visibility(
            QueueUrl=self.router_queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=0
        )

    def router_dead_letters(self) -> list[dict[str, Any]]:
        """Bodies in the router's dead-letter queue (up to 10, left in place)."""
        resp = self.client("sqs").receive_message(
            QueueUrl=self.router_dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=0
        )
        return [json.loads(m["Body"]) for m in resp.get("Messages", [])]

    def redrive_router(self) -> int:
        """Move the router's dead-letter queue back onto the router queue; returns how many."""
        return redrive_router_queue(self.client("sqs"), self.router_dlq_url, self.router_queue_url)

    def router_queue_depth(self) -> int:
        """Router messages waiting or in flight."""
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=self.router_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def queue_depth(self) -> int:
        """Approximate number of visible messages on the work queue."""
        attrs = self.client("sqs").get_queue_attributes(
            QueueUrl=self.config.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return int(attrs["Attributes"]["ApproximateNumberOfMessages"])

    # ---- parameters (webhook secrets) -------------------------------------------------------

    def put_secret(self, name: str, value: str) -> None:
        """Store a SecureString parameter, or - for a Secrets Manager ARN - that secret's value.

        moto looks a secret ARN up by its last segment (``name-AbCdEf`` for a full ARN), so the
        secret is created under that name and ``GetSecretValue(SecretId=<the ARN>)`` finds it.
        """
        if name.startswith("arn:") and ":secretsmanager:" in name:
            sm = self.client("secretsmanager")
            secret_name = name.split(":")[-1]
            try:
                sm.put_secret_value(SecretId=secret_name, SecretString=value)
            except sm.exceptions.ResourceNotFoundException:
                sm.create_secret(Name=secret_name, SecretString=value)
            return
        self.client("ssm").put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)

    def get_secret(self, name: str) -> str | None:
        """Read a decrypted parameter, or ``None`` when it does not exist."""
        ssm = self.client("ssm")
        try:
            return str(ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except ssm.exceptions.ParameterNotFound:
            return None

    # ---- schedules ----------------------------------------------------------------------------

    def schedule_exists(self, name: str) -> bool:
        """Whether a one-time timer schedule still exists in the group."""
        sched = self.client("scheduler")
        try:
            sched.get_schedule(Name=name, GroupName=self.config.schedule_group)
            return True
        except sched.exceptions.ResourceNotFoundException:
            return False


def provision(
    app_name: str,
    rules: list[RuleSpec],
    *,
    region: str = "us-east-1",
    recurring: list[tuple[str, str, str]] | None = None,
    payload_expiry_days: int | None = None,
) -> ProvisionedApp:
    """Create the table, bus + rules, FIFO queue + DLQ, scheduler group and role for ``app_name``.

    ``recurring`` lists ``(name, scheduler expression, timezone)`` of the app's schedules; they
    are created in Scheduler (moto stores them; LocalCloud fires them from its clock).
    """
    ddb = boto3.client("dynamodb", region_name=region)
    table = f"{app_name}-state"
    ddb.create_table(**table_definition(table))
    ddb.update_time_to_live(TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})

    sqs = boto3.client("sqs", region_name=region)
    dlq_url = sqs.create_queue(
        QueueName=f"{app_name}-work-dlq.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"{app_name}-work.fifo",
        Attributes={
            "FifoQueue": "true",
            "ContentBasedDeduplication": "true",
            "VisibilityTimeout": "960",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
        },
    )["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    router_dlq_url = sqs.create_queue(QueueName=f"{app_name}-router-dlq")["QueueUrl"]
    router_dlq_arn = sqs.get_queue_attributes(QueueUrl=router_dlq_url, AttributeNames=["QueueArn"])
    router_queue_url = sqs.create_queue(
        QueueName=f"{app_name}-router",
        Attributes={
            "VisibilityTimeout": "180",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": router_dlq_arn["Attributes"]["QueueArn"],
                                         "maxReceiveCount": str(ROUTER_MAX_RECEIVES)}),
        },
    )["QueueUrl"]

    events = boto3.client("events", region_name=region)
    bus = f"{app_name}-bus"
    events.create_event_bus(Name=bus)
    for rule in rules:
        events.put_rule(Name=rule.name, EventBusName=bus, EventPattern=json.dumps(rule.pattern), State="ENABLED")

    iam = boto3.client("iam", region_name=region)
    role_arn = iam.create_role(
        RoleName=f"{app_name}-scheduler",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "scheduler.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    scheduler = boto3.client("scheduler", region_name=region)
    group = f"{app_name}-timers"
    scheduler.create_schedule_group(Name=group)
    for name, expression, tz in recurring or []:
        scheduler.create_schedule(
            Name=name,
            GroupName="default",
            ScheduleExpression=expression,
            ScheduleExpressionTimezone=tz,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": queue_arn,
                "RoleArn": role_arn,
                "SqsParameters": {"MessageGroupId": name},
                "Input": json.dumps({"execution_id": keys.schedule_id(name), "reason": Reason.SCHEDULE}),
            },
        )
    bucket = payload_bucket(app_name, region=region, expiry_days=payload_expiry_days)
    config = RuntimeConfig(
        app="(in-process)",
        table=table,
        bus=bus,
        queue_url=queue_url,
        queue_arn=queue_arn,
        schedule_group=group,
        scheduler_role_arn=role_arn,
        stack=app_name,
        payload_bucket=bucket,
    )
    return ProvisionedApp(config=config, region=region, dlq_url=dlq_url, rules=rules, router_dlq_url=router_dlq_url,
                          router_queue_url=router_queue_url)


def payload_bucket(app_name: str, *, region: str, expiry_days: int | None) -> str:
    """The payload bucket as the template declares it (``compiler/storage.py``): default encryption, public
    access blocked, and the lifecycle rule that expires payloads when the app has a retention."""
    s3: Any = boto3.client("s3", region_name=region)
    bucket = f"{app_name}-payloads"
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        },
    )
    rules: list[dict[str, Any]] = [
        {"ID": "abort-incomplete-uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    ]
    if expiry_days is not None:
        rules.append({"ID": "expire-payloads", "Status": "Enabled", "Filter": {"Prefix": "payloads/"},
                      "Expiration": {"Days": expiry_days}})
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    return bucket


def redrive_router_queue(sqs: Any, dlq_url: str, queue_url: str, *, max_messages: int = 10_000) -> int:
    """Move the router's dead-letter queue back onto the router queue; returns how many.

    A body that is a Lambda asynchronous-invocation on-failure record (what the router's dead-letter
    queue held before the router queue existed) goes back as its ``requestPayload``, the rule delivery
    it failed. A message is deleted only after it was sent, so a failed redrive loses nothing.
    """
    moved = 0
    while moved < max_messages:
        messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
            "Messages", []
        )
        if not messages:
            return moved
        for m in messages:
            sqs.send_message(QueueUrl=queue_url, MessageBody=_router_delivery(m["Body"]))
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    return moved


def _router_delivery(body: str) -> str:
    """The rule delivery a router dead letter stands for (its ``requestPayload`` when it is an on-failure record)."""
    try:
        record = json.loads(body)
    except ValueError:
        return body
    if isinstance(record, dict) and "requestContext" in record and "requestPayload" in record:
        return json.dumps(record["requestPayload"])
    return body


def redrive_queue(sqs: Any, dlq_url: str, queue_url: str, *, max_messages: int = 10_000) -> int:
    """Move messages from a FIFO dead-letter queue back to its source queue, keeping group ids."""
    moved = 0
    while moved < max_messages:
        resp = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60, AttributeNames=["MessageGroupId"]
        )
        messages = resp.get("Messages", [])
        if not messages:
            return moved
        for m in messages:
            body = json.loads(m["Body"])
            group = m.get("Attributes", {}).get("MessageGroupId") or str(body.get("execution_id", "redrive"))
            sqs.send_message(
                QueueUrl=queue_url,
                MessageBody=m["Body"],
                MessageGroupId=group,
                MessageDeduplicationId=f"redrive-{m['MessageId']}",
            )
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    return moved
