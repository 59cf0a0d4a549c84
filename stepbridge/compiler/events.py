"""Event plumbing: trigger rules, the router's catch-all rule and recurring schedules.

Messages follow docs/ARCHITECTURE.md: every rule targets the router queue (an SQS standard queue the
router consumes, ``storage.router_queue``; EventBridge retries a failed SendMessage for 24 hours,
185 times, its default retry policy); trigger rules wrap the event as
``{"trigger": name, "event": <aws.events.event>}``; the catch-all rule delivers the raw event;
schedules send a ``WakeMessage`` body with ``reason: "schedule"`` to the work queue.
"""

from __future__ import annotations

from typing import Any

from stepbridge.compiler import naming
from stepbridge.compiler.intrinsics import GetAtt, Ref
from stepbridge.compiler.model import AppModel, SchedulePlan, TriggerPlan
from stepbridge.compiler.storage import Resource

_DESCRIPTION_MAX = 512


def _router_queue_target(**extra: Any) -> dict[str, Any]:
    """The rule's target: the router queue (its policy lets the app bus's rules send), not the function."""
    return {"Id": "router-queue", "Arn": GetAtt(naming.ROUTER_QUEUE, "Arn"), **extra}


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
            "Targets": [_router_queue_target(InputTransformer={"InputTemplate": plan.input_template})],
        },
    }
    return [(rule_id, rule)]


def catch_all_rule(model: AppModel) -> list[Resource]:
    """Every event on the app bus from this account -> router (waiters, state machines, event log)."""
    rule = {
        "Type": "AWS::Events::Rule",
        "Properties": {
            "Description": "stepbridge router: every event on the app bus (wait_for, state machines, event log)",
            "EventBusName": Ref(naming.BUS),
            "EventPattern": {"account": [Ref("AWS::AccountId")]},
            "State": "ENABLED",
            "Targets": [_router_queue_target()],
        },
    }
    return [(naming.CATCH_ALL_RULE, rule)]


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
