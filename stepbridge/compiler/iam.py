"""Least-privilege IAM: one role per function, each allowed only what that function does.

Every statement names its resources. The only ``Resource: "*"`` is X-Ray's
``PutTraceSegments``/``PutTelemetryRecords``, which have no resource-level permissions
(Service Authorization Reference, AWS X-Ray). Logs go to the function's own log group, the
table and its ``by-workflow``/``by-status`` indexes are the only DynamoDB resources, the orchestrator may invoke
exactly the declared step functions, and only the Scheduler role may be passed - to Scheduler.
"""

from __future__ import annotations

from typing import Any

from stepbridge.compiler import naming
from stepbridge.compiler.intrinsics import GetAtt, Ref, Sub, arn
from stepbridge.compiler.model import AppModel

Statement = dict[str, Any]

#: Actions that accept no resource ARN: the only statements allowed ``Resource: "*"``.
NO_RESOURCE_LEVEL_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})

#: DynamoDB actions of the orchestrator, router and API (conditional writes, queries, batch reads).
TABLE_ACTIONS = (
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)
#: A declared step only records its outcome (conditional put / transaction) and reads its execution.
STEP_TABLE_ACTIONS = ("dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
TIMER_ACTIONS = (
    "scheduler:CreateSchedule",
    "scheduler:DeleteSchedule",
    "scheduler:GetSchedule",
    "scheduler:UpdateSchedule",
)
QUEUE_CONSUMER_ACTIONS = (
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)


def allow(sid: str, actions: tuple[str, ...] | list[str], resources: list[Any], condition: Any = None) -> Statement:
    """One ``Allow`` statement with sorted actions."""
    stmt: Statement = {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources}
    if condition is not None:
        stmt["Condition"] = condition
    return stmt


def document(statements: list[Statement]) -> dict[str, Any]:
    """A policy document."""
    return {"Version": "2012-10-17", "Statement": statements}


def trust(service: str, *, source_account: bool = False) -> dict[str, Any]:
    """A trust policy letting ``service`` assume the role (optionally only for this account)."""
    stmt: Statement = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if source_account:
        stmt["Condition"] = {"StringEquals": {"aws:SourceAccount": Ref("AWS::AccountId")}}
    return document([stmt])


# ---- building blocks ------------------------------------------------------------------------------


def _logs(base: str) -> Statement:
    # GetAtt LogGroup.Arn already ends in ":*" (all streams of that group).
    return allow("OwnLogGroup", ("logs:CreateLogStream", "logs:PutLogEvents"), [GetAtt(f"{base}LogGroup", "Arn")])


def _xray() -> Statement:
    return allow("XRayNoResourceLevelPermissions", tuple(sorted(NO_RESOURCE_LEVEL_ACTIONS)), ["*"])


def _table(actions: tuple[str, ...], *, index: bool) -> list[Statement]:
    out = [allow("StateTable", actions, [GetAtt(naming.TABLE, "Arn")])]
    if index:
        out.append(
            allow("StateTableByWorkflowIndex", ("dynamodb:Query",), [Sub(f"${{{naming.TABLE}.Arn}}/index/by-workflow")])
        )
    return out


def _status_index() -> Statement:
    return allow("StateTableByStatusIndex", ("dynamodb:Query",), [Sub(f"${{{naming.TABLE}.Arn}}/index/by-status")])


def _idempotency_records() -> Statement:
    """Powertools idempotency (``stepbridge.idempotency``) deletes its record when the function raises;
    a step may delete items only in the ``IDEMPOTENCY#`` partitions of the table."""
    return allow(
        "DeleteOwnIdempotencyRecords",
        ("dynamodb:DeleteItem",),
        [GetAtt(naming.TABLE, "Arn")],
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["IDEMPOTENCY#*"]}},
    )


def _send() -> Statement:
    return allow("SendToWorkQueue", ("sqs:SendMessage",), [GetAtt(naming.QUEUE, "Arn")])


def _timers() -> list[Statement]:
    group = arn("scheduler", f"schedule/${{{naming.TIMER_GROUP}}}/*")
    return [
        allow("TimersInScheduleGroup", TIMER_ACTIONS, [group]),
        allow(
            "PassSchedulerRoleToScheduler",
            ("iam:PassRole",),
            [GetAtt(naming.SCHEDULER_ROLE, "Arn")],
            {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        ),
    ]


def _publish() -> Statement:
    return allow("PublishToAppBus", ("events:PutEvents",), [GetAtt(naming.BUS, "Arn")])


# ---- per function -----------------------------------------------------------------------------------


def orchestrator_statements(model: AppModel) -> list[Statement]:
    """Replays executions: table + index, consumes and sends to the queue, invokes steps, timers, events."""
    out = [_logs(naming.ORCHESTRATOR), _xray(), *_table(TABLE_ACTIONS, index=True)]
    out.append(allow("ConsumeWorkQueue", (*QUEUE_CONSUMER_ACTIONS, "sqs:SendMessage"), [GetAtt(naming.QUEUE, "Arn")]))
    if model.steps:
        out.append(
            allow(
                "InvokeDeclaredSteps",
                ("lambda:InvokeFunction",),
                [GetAtt(f"{plan.base_id}Function", "Arn") for plan in model.steps],
            )
        )
    out += _timers()
    out.append(_publish())
    return out


def router_statements(model: AppModel) -> list[Statement]:
    """Matches events to waiters/triggers/machines: table, queue (wake/start), debounce timers, events,
    and its own failure queue (Lambda's on-failure destination sends with the function's role)."""
    failed = allow("RouterFailedEvents", ("sqs:SendMessage",), [GetAtt(naming.ROUTER_DLQ, "Arn")])
    return [
        _logs(naming.ROUTER),
        _xray(),
        *_table(TABLE_ACTIONS, index=False),
        _send(),
        failed,
        *_timers(),
        _publish(),
    ]


def api_statements(model: AppModel) -> list[Statement]:
    """HTTP API: table + index (describe/list), queue (start/cancel), deferred starts, events, webhook secrets."""
    out = [_logs(naming.API), _xray(), *_table(TABLE_ACTIONS, index=True), _send(), *_timers(), _publish()]
    if model.secret_params:
        out.append(
            allow(
                "ReadWebhookSecrets",
                ("ssm:GetParameter",),
                [arn("ssm", "parameter/" + name.lstrip("/")) for name in model.secret_params],
            )
        )
    return out


def step_statements(base: str) -> list[Statement]:
    """A declared step: records its outcome (and idempotency records) in the table, wakes the orchestrator."""
    return [_logs(base), _xray(), *_table(STEP_TABLE_ACTIONS, index=False), _idempotency_records(), _send()]


#: Partition of the sweeper's own item, its paging cursor (``stepbridge.runtime.sweeper.CURSOR_PK``).
SWEEPER_PARTITION = "SWEEPER"


def sweeper_statements() -> list[Statement]:
    """The sweeper: lists unfinished executions (``by-status`` index), reads their journals, wakes them.

    Query only, plus reading and writing its own paging cursor (the ``SWEEPER`` partition, by
    ``dynamodb:LeadingKeys``) - no other reads or writes, no timers, no events.
    """
    return [
        _logs(naming.SWEEPER),
        _xray(),
        *_table(("dynamodb:Query",), index=False),
        allow(
            "SweeperCursor",
            ("dynamodb:GetItem", "dynamodb:PutItem"),
            [GetAtt(naming.TABLE, "Arn")],
            {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [SWEEPER_PARTITION]}},
        ),
        _status_index(),
        _send(),
    ]


def sweeper_schedule_statements() -> list[Statement]:
    """EventBridge Scheduler may only invoke the sweeper function."""
    return [allow("InvokeSweeper", ("lambda:InvokeFunction",), [GetAtt(f"{naming.SWEEPER}Function", "Arn")])]


def scheduler_role_statements() -> list[Statement]:
    """EventBridge Scheduler may only deliver to the work queue."""
    return [_send()]


def role(description: str, policy_name: str, statements: list[Statement], *, service: str) -> dict[str, Any]:
    """An ``AWS::IAM::Role`` with one inline policy."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "Description": description,
            "AssumeRolePolicyDocument": trust(service, source_account=service == "scheduler.amazonaws.com"),
            "Policies": [{"PolicyName": policy_name, "PolicyDocument": document(statements)}],
        },
    }
