"""Runtime configuration read from the Lambda environment, and the resource-naming rules
shared by the compiler (which sets the variables) and the runtime (which reads them)."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

ENV_APP = "STEPBRIDGE_APP"  # "module:attribute" of the App, importable from the function's code
ENV_TABLE = "STEPBRIDGE_TABLE"  # DynamoDB table name
ENV_BUS = "STEPBRIDGE_BUS"  # EventBridge bus name
ENV_QUEUE_URL = "STEPBRIDGE_QUEUE_URL"  # SQS FIFO work queue URL
ENV_QUEUE_ARN = "STEPBRIDGE_QUEUE_ARN"  # its ARN (timer schedules target it)
ENV_SCHEDULE_GROUP = "STEPBRIDGE_SCHEDULE_GROUP"  # Scheduler group for run-time one-time timers
ENV_SCHEDULER_ROLE_ARN = "STEPBRIDGE_SCHEDULER_ROLE_ARN"  # role Scheduler assumes to send to the queue
ENV_STACK = "STEPBRIDGE_STACK"  # CloudFormation stack name (prefix of step function names)
ENV_STEP = "STEPBRIDGE_STEP"  # in a step function: the declared step it runs
ENV_PAYLOAD_BUCKET = "STEPBRIDGE_PAYLOAD_BUCKET"  # S3 bucket of large values (claim checks, runtime/payloads.py)
ENV_RETENTION = "STEPBRIDGE_RETENTION"  # seconds finished executions are kept (App(retention=)); unset = for ever
ENV_SECRETS = "STEPBRIDGE_SECRETS"  # JSON {name: SSM parameter name | Secrets Manager ARN} the function declared

#: The router queue (EventBridge rules -> SQS -> router, docs/RELIABILITY.md "The router's queue"):
#: receives of one event before SQS moves it to RouterDeadLetterQueue (its ``maxReceiveCount``; SQS
#: allows 1-1,000, "Amazon SQS dead-letter queues"). At a failure probability q per receive an event
#: is dead-lettered with probability q**ROUTER_MAX_RECEIVES. Shared by the compiler and LocalCloud.
ROUTER_MAX_RECEIVES = 40
#: Records per router invocation (the SQS event source mapping's ``BatchSize``; 1-10,000, default 10).
ROUTER_BATCH_SIZE = 1

#: Lambda function names: 1-64 characters of letters, digits, '-' and '_'.
_FN_NAME_MAX = 64


def _sanitize(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "-", text).strip("-")


def step_function_name(stack: str, step: str) -> str:
    """The Lambda function name of a declared step: ``{stack}-{step}``, shortened with a hash when over 64 chars."""
    name = f"{_sanitize(stack)}-{_sanitize(step)}"
    if len(name) <= _FN_NAME_MAX:
        return name
    digest = hashlib.sha256(f"{stack}|{step}".encode()).hexdigest()[:8]
    return f"{name[: _FN_NAME_MAX - 9]}-{digest}"


@dataclass(frozen=True)
class RuntimeConfig:
    """Names of the deployed resources, as the compiler wrote them into each function's environment."""

    app: str
    table: str
    bus: str
    queue_url: str
    queue_arn: str
    schedule_group: str
    scheduler_role_arn: str
    stack: str
    payload_bucket: str = ""

    @classmethod
    def from_env(cls) -> RuntimeConfig:
        """Read the configuration; a missing variable is a clear error naming it."""

        def need(var: str) -> str:
            value = os.environ.get(var)
            if not value:
                raise RuntimeError(
                    f"environment variable {var} is not set; this function must be deployed from the "
                    "template that `stepbridge compile` generates"
                )
            return value

        return cls(
            app=need(ENV_APP),
            table=need(ENV_TABLE),
            bus=need(ENV_BUS),
            queue_url=need(ENV_QUEUE_URL),
            queue_arn=os.environ.get(ENV_QUEUE_ARN, ""),
            schedule_group=os.environ.get(ENV_SCHEDULE_GROUP, "default"),
            scheduler_role_arn=os.environ.get(ENV_SCHEDULER_ROLE_ARN, ""),
            stack=os.environ.get(ENV_STACK, ""),
            payload_bucket=os.environ.get(ENV_PAYLOAD_BUCKET, ""),
        )
