"""Least-privilege IAM: one role per function, each allowed only what that function does.

Every statement names its resources. The only ``Resource: "*"`` is X-Ray's
``PutTraceSegments``/``PutTelemetryRecords``, which have no resource-level permissions
(Service Authorization Reference, AWS X-Ray). Logs go to the function's own log group, the
table and its ``by-workflow``/``by-status``/``by-assignee`` indexes are the only DynamoDB resources,
the orchestrator may invoke exactly the declared step functions, and only the Scheduler role may be
passed - to Scheduler.
"""

from __future__ import annotations

from typing import Any

from stepbridge.compiler import naming
from stepbridge.compiler.intrinsics import GetAtt, Ref, Sub, arn
from stepbridge.compiler.model import AppModel
from stepbridge.runtime import keys

Statement = dict[str, Any]

#: Actions that accept no resource ARN: the only statements allowed ``Resource: "*"``.
NO_RESOURCE_LEVEL_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords"})

#: Each role holds exactly the actions its function's code calls (tests/functional/test_iam_equals_use.py
#: records them under LocalCloud and compares): the DynamoDB store uses PutItem (conditional writes),
#: GetItem, Query and DeleteItem - no batch, update or condition-check calls.
#: The orchestrator: journals, headers, waiters, caches, machines, breakers; deletes waiters, locks, windows.
ORCHESTRATOR_TABLE_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
#: The router: logs events, reads waiters (Query), starts executions, keeps debounce windows.
ROUTER_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query")
#: The HTTP API (also the public webhook route): creates, reads and marks (cancel) execution headers;
#: reads and writes task items (the inbox, runtime/tasks.py).
API_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
#: A declared step (user code): reads its execution's header and journals its outcome - only items whose
#: partition key is an execution's (``EXEC#``) - and Powertools idempotency records (``IDEMPOTENCY#``).
STEP_TABLE_ACTIONS = ("dynamodb:GetItem", "dynamodb:PutItem")
#: Powertools idempotency also updates its record on success and deletes it when the function raises.
IDEMPOTENCY_ACTIONS = ("dynamodb:DeleteItem", "dynamodb:UpdateItem")
#: Partition-key prefixes a step may touch (``dynamodb:LeadingKeys``).
STEP_LEADING_KEYS = [f"{keys.EXEC_PREFIX}*", f"{keys.IDEMPOTENCY_PREFIX}*"]
TIMER_ACTIONS = ("scheduler:CreateSchedule", "scheduler:DeleteSchedule")
#: What the SQS event source mapping needs from the orchestrator's role ("Execution role permissions"
#: in the Lambda developer guide, "Using Lambda with Amazon SQS"); with ReportBatchItemFailures failed
#: messages simply become visible again, so no ChangeMessageVisibility.
QUEUE_CONSUMER_ACTIONS = ("sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage")


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


def _table(actions: tuple[str, ...]) -> list[Statement]:
    # No function queries the ``by-workflow`` index: only the client's ``list`` does, with the caller's
    # credentials.
    return [allow("StateTable", actions, [GetAtt(naming.TABLE, "Arn")])]


def _step_table() -> list[Statement]:
    """A step's table access, limited by partition key: its code is the user's, and may not write
    waiters, caches, state machines, breakers or any other framework item (``dynamodb:LeadingKeys``).

    IAM has no condition on the sort key, so a step can still write any execution's items (see the
    security section of docs/ARCHITECTURE.md for what that leaves open)."""
    leading = {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": STEP_LEADING_KEYS}}
    return [allow("OwnExecutionItems", STEP_TABLE_ACTIONS, [GetAtt(naming.TABLE, "Arn")], leading)]


def _status_index() -> Statement:
    return allow("StateTableByStatusIndex", ("dynamodb:Query",), [Sub(f"${{{naming.TABLE}.Arn}}/index/by-status")])


def _assignee_index() -> Statement:
    """The task inbox: ``GET /tasks`` is one Query of the ``by-assignee`` index (runtime/tasks.py)."""
    return allow("StateTableByAssigneeIndex", ("dynamodb:Query",), [Sub(f"${{{naming.TABLE}.Arn}}/index/by-assignee")])


def _idempotency_records() -> Statement:
    """Powertools idempotency (``stepbridge.idempotency``) updates its record and deletes it when the
    function raises; a step may update and delete items only in the ``IDEMPOTENCY#`` partitions."""
    return allow(
        "UpdateOwnIdempotencyRecords",
        IDEMPOTENCY_ACTIONS,
        [GetAtt(naming.TABLE, "Arn")],
        {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{keys.IDEMPOTENCY_PREFIX}*"]}},
    )


def _send() -> Statement:
    return allow("SendToWorkQueue", ("sqs:SendMessage",), [GetAtt(naming.QUEUE, "Arn")])


def _timer_group() -> Any:
    return arn("scheduler", f"schedule/${{{naming.TIMER_GROUP}}}/*")


def _timers() -> list[Statement]:
    return [
        allow("TimersInScheduleGroup", TIMER_ACTIONS, [_timer_group()]),
        allow(
            "PassSchedulerRoleToScheduler",
            ("iam:PassRole",),
            [GetAtt(naming.SCHEDULER_ROLE, "Arn")],
            {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
        ),
    ]


def _payloads(actions: tuple[str, ...]) -> Statement:
    """Large values (claim checks) in the app's payload bucket, under ``payloads/`` only."""
    return allow("PayloadObjects", actions, [Sub(f"${{{naming.PAYLOAD_BUCKET}.Arn}}/payloads/*")])


#: Large values: the orchestrator and the steps write and read them (inputs, arguments, results), the router
#: reads an event's referenced detail to match it, the API writes a large input it is asked to start with.
PAYLOAD_READ_WRITE = ("s3:GetObject", "s3:PutObject")


def _publish() -> Statement:
    return allow("PublishToAppBus", ("events:PutEvents",), [GetAtt(naming.BUS, "Arn")])


# ---- per function -----------------------------------------------------------------------------------


def orchestrator_statements(model: AppModel) -> list[Statement]:
    """Replays executions: table + index, consumes and sends to the queue, invokes steps, timers, events."""
    out = [_logs(naming.ORCHESTRATOR), _xray(), *_table(ORCHESTRATOR_TABLE_ACTIONS)]
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
    out.append(_payloads(PAYLOAD_READ_WRITE))
    return out


def router_statements(model: AppModel) -> list[Statement]:
    """Matches events to waiters/triggers/machines: table, work queue (wake/start), debounce timers, and
    consuming the router queue (the event source mapping polls with the function's role; SQS itself
    moves a failed event to the router's dead-letter queue). It publishes nothing: state machine
    events are emitted by the orchestrator."""
    consume = allow("ConsumeRouterQueue", QUEUE_CONSUMER_ACTIONS, [GetAtt(naming.ROUTER_QUEUE, "Arn")])
    return [
        _logs(naming.ROUTER),
        _xray(),
        *_table(ROUTER_TABLE_ACTIONS),
        _send(),
        consume,
        *_timers(),
        _payloads(("s3:GetObject",)),
    ]


def api_statements(model: AppModel) -> list[Statement]:
    """HTTP API: execution headers (start/describe/cancel), queue (start/cancel), the start timer of a
    deferred execution (re-armed by a repeated start, deleted by a cancel), events, webhook secrets,
    and the task inbox (task items with GetItem/PutItem, the ``by-assignee`` index)."""
    out = [_logs(naming.API), _xray(), *_table(API_TABLE_ACTIONS), _assignee_index(), _send(), *_timers(), _publish(),
           _payloads(("s3:PutObject",))]
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
    """A declared step: records its outcome (and idempotency records) in the table, wakes the orchestrator,
    and deletes its attempt's deadline timer once it reported (``StepWorker._disarm_deadline``)."""
    disarm = allow("DeleteDeadlineTimers", ("scheduler:DeleteSchedule",), [_timer_group()])
    return [_logs(base), _xray(), *_step_table(), _idempotency_records(), _send(), disarm,
            _payloads(PAYLOAD_READ_WRITE)]


#: Partition of the sweeper's own item, its paging cursor (``stepbridge.runtime.sweeper.CURSOR_PK``).
SWEEPER_PARTITION = keys.SWEEPER_PK


def sweeper_statements() -> list[Statement]:
    """The sweeper: lists unfinished executions (``by-status`` index), reads their journals, wakes them.

    Query only, plus reading and writing its own paging cursor (the ``SWEEPER`` partition, by
    ``dynamodb:LeadingKeys``) - no other reads or writes, no timers, no events.
    """
    return [
        _logs(naming.SWEEPER),
        _xray(),
        *_table(("dynamodb:Query",)),
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
