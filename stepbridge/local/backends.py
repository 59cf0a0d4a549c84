"""The two backends LocalCloud runs on: the app's resources, store, AWS effects and blob store,
either in memory or in moto (with AWS's own request checks that moto lacks, local/awslimits.py).

Built once per ``LocalCloud.start``; ``LocalCloud`` only delivers between what is built here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from stepbridge.api.app import App
from stepbridge.api.cron import to_scheduler_expression
from stepbridge.infra.aws import AwsEffects
from stepbridge.infra.blobs import MemoryBlobs, S3Blobs
from stepbridge.infra.dynamodb import DynamoStore
from stepbridge.infra.memory import InMemoryStore
from stepbridge.infra.provision import RuleSpec, provision
from stepbridge.local import awslimits
from stepbridge.local.iamenforce import IamEnforcer
from stepbridge.local.memory import MemoryAws, MemoryResources
from stepbridge.runtime.retention import payload_expiry_days

if TYPE_CHECKING:
    from stepbridge.local.servicequeues import ServiceQueues

#: The process environment LocalCloud sets while it runs: moto's fake credentials, one region, no Powertools
#: metrics flush or X-Ray (offline).
LOCAL_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_DISABLED": "true",  # metrics are kept in LocalCloud.metrics instead
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon offline
}


@dataclass
class Backend:
    """What a backend provides; ``mock`` (moto's) and ``iam`` must be stopped/disabled by the owner."""

    resources: MemoryResources | ServiceQueues
    store: InMemoryStore | DynamoStore
    aws_effects: MemoryAws | AwsEffects
    blobs: MemoryBlobs | S3Blobs
    mock: Any = None
    iam: IamEnforcer | None = None
    #: The DynamoDB table's name (moto), for code that reads it from the environment as in a deployed function.
    table: str | None = None


def memory_backend(app: App, rules: list[RuleSpec], clock: Callable[[], datetime]) -> Backend:
    """Everything in dicts: fast, deterministic, no AWS request checks beyond ours."""
    resources = MemoryResources(rules, clock)
    return Backend(
        resources=resources,
        store=InMemoryStore(clock=clock, retention=app.retention_seconds),
        aws_effects=MemoryAws(resources, app.name),
        blobs=MemoryBlobs(f"{app.name}-payloads"),
    )


def moto_backend(
    app: App, rules: list[RuleSpec], clock: Callable[[], datetime], *, region: str, enforce_iam: bool
) -> Backend:
    """moto started, the app's resources provisioned in it, clients checked like AWS; stops moto on failure."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    iam = None
    try:
        iam = IamEnforcer.bootstrap(app, region) if enforce_iam else None
        recurring = [(s.name, to_scheduler_expression(s.cron), s.timezone) for s in app.schedules]
        from stepbridge.local.servicequeues import ServiceQueues

        # The event source mappings' receives and deletes go to moto's SQS backend (local/servicequeues.py).
        provisioned = provision(app.name, rules, region=region, recurring=recurring,
                                payload_expiry_days=payload_expiry_days(app))
        resources = ServiceQueues(provisioned)
        # Clients with AWS's own request checks that moto lacks (local/awslimits.py). No Lambda client:
        # LocalCloud delivers invokes in-process and checks them in effect_invoke. Unsigned unless IAM is
        # enforced: moto checks no signature then (its account is the default one either way), and SigV4
        # signing was ~12% of each in-process call's CPU time (a GetItem: 2.25 ms signed, 1.98 ms unsigned,
        # medians of 15 x 20 under load ~7; issue 17's sleep-then-wake makes 10 such calls).
        config = None if enforce_iam else Config(signature_version=UNSIGNED)
        clients = {name: awslimits.install(boto3.client(name, region_name=region, config=config))
                   for name in ("dynamodb", "sqs", "scheduler", "events")}
        return Backend(
            resources=resources,
            store=DynamoStore(provisioned.config.table, client=clients["dynamodb"], clock=clock,
                              retention=app.retention_seconds),
            aws_effects=AwsEffects(provisioned.config, sqs=clients["sqs"], scheduler=clients["scheduler"],
                                   events=clients["events"], clock=clock),
            blobs=S3Blobs(provisioned.config.payload_bucket, client=boto3.client("s3", region_name=region)),
            mock=mock,
            iam=iam,
            table=provisioned.config.table,
        )
    except BaseException:
        if iam is not None:
            iam.disable()
        mock.stop()
        raise
