"""The ports of a deployed stack (its table, queue and bus), found from its CloudFormation outputs.

``Client.for_stack`` builds on this; this module never imports the client (no import cycle).
"""

from __future__ import annotations

from typing import Any

import boto3

from stepbridge.config import RuntimeConfig
from stepbridge.infra.aws import AwsEffects
from stepbridge.infra.blobs import S3Blobs
from stepbridge.infra.dynamodb import DynamoStore
from stepbridge.runtime import payloads


def stack_outputs(stack_name: str, *, region: str | None = None) -> dict[str, str]:
    """``{OutputKey: OutputValue}`` of a deployed stack; a clear error if it does not exist."""
    cfn: Any = boto3.client("cloudformation", region_name=region)
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except cfn.exceptions.ClientError as exc:
        raise RuntimeError(f"cannot read stack '{stack_name}': {exc}") from None
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


def config_from_outputs(stack_name: str, outputs: dict[str, str], *, region: str | None = None) -> RuntimeConfig:
    """The runtime configuration the stack's functions have, rebuilt from its outputs."""
    missing = [k for k in ("TableName", "EventBusName", "WorkQueueUrl") if k not in outputs]
    if missing:
        raise RuntimeError(
            f"stack '{stack_name}' lacks outputs {missing}; was it deployed from a `stepbridge compile` template?"
        )
    queue_arn = outputs.get("WorkQueueArn", "")
    if not queue_arn:
        sqs: Any = boto3.client("sqs", region_name=region)
        attrs = sqs.get_queue_attributes(QueueUrl=outputs["WorkQueueUrl"], AttributeNames=["QueueArn"])
        queue_arn = str(attrs["Attributes"]["QueueArn"])
    return RuntimeConfig(
        app="(client)",
        table=outputs["TableName"],
        bus=outputs["EventBusName"],
        queue_url=outputs["WorkQueueUrl"],
        queue_arn=queue_arn,
        schedule_group=outputs.get("TimerScheduleGroup", "default"),
        scheduler_role_arn=outputs.get("SchedulerRoleArn", ""),
        stack=stack_name,
        payload_bucket=outputs.get("PayloadBucketName", ""),
    )


def stack_ports(stack_name: str, *, region: str | None = None) -> tuple[DynamoStore, AwsEffects]:
    """The store and effects of the deployed stack's table, queue and bus."""
    config = config_from_outputs(stack_name, stack_outputs(stack_name, region=region), region=region)
    ddb: Any = boto3.client("dynamodb", region_name=region)
    if config.payload_bucket:  # the client reads large results back and stores large inputs (claim checks)
        payloads.install(S3Blobs(config.payload_bucket, client=boto3.client("s3", region_name=region)))
    return DynamoStore(config.table, client=ddb), AwsEffects(config)
