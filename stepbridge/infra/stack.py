"""Build a :class:`~stepbridge.client.Client` for a deployed stack from its CloudFormation outputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3

from stepbridge.config import RuntimeConfig

if TYPE_CHECKING:
    from stepbridge.api.app import App
    from stepbridge.client import Client


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


def client_for_stack(stack_name: str, *, region: str | None = None, app: App | None = None) -> Client:
    """A client that talks to the deployed stack's table, queue and bus."""
    from stepbridge.client import Client
    from stepbridge.infra.aws import AwsEffects
    from stepbridge.infra.dynamodb import DynamoStore

    config = config_from_outputs(stack_name, stack_outputs(stack_name, region=region), region=region)
    ddb: Any = boto3.client("dynamodb", region_name=region)
    if config.payload_bucket:  # the client reads large results back and stores large inputs (claim checks)
        from stepbridge.infra.blobs import S3Blobs
        from stepbridge.runtime import payloads

        payloads.install(S3Blobs(config.payload_bucket, client=boto3.client("s3", region_name=region)))
    return Client(DynamoStore(config.table, client=ddb), AwsEffects(config), app=app)
