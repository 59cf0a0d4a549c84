"""Event plumbing: trigger rules, the router's catch-all rule and recurring schedules.

Messages follow docs/ARCHITECTURE.md: trigger rules wrap the event as
``{"trigger": name, "event": <aws.events.event>}``; the catch-all rule delivers the raw event;
schedules send a ``WakeMessage`` body with ``reason: "schedule"`` to the work queue.
"""

from __future__ import annotations

from stepbridge.compiler import naming
from stepbridge.compiler.intrinsics import GetAtt, Ref
from stepbridge.compiler.model import AppModel, SchedulePlan, TriggerPlan
from stepbridge.compiler.storage import Resource

_DESCRIPTION_MAX = 512


def _permission(rule_id: str) -> dict[str, object]:
    """Let exactly this rule invoke the router."""
    return {
        "Type": "AWS::Lambda::Permission",
        "Properties": {
            "Action": "lambda:InvokeFunction",
            "FunctionName": Ref(f"{naming.ROUTER}Function"),
            "Principal": "events.amazonaws.com",
            "SourceArn": GetAtt(rule_id, "Arn"),
        },
    }


def trigger_rule(model: AppModel, plan: TriggerPlan) -> list[Resource]:
    """``app.on(types, workflow, filter=...)``: match detail-type (and detail), wrap for the router."""
    trig = plan.trigger
    description = f"stepbridge trigger '{trig.name}': {', '.join(trig.event_types)} -> workflow '{trig.workflow}'"
    rule_id = f"{plan.base_id}Rule"
    rule = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Description": description[:_DESCRIPTION_MAX],
            "EventBusName": Ref(naming.BUS),
            "EventPattern": plan.pattern,
            "State": "ENABLED",
            "Targets": [
                {
                    "Id": "router",
                    "Arn": GetAtt(f"{naming.ROUTER}Function", "Arn"),
                    "InputTransformer": {"InputTemplate": plan.input_template},
                }
            ],
        },
    }
    return [(rule_id, rule), (f"{plan.base_id}Permission", _permission(rule_id))]


def catch_all_rule(model: AppModel) -> list[Resource]:
    """Every event on the app bus from this account -> router (waiters, state machines, event log)."""
    rule = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Description": "stepbridge router: every event on the app bus (wait_for, state machines, event log)",
            "EventBusName": Ref(naming.BUS),
            "EventPattern": {"account": [Ref("AWS::AccountId")]},
            "State": "ENABLED",
            "Targets": [{"Id": "router", "Arn": GetAtt(f"{naming.ROUTER}Function", "Arn")}],
        },
    }
    return [(naming.CATCH_ALL_RULE, rule), (naming.CATCH_ALL_PERMISSION, _permission(naming.CATCH_ALL_RULE))]


def schedule(model: AppModel, plan: SchedulePlan) -> Resource:
    """``app.every`` / ``app.schedule``: EventBridge Scheduler -> work queue, message group = schedule name."""
    sched = plan.schedule
    description = (
        f"stepbridge schedule '{sched.name}': workflow '{sched.workflow}' at cron '{sched.cron}' ({sched.timezone})"
    )
    return plan.logical_id, {
        "Type": "AWS::Scheduler::Schedule",
        "Properties": {
            "Description": description[:_DESCRIPTION_MAX],
            "ScheduleExpression": plan.expression,
            "ScheduleExpressionTimezone": sched.timezone,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": {
                "Arn": GetAtt(naming.QUEUE, "Arn"),
                "RoleArn": GetAtt(naming.SCHEDULER_ROLE, "Arn"),
                "Input": plan.input,
                "SqsParameters": {"MessageGroupId": sched.name},
                "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 10},
            },
        },
    }
