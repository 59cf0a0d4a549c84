"""Template guard rails (issue 13, "Template"): alarms on both dead-letter queues, throttled public
webhook routes; the transformed template stays cfn-lint clean."""

from __future__ import annotations

from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.compiler import validate
from stepbridge.compiler.intrinsics import to_json
from stepbridge.compiler.template import compile_app
from stepbridge.errors import WorkflowDefinitionError


def app_with_hooks() -> App:
    app = App("guard")

    @app.workflow("w")
    async def w(ctx: Context, data: Any) -> Any:
        return data

    app.webhook("/hooks/default", provider="stripe", secret_param="/guard/s", workflow=w)
    app.webhook("/hooks/busy", provider="hmac", secret_param="/guard/s", workflow=w, rate_limit=500, burst_limit=1000)
    return app


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return to_json(compile_app(app_with_hooks()).template)


@pytest.mark.parametrize("queue", ["DeadLetterQueue", "RouterDeadLetterQueue"])
def test_each_dead_letter_queue_has_an_alarm_on_any_visible_message(template, queue):
    alarm = template["Resources"][f"{queue}Alarm"]

    assert alarm["Type"] == "AWS::CloudWatch::Alarm"
    props = alarm["Properties"]
    assert (props["Namespace"], props["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert props["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue, "QueueName"]}}]
    assert (props["ComparisonOperator"], props["Threshold"]) == ("GreaterThanThreshold", 0)
    assert props["AlarmActions"] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""


def test_public_webhook_routes_are_throttled_with_defaults_or_their_own_limits(template):
    api = template["Resources"]["HttpApi"]["Properties"]

    assert api["RouteSettings"] == {
        "POST /hooks/default": {"ThrottlingRateLimit": 50.0, "ThrottlingBurstLimit": 100},
        "POST /hooks/busy": {"ThrottlingRateLimit": 500.0, "ThrottlingBurstLimit": 1000},
    }


def test_the_transformed_template_is_lint_clean(template):
    transformed = validate.sam_transform(template)

    assert transformed["Resources"]["DeadLetterQueueAlarm"]["Type"] == "AWS::CloudWatch::Alarm"
    stage = next(r for r in transformed["Resources"].values() if r["Type"] == "AWS::ApiGatewayV2::Stage")
    assert stage["Properties"]["RouteSettings"]["POST /hooks/busy"]["ThrottlingBurstLimit"] == 1000
    assert validate.lint(transformed) == []


def test_functions_that_wake_themselves_through_the_work_queue_allow_recursive_loops() -> None:
    """Lambda stops a function invoked ~16 times in one Lambda -> SQS -> Lambda chain unless RecursiveLoop is Allow:
    the orchestrator (woken through its own queue) and each declared step (which wakes it) are such a loop."""
    app = app_with_hooks()

    @app.step(timeout=30)
    def remote(x: int) -> int:
        return x

    transformed = validate.sam_transform(to_json(compile_app(app).template))
    resources = transformed["Resources"]
    functions = {k: r["Properties"] for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    allowed = sorted(k for k, p in functions.items() if p.get("RecursiveLoop") == "Allow")
    assert allowed == ["OrchestratorFunction", "StepRemoteFunction"]
    assert all(p.get("RecursiveLoop") is None for k, p in functions.items() if k not in allowed)  # router, sweeper, api
    assert validate.lint(transformed) == []


@pytest.mark.parametrize("limits", [{"rate_limit": 0}, {"rate_limit": 20_000}, {"burst_limit": 0},
                                    {"burst_limit": 6_000}, {"burst_limit": 1.5}, {"rate_limit": True}])
def test_bad_throttle_limits_are_definition_errors(limits):
    with pytest.raises(WorkflowDefinitionError, match="limit"):
        App("x").webhook("/h", provider="hmac", secret="s3cret", workflow="w", **limits)
