"""The compiled templates pass cfn-lint after the SAM transform and deploy into moto CloudFormation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stepbridge import config
from stepbridge.compiler import validate
from stepbridge.compiler.intrinsics import to_json
from stepbridge.compiler.template import Compiled, compile_file

APPS_DIR = Path(__file__).parents[1] / "golden" / "apps"
APPS = ["golden_config", "golden_jwt", "golden_minimal", "golden_orders", "golden_scheduled"]


def compiled(name: str, tmp: Path) -> Compiled:
    return compile_file(str(APPS_DIR / f"{name}.py"), tmp / "template.yaml")


@pytest.fixture(scope="module")
def transformed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("validation")
    return {name: validate.sam_transform(to_json(compiled(name, tmp).template)) for name in APPS}


@pytest.mark.parametrize("name", APPS)
def test_cfn_lint_finds_nothing_after_sam_transform(transformed: dict[str, dict[str, Any]], name: str) -> None:
    issues = validate.lint(transformed[name])
    errors = [str(i) for i in issues if i.level == "error"]
    assert errors == [], "\n".join(errors)
    # Warnings are not failures for `stepbridge validate`, but the generated template has none.
    assert [str(i) for i in issues] == []


def test_sam_transform_expands_what_the_template_asks_for(transformed: dict[str, dict[str, Any]]) -> None:
    resources = transformed["golden_orders"]["Resources"]
    types = {r["Type"] for r in resources.values()}
    assert "AWS::Serverless::Function" not in types
    invoke_configs = [r for r in resources.values() if r["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert len(invoke_configs) == 3
    retries = {c["Properties"]["FunctionName"]["Ref"]: c["Properties"]["MaximumRetryAttempts"] for c in invoke_configs}
    # declared steps and the sweeper: no async retries; the router is not invoked asynchronously any
    # more (it consumes the router queue, which retries up to its maxReceiveCount)
    assert retries == {"StepChargePaymentFunction": 0, "StepSendEmailFunction": 0, "SweeperFunction": 0}
    mapping = resources["OrchestratorFunctionWorkQueueEvent"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    router_mapping = resources["RouterFunctionRouterQueueEvent"]["Properties"]
    assert router_mapping["EventSourceArn"] == {"Fn::GetAtt": ["RouterQueue", "Arn"]}
    assert router_mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    # SAM adds no role of its own: every function uses the compiler's least-privilege role.
    roles = sorted(k for k, r in resources.items() if r["Type"] == "AWS::IAM::Role")
    assert roles == [
        "ApiRole",
        "DeclaredStepsRole",
        "OrchestratorRole",
        "RouterRole",
        "SchedulerRole",
        "SweeperRole",
        "SweeperScheduleRole",
    ]


@pytest.mark.parametrize("name", APPS)
def test_stack_deploys_into_moto_with_the_designed_wiring(transformed: dict[str, dict[str, Any]], name: str) -> None:
    stack = validate.deploy_to_moto(transformed[name], stack_name=f"sb-{name.replace('_', '-')}")
    assert stack.status == "CREATE_COMPLETE"
    assert validate.check_wiring(stack) == []
    # the resources the design needs exist
    assert stack.table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert stack.queues["WorkQueue"]["FifoQueue"] == "true"
    assert stack.queues["DeadLetterQueue"]["FifoQueue"] == "true"
    assert "RouterCatchAllRule" in stack.rules
    assert {"OrchestratorFunction", "RouterFunction", "ApiFunction"} <= set(stack.functions)
    # only Scheduler, API Gateway v2, EventInvokeConfig, layers, permissions, alarms and queue policies are
    # left to real AWS
    skipped_types = {transformed[name]["Resources"][lid]["Type"] for lid in stack.skipped}
    assert skipped_types <= {
        "AWS::Scheduler::Schedule",
        "AWS::Scheduler::ScheduleGroup",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Stage",
        "AWS::Lambda::EventInvokeConfig",
        "AWS::Lambda::LayerVersion",
        "AWS::Lambda::Permission",
        "AWS::CloudWatch::Alarm",  # moto's CloudFormation does not model alarms
        "AWS::SQS::QueuePolicy",  # nor queue policies (the router queue's: the app bus's rules may send)
        "AWS::S3::BucketPolicy",  # nor bucket policies (the payload bucket's TLS-only policy)
    }


def test_moto_stack_functions_match_runtime_names(transformed: dict[str, dict[str, Any]]) -> None:
    stack = validate.deploy_to_moto(transformed["golden_orders"], stack_name="acme-prod")
    steps = {
        cfg["Environment"]["Variables"][config.ENV_STEP]: cfg["FunctionName"]
        for cfg in stack.functions.values()
        if config.ENV_STEP in cfg["Environment"]["Variables"]
    }
    assert steps == {
        "charge-payment": config.step_function_name("acme-prod", "charge-payment"),
        "send-email": config.step_function_name("acme-prod", "send-email"),
    }
    rules = stack.rules
    trigger = rules["TriggerOnPaymentFailedPaymentDisputedHandlePaymentIssueRule"]
    assert trigger["pattern"]["detail-type"] == ["Payment.failed", "Payment.disputed"]
    assert trigger["pattern"]["detail"]["currency"] == ["EUR", "USD"]
    assert rules["RouterCatchAllRule"]["pattern"] == {"account": ["123456789012"]}
    env = stack.functions["OrchestratorFunction"]["Environment"]["Variables"]
    assert env[config.ENV_APP] == "golden_orders:app"
    assert env[config.ENV_QUEUE_ARN] == stack.queues["WorkQueue"]["QueueArn"]


def test_validate_template_reports_lint_errors(tmp_path: Path) -> None:
    template = to_json(compiled("golden_minimal", tmp_path).template)
    template["Resources"]["WorkQueue"]["Properties"]["VisibilityTimeout"] = "forever"
    report = validate.validate_template(template, run_moto=False)
    assert any("VisibilityTimeout" in e or "forever" in e for e in report.errors)
