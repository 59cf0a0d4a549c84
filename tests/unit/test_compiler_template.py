"""What the generated SAM template contains, resource by resource."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepbridge import config
from stepbridge.compiler.intrinsics import GetAtt, Ref, Sub
from stepbridge.compiler.template import compile_file

APPS_DIR = Path(__file__).parents[1] / "golden" / "apps"


def template_of(name: str, tmp_path: Path) -> dict[str, Any]:
    return compile_file(str(APPS_DIR / f"{name}.py"), tmp_path / "template.yaml").template


@pytest.fixture
def orders(tmp_path: Path) -> dict[str, Any]:
    return template_of("golden_orders", tmp_path)


@pytest.fixture
def scheduled(tmp_path: Path) -> dict[str, Any]:
    return template_of("golden_scheduled", tmp_path)


def test_header_globals_and_environment(orders: dict[str, Any]) -> None:
    assert orders["AWSTemplateFormatVersion"] == "2010-09-09"
    assert orders["Transform"] == "AWS::Serverless-2016-10-31"
    fn = orders["Globals"]["Function"]
    assert fn["Runtime"] == "python3.12" and fn["Architectures"] == ["arm64"]
    assert fn["CodeUri"].endswith("golden/apps/")  # the app's folder, relative to the template
    assert fn["Layers"] == [Ref("StepbridgeLayer")]
    env = fn["Environment"]["Variables"]
    optional = {config.ENV_STEP, config.ENV_SECRETS, config.ENV_RETENTION}  # set only where they apply
    config_vars = {v for k, v in vars(config).items() if k.startswith("ENV_")} - optional
    assert config_vars <= set(env), "every stepbridge.config variable is set for every function"
    assert env[config.ENV_APP] == "golden_orders:app"
    assert env[config.ENV_STACK] == Ref("AWS::StackName")
    assert env[config.ENV_TABLE] == Ref("Table") and env[config.ENV_BUS] == Ref("EventBus")
    assert env[config.ENV_QUEUE_URL] == Ref("WorkQueue") and env[config.ENV_QUEUE_ARN] == GetAtt("WorkQueue", "Arn")
    assert env[config.ENV_SCHEDULE_GROUP] == Ref("TimerScheduleGroup")
    assert env[config.ENV_SCHEDULER_ROLE_ARN] == GetAtt("SchedulerRole", "Arn")
    for var in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_NAMESPACE"):
        assert env[var]


def test_step_functions(orders: dict[str, Any]) -> None:
    charge = orders["Resources"]["StepChargePaymentFunction"]["Properties"]
    assert charge["FunctionName"] == Sub("${AWS::StackName}-charge-payment")
    assert charge["Handler"] == "stepbridge.handlers.step.handler"
    assert (charge["Timeout"], charge["MemorySize"], charge["ReservedConcurrentExecutions"]) == (60, 512, 5)
    assert charge["EventInvokeConfig"] == {"MaximumRetryAttempts": 0}
    assert charge["Environment"]["Variables"] == {config.ENV_STEP: "charge-payment"}
    email = orders["Resources"]["StepSendEmailFunction"]["Properties"]
    assert (email["Timeout"], email["MemorySize"]) == (900, 256)
    assert "ReservedConcurrentExecutions" not in email


def test_core_functions(orders: dict[str, Any]) -> None:
    res = orders["Resources"]
    handlers = {k: r["Properties"]["Handler"] for k, r in res.items() if r["Type"] == "AWS::Serverless::Function"}
    assert handlers["OrchestratorFunction"] == "stepbridge.handlers.orchestrator.handler"
    assert handlers["RouterFunction"] == "stepbridge.handlers.router.handler"
    assert handlers["ApiFunction"] == "stepbridge.handlers.api.handler"
    assert handlers["SweeperFunction"] == "stepbridge.handlers.sweeper.handler"
    sweep = res["SweeperFunction"]["Properties"]["Events"]["Sweep"]
    assert sweep["Type"] == "ScheduleV2" and sweep["Properties"]["ScheduleExpression"] == "rate(5 minutes)"
    assert sweep["Properties"]["RoleArn"] == GetAtt("SweeperScheduleRole", "Arn")
    sqs = res["OrchestratorFunction"]["Properties"]["Events"]["WorkQueueEvent"]
    assert sqs["Type"] == "SQS" and sqs["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    queue = res["WorkQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * res["OrchestratorFunction"]["Properties"]["Timeout"]


def test_table_queue_bus(orders: dict[str, Any]) -> None:
    res = orders["Resources"]
    table = res["Table"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert [g["IndexName"] for g in table["GlobalSecondaryIndexes"]] == ["by-workflow", "by-status", "by-assignee"]
    queue = res["WorkQueue"]["Properties"]
    assert queue["FifoQueue"] and queue["ContentBasedDeduplication"] and queue["SqsManagedSseEnabled"]
    assert res["DeadLetterQueue"]["Properties"]["SqsManagedSseEnabled"] is True  # encryption at rest
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == GetAtt("DeadLetterQueue", "Arn")
    assert res["DeadLetterQueue"]["Properties"]["FifoQueue"] is True
    assert res["EventBus"]["Type"] == "AWS::Events::EventBus"
    assert res["TimerScheduleGroup"]["Type"] == "AWS::Scheduler::ScheduleGroup"
    assert set(orders["Outputs"]) >= {"ApiUrl", "EventBusName", "TableName", "WorkQueueUrl"}


def test_trigger_rules(orders: dict[str, Any]) -> None:
    res = orders["Resources"]
    rule = res["TriggerOnPaymentFailedPaymentDisputedHandlePaymentIssueRule"]["Properties"]
    assert rule["EventBusName"] == Ref("EventBus")
    assert rule["EventPattern"] == {
        "detail-type": ["Payment.failed", "Payment.disputed"],
        "detail": {"currency": ["EUR", "USD"], "amount": [{"numeric": [">", 100]}]},
    }
    (target,) = rule["Targets"]
    assert target["Arn"] == GetAtt("RouterQueue", "Arn")  # the router queue, which the router consumes
    template = target["InputTransformer"]["InputTemplate"]
    assert template == (
        '{"trigger": "on-Payment.failed-Payment.disputed-handle-payment-issue", "event": <aws.events.event>}'
    )
    json.loads(template.replace("<aws.events.event>", "{}"))  # valid JSON once EventBridge fills it in
    assert not [r for r in res.values() if r["Type"] == "AWS::Lambda::Permission"]  # nothing invokes the router
    catch_all = res["RouterCatchAllRule"]["Properties"]
    assert catch_all["EventBusName"] == Ref("EventBus")
    assert "InputTransformer" not in catch_all["Targets"][0]
    assert catch_all["Targets"][0]["Arn"] == GetAtt("RouterQueue", "Arn")


def test_the_router_consumes_its_queue_which_dead_letters_after_max_receives(orders: dict[str, Any]) -> None:
    """Issue 13: rules -> RouterQueue -> router (batch item failures) -> RouterDeadLetterQueue after
    ROUTER_MAX_RECEIVES receives, one visibility timeout (6 x the router's timeout) apart."""
    from stepbridge.config import ROUTER_BATCH_SIZE, ROUTER_MAX_RECEIVES

    res = orders["Resources"]
    queue = res["RouterQueue"]["Properties"]
    assert "FifoQueue" not in queue  # standard: a dead-letter queue of Lambda's and EventBridge's kind
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": GetAtt("RouterDeadLetterQueue", "Arn"),
                                      "maxReceiveCount": ROUTER_MAX_RECEIVES}
    router = res["RouterFunction"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * router["Timeout"]
    assert "EventInvokeConfig" not in router  # no asynchronous invocations any more
    (source,) = router["Events"].values()
    assert source == {"Type": "SQS", "Properties": {"Queue": GetAtt("RouterQueue", "Arn"),
                                                    "BatchSize": ROUTER_BATCH_SIZE,
                                                    "FunctionResponseTypes": ["ReportBatchItemFailures"]}}
    (statement,) = res["RouterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"]["ArnLike"]["aws:SourceArn"] == Sub(
        "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${EventBus}/*")  # the app bus's rules
    assert str(ROUTER_MAX_RECEIVES) in res["RouterDeadLetterQueueAlarm"]["Properties"]["AlarmDescription"]


def test_schedules(scheduled: dict[str, Any]) -> None:
    res = scheduled["Resources"]
    schedules = {k: r["Properties"] for k, r in res.items() if r["Type"] == "AWS::Scheduler::Schedule"}
    assert {k: (s["ScheduleExpression"], s["ScheduleExpressionTimezone"]) for k, s in schedules.items()} == {
        "ScheduleBusinessHours": ("cron(0/15 9-17 ? * 2-6 *)", "America/New_York"),
        "ScheduleDailyDailyReport": ("cron(0 9 * * ? *)", "Europe/Paris"),
        "ScheduleHourlyPoll": ("cron(15 * * * ? *)", "UTC"),
        "ScheduleMondayCleanup": ("cron(30 8 ? * 2 *)", "UTC"),
        "ScheduleMonthStart": ("cron(0 9 1 * ? *)", "UTC"),
        "ScheduleWeeklyCleanup": ("cron(0 2 ? * 1 *)", "UTC"),
    }
    cleanup = schedules["ScheduleWeeklyCleanup"]
    assert cleanup["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = cleanup["Target"]
    assert target["Arn"] == GetAtt("WorkQueue", "Arn") and target["RoleArn"] == GetAtt("SchedulerRole", "Arn")
    assert target["SqsParameters"] == {"MessageGroupId": "weekly-cleanup"}
    assert json.loads(target["Input"]) == {
        "execution_id": "$schedule:weekly-cleanup",
        "reason": "schedule",
        "dedup": "<aws.scheduler.scheduled-time>",
        "data": {"schedule": "weekly-cleanup", "scheduled_time": "<aws.scheduler.scheduled-time>"},
    }


def test_http_api_routes_and_auth(scheduled: dict[str, Any]) -> None:
    res = scheduled["Resources"]
    assert res["HttpApi"]["Properties"]["Auth"] == {"EnableIamAuthorizer": True, "DefaultAuthorizer": "AWS_IAM"}
    events = res["ApiFunction"]["Properties"]["Events"]
    routes = {
        (e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"].get("Auth") for e in events.values()
    }
    assert routes == {
        ("POST", "/workflows/{name}/executions"): None,
        ("GET", "/executions/{id}"): None,
        ("POST", "/events"): None,
        ("POST", "/executions/{id}/cancel"): None,
        ("GET", "/tasks"): None,
        ("GET", "/tasks/{id}"): None,
        ("POST", "/tasks/{id}/claim"): None,
        ("POST", "/tasks/{id}/complete"): None,
        ("POST", "/tasks/{id}/release"): None,
        ("POST", "/tasks/{id}/reassign"): None,
        ("POST", "/webhooks/partner"): {"Authorizer": "NONE"},
        ("POST", "/webhooks/stripe"): {"Authorizer": "NONE"},
    }
    assert all(e["Type"] == "HttpApi" and e["Properties"]["ApiId"] == Ref("HttpApi") for e in events.values())


def test_layer_and_code_paths_are_relative_to_the_template(tmp_path: Path) -> None:
    app_dir = tmp_path / "functions"
    app_dir.mkdir()
    (app_dir / "app.py").write_text((APPS_DIR / "golden_minimal.py").read_text())
    compiled = compile_file(str(app_dir / "app.py"), tmp_path / "template.yaml")
    assert compiled.template["Globals"]["Function"]["CodeUri"] == "functions/"
    assert compiled.model.options.app_ref == "app:app"
    layer = compiled.template["Resources"]["StepbridgeLayer"]
    assert layer["Properties"]["ContentUri"] == ".stepbridge-build/layer/"
    assert layer["Metadata"] == {"BuildMethod": "python3.12", "BuildArchitecture": "arm64"}
    assert "# Generated by `stepbridge compile` from functions/app.py (app:app)" in compiled.text


def test_http_api_uses_iam_auth_by_default(orders: dict[str, Any]) -> None:
    assert orders["Resources"]["HttpApi"]["Properties"]["Auth"] == {
        "EnableIamAuthorizer": True,
        "DefaultAuthorizer": "AWS_IAM",
    }
    assert list(orders["Parameters"]) == ["AlarmTopicArn"]  # only the alarms' optional SNS topic


def test_jwt_authorizer_replaces_iam_with_issuer_and_audience_parameters(tmp_path: Path) -> None:
    from stepbridge.compiler import validate
    from stepbridge.compiler.intrinsics import to_json

    jwt = template_of("golden_jwt", tmp_path)
    auth = jwt["Resources"]["HttpApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "JwtAuthorizer" and "EnableIamAuthorizer" not in auth
    authorizer = auth["Authorizers"]["JwtAuthorizer"]
    assert authorizer["JwtConfiguration"] == {"issuer": Ref("JwtIssuer"), "audience": Ref("JwtAudience")}
    assert authorizer["IdentitySource"] == "$request.header.Authorization"
    assert authorizer["AuthorizationScopes"] == ["orders/write"]
    params = jwt["Parameters"]
    assert params["JwtIssuer"]["Default"] == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Example"
    assert params["JwtAudience"] == {
        "Type": "CommaDelimitedList",
        "Description": "Accepted audiences (client ids) of those JWTs, comma-separated",
        "Default": "web-client-id,mobile-client-id",
    }
    assert "a JWT" in jwt["Outputs"]["ApiUrl"]["Description"]
    # After the SAM transform every built-in route needs the JWT (and its scope); the webhook stays public.
    body = validate.sam_transform(to_json(jwt))["Resources"]["HttpApi"]["Properties"]["Body"]
    scheme = body["components"]["securitySchemes"]["JwtAuthorizer"]["x-amazon-apigateway-authorizer"]
    assert scheme["type"] == "jwt" and scheme["jwtConfiguration"]["issuer"] == {"Ref": "JwtIssuer"}
    security = {(path, method): op["security"] for path, ops in body["paths"].items() for method, op in ops.items()}
    assert security.pop(("/webhooks/shop", "post")) == [{"NONE": []}]
    assert set(security) == {
        ("/workflows/{name}/executions", "post"),
        ("/executions/{id}", "get"),
        ("/events", "post"),
        ("/executions/{id}/cancel", "post"),
        ("/tasks", "get"),
        ("/tasks/{id}", "get"),
        ("/tasks/{id}/claim", "post"),
        ("/tasks/{id}/complete", "post"),
        ("/tasks/{id}/release", "post"),
        ("/tasks/{id}/reassign", "post"),
    }
    assert all(s == [{"JwtAuthorizer": ["orders/write"]}] for s in security.values())


def test_jwt_auth_is_validated_when_declared() -> None:
    from stepbridge import App, JwtAuth
    from stepbridge.errors import WorkflowDefinitionError

    with pytest.raises(WorkflowDefinitionError, match="https://"):
        JwtAuth(issuer="http://insecure.example", audience=["a"])
    with pytest.raises(WorkflowDefinitionError, match="audience"):
        JwtAuth(issuer="https://issuer.example", audience=[])
    with pytest.raises(WorkflowDefinitionError, match="audience"):
        JwtAuth(issuer="https://issuer.example", audience=["a,b"])
    with pytest.raises(WorkflowDefinitionError, match="api_auth"):
        App("x", api_auth="jwt")  # type: ignore[arg-type]
    assert JwtAuth(issuer="https://issuer.example", audience="one").audience == ("one",)
