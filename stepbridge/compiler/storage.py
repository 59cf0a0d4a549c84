"""App-wide resources: the layer, the state table, the bus, the queues, the timer group, the Scheduler role.

One small generator per resource kind; each returns ``(logical id, resource)``.
"""

from __future__ import annotations

from typing import Any

from stepbridge.compiler import iam, naming
from stepbridge.compiler.intrinsics import GetAtt, Ref, Sub, arn
from stepbridge.compiler.model import DLQ_SUFFIX, QUEUE_SUFFIX, AppModel
from stepbridge.config import ROUTER_MAX_RECEIVES
from stepbridge.runtime.retention import payload_expiry_days

Resource = tuple[str, dict[str, Any]]

#: 14 days, SQS's maximum retention: time to inspect and redrive dead letters.
_DLQ_RETENTION = 1_209_600
#: 4 days (the SQS default) for the work queue.
_QUEUE_RETENTION = 345_600


def layer(model: AppModel) -> Resource:
    """The stepbridge runtime (without the compiler, local cloud or moto) and its dependencies."""
    opts = model.options
    return naming.LAYER, {
        "Type": "AWS::Serverless::LayerVersion",
        "Metadata": {"BuildMethod": opts.runtime, "BuildArchitecture": opts.architecture},
        "Properties": {
            "LayerName": Sub("${AWS::StackName}-stepbridge"),
            "Description": "stepbridge runtime and its dependencies (folder written by `stepbridge package`)",
            "ContentUri": opts.layer_uri,
            "CompatibleRuntimes": [opts.runtime],
            "CompatibleArchitectures": [opts.architecture],
            "RetentionPolicy": "Delete",
        },
    }


def table(model: AppModel) -> Resource:
    """The single table (docs/ARCHITECTURE.md): pk/sk, TTL ``ttl``, GSIs ``by-workflow``, ``by-status`` and
    ``by-assignee`` (the task inbox); retained."""
    return naming.TABLE, {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": "S"}
                for name in ("pk", "sk", "gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk")
            ],
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by-workflow",
                    "KeySchema": [
                        {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    # Sparse: only RUNNING/SCHEDULED execution headers carry gsi2pk (the sweeper's Query).
                    "IndexName": "by-status",
                    "KeySchema": [
                        {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
                {
                    # Sparse: only task assignments an assignee may act on carry gsi3pk (the inbox's Query,
                    # ``ASSIGNEE#{assignee}`` / ``{status}#{created_at}#{task id}``; runtime/tasks.py).
                    "IndexName": "by-assignee",
                    "KeySchema": [
                        {"AttributeName": "gsi3pk", "KeyType": "HASH"},
                        {"AttributeName": "gsi3sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                },
            ],
            "TimeToLiveSpecification": {"AttributeName": "ttl", "Enabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        },
    }


def event_bus(model: AppModel) -> Resource:
    """The app's own bus: ``ctx.send`` publishes here, triggers and the router listen here."""
    return naming.BUS, {
        "Type": "AWS::Events::EventBus",
        "Properties": {"Name": Sub("${AWS::StackName}-bus")},
    }


def dead_letter_queue(model: AppModel) -> Resource:
    """Where a wake-up lands after ``max_receive_count`` failed orchestrator attempts."""
    return naming.DLQ, {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": Sub("${AWS::StackName}" + DLQ_SUFFIX),
            "FifoQueue": True,
            "MessageRetentionPeriod": _DLQ_RETENTION,
            "SqsManagedSseEnabled": True,
        },
    }


def router_dead_letter_queue(model: AppModel) -> Resource:
    """Where a rule delivery lands when the router failed it ``ROUTER_MAX_RECEIVES`` times (the router
    queue's redrive target; a standard queue's dead-letter queue must be standard too), named by
    CloudFormation; ``stepbridge executions redrive`` moves it back to the router queue."""
    return naming.ROUTER_DLQ, {
        "Type": "AWS::SQS::Queue",
        "Properties": {"MessageRetentionPeriod": _DLQ_RETENTION, "SqsManagedSseEnabled": True},
    }


def router_queue(model: AppModel) -> Resource:
    """The standard queue the bus's rules deliver to and the router consumes (docs/RELIABILITY.md,
    "The router's queue"): a failed event is retried ``ROUTER_MAX_RECEIVES`` times, one visibility
    timeout apart, before it moves to the router's dead-letter queue - not Lambda's two async retries."""
    opts = model.options
    return naming.ROUTER_QUEUE, {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            # AWS: at least six times the consuming function's timeout ("Using Lambda with Amazon SQS").
            "VisibilityTimeout": 6 * opts.router_timeout,
            "MessageRetentionPeriod": _QUEUE_RETENTION,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {
                "deadLetterTargetArn": GetAtt(naming.ROUTER_DLQ, "Arn"),
                "maxReceiveCount": ROUTER_MAX_RECEIVES,
            },
        },
    }


def router_queue_policy(model: AppModel) -> Resource:
    """EventBridge may send to the router queue only from rules on the app's own bus."""
    return naming.ROUTER_QUEUE_POLICY, {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [Ref(naming.ROUTER_QUEUE)],
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "AppBusRulesSendEvents",
                        "Effect": "Allow",
                        "Principal": {"Service": "events.amazonaws.com"},
                        "Action": "sqs:SendMessage",
                        "Resource": GetAtt(naming.ROUTER_QUEUE, "Arn"),
                        "Condition": {
                            "ArnLike": {
                                # rules on a custom bus: arn:...:rule/<bus name>/<rule name>
                                "aws:SourceArn": arn("events", f"rule/${{{naming.BUS}}}/*")
                            }
                        },
                    }
                ],
            },
        },
    }


def work_queue(model: AppModel) -> Resource:
    """The FIFO work queue: one message group per execution, so one execution never runs twice at once."""
    opts = model.options
    return naming.QUEUE, {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": Sub("${AWS::StackName}" + QUEUE_SUFFIX),
            "FifoQueue": True,
            "ContentBasedDeduplication": True,
            "DeduplicationScope": "messageGroup",
            "FifoThroughputLimit": "perMessageGroupId",
            # AWS: at least six times the consuming function's timeout.
            "VisibilityTimeout": 6 * opts.orchestrator_timeout,
            "MessageRetentionPeriod": _QUEUE_RETENTION,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {
                "deadLetterTargetArn": GetAtt(naming.DLQ, "Arn"),
                "maxReceiveCount": opts.max_receive_count,
            },
        },
    }


def timer_schedule_group(model: AppModel) -> Resource:
    """The group run-time timers (sleep, wait timeouts, retry backoff, debounce) are created in."""
    return naming.TIMER_GROUP, {"Type": "AWS::Scheduler::ScheduleGroup", "Properties": {}}


def scheduler_role(model: AppModel) -> Resource:
    """The role EventBridge Scheduler assumes for schedules and timers: send to the work queue, nothing else."""
    return naming.SCHEDULER_ROLE, iam.role(
        "EventBridge Scheduler delivers schedules and timers to the stepbridge work queue",
        "send-to-work-queue",
        iam.scheduler_role_statements(),
        service="scheduler.amazonaws.com",
    )


def payload_bucket(model: AppModel) -> Resource:
    """Large values (claim checks, ``runtime/payloads.py``): encrypted, never public, expiring with retention.

    SSE-S3 (AES-256) by default; all four public access blocks; incomplete multipart uploads are aborted
    after a day; with ``App(retention=)`` objects expire ``retention + PAYLOAD_GRACE_DAYS`` days after they
    were written (``runtime/retention.py``; lifecycle expiration counts whole days from creation). Retained
    on stack deletion, like the table whose journals reference it.
    """
    rules: list[dict[str, Any]] = [
        {"Id": "abort-incomplete-uploads", "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}
    ]
    days = payload_expiry_days(model.app)
    if days is not None:
        rules.append({"Id": "expire-payloads", "Status": "Enabled", "Prefix": "payloads/", "ExpirationInDays": days})
    return naming.PAYLOAD_BUCKET, {
        "Type": "AWS::S3::Bucket",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "LifecycleConfiguration": {"Rules": rules},
        },
    }


def payload_bucket_policy(model: AppModel) -> Resource:
    """Refuse any request to the payload bucket that is not over TLS (aws:SecureTransport)."""
    bucket_arn = GetAtt(naming.PAYLOAD_BUCKET, "Arn")
    return naming.PAYLOAD_BUCKET_POLICY, {
        "Type": "AWS::S3::BucketPolicy",
        "Properties": {
            "Bucket": Ref(naming.PAYLOAD_BUCKET),
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DenyInsecureTransport",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [bucket_arn, Sub(f"${{{naming.PAYLOAD_BUCKET}.Arn}}/*")],
                        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                    }
                ],
            },
        },
    }
