"""Operational guard rails in the template: dead-letter queue alarms and webhook route throttling.

* Both dead-letter queues (the work queue's, the router's) get a CloudWatch alarm on
  ``ApproximateNumberOfMessagesVisible > 0``: a message there means an execution or an event that
  stepbridge gave up on, which an operator must look at (``stepbridge executions redrive``; the
  sweeper leaves poison executions to this alarm, see runtime/sweeper.py). The template parameter
  ``AlarmTopicArn`` (default empty: no notification) names an SNS topic the alarms notify.
* Webhook routes are public (no IAM, no JWT), so API Gateway throttles each one
  (``RouteSettings`` of the HTTP API's stage): ``app.webhook(..., rate_limit=, burst_limit=)``.
  An unsigned flood is then refused with 429 by API Gateway before it reaches - and is billed
  as - the Api function, and cannot starve the IAM routes of the account's Lambda concurrency.
"""

from __future__ import annotations

from typing import Any

from stepbridge.compiler import naming
from stepbridge.compiler.intrinsics import GetAtt, Ref
from stepbridge.compiler.model import AppModel
from stepbridge.config import ROUTER_MAX_RECEIVES

Resource = tuple[str, dict[str, Any]]

ALARM_TOPIC_PARAM = "AlarmTopicArn"
HAS_ALARM_TOPIC = "HasAlarmTopic"
#: SQS sends its CloudWatch metrics every minute ("Available CloudWatch metrics for Amazon SQS").
_PERIOD = 60


def parameters() -> dict[str, Any]:
    """The ``AlarmTopicArn`` parameter (empty = the alarms notify nobody)."""
    return {
        ALARM_TOPIC_PARAM: {
            "Type": "String",
            "Default": "",
            "Description": "SNS topic ARN the dead-letter queue alarms notify (empty: no notification)",
        }
    }


def conditions() -> dict[str, Any]:
    """``HasAlarmTopic``: whether ``AlarmTopicArn`` was given."""
    return {HAS_ALARM_TOPIC: {"Fn::Not": [{"Fn::Equals": [Ref(ALARM_TOPIC_PARAM), ""]}]}}


def _dlq_alarm(queue: str, what: str) -> Resource:
    actions = {"Fn::If": [HAS_ALARM_TOPIC, [Ref(ALARM_TOPIC_PARAM)], Ref("AWS::NoValue")]}
    return f"{queue}Alarm", {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmDescription": f"stepbridge: {what} in {queue}; inspect them and run `stepbridge executions redrive`",
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": GetAtt(queue, "QueueName")}],
            "Statistic": "Maximum",
            "Period": _PERIOD,
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": actions,
            "OKActions": actions,
        },
    }


def alarms(model: AppModel) -> list[Resource]:
    """One alarm per dead-letter queue."""
    return [
        _dlq_alarm(naming.DLQ, "wake-ups the orchestrator failed repeatedly (executions that stopped progressing)"),
        _dlq_alarm(naming.ROUTER_DLQ, f"events the router failed on all {ROUTER_MAX_RECEIVES} receives"),
    ]


def route_settings(model: AppModel) -> dict[str, Any]:
    """``RouteSettings`` of the HTTP API: a throttle per webhook route."""
    return {
        f"POST {plan.hook.path}": {
            "ThrottlingRateLimit": plan.hook.rate_limit,
            "ThrottlingBurstLimit": plan.hook.burst_limit,
        }
        for plan in model.webhooks
    }
