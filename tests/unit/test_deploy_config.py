# ruff: noqa: E501  (table-driven cases read best one per line)
"""Per-function deployment settings: validation errors and what the compiled template grants."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.compiler.intrinsics import to_json
from stepbridge.compiler.template import compile_app
from stepbridge.errors import CompileError, WorkflowDefinitionError

SM_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:acme/bank-AbC123"


def app_with(**app_kw: Any) -> App:
    app = App("acme", **app_kw)

    @app.workflow("wf")
    async def wf(ctx: Context) -> None: ...

    return app


def compile_error(app: App) -> str:
    with pytest.raises(CompileError) as info:
        compile_app(app)
    return str(info.value)


# ---- definition-time errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"runtime": "python3.9"}, "runtime 'python3.9' is not supported; use one of ['python3.11'"),
        ({"architecture": "x86"}, "architecture 'x86' is not supported; use one of ['arm64', 'x86_64']"),
        ({"tags": {"aws:owner": "x"}}, "tag key 'aws:owner' is invalid"),
        ({"environment": {"STEPBRIDGE_TABLE": "x"}}, "collides with one stepbridge sets itself"),
        ({"environment": {"AWS_REGION": "x"}}, "'AWS_REGION' is reserved by AWS Lambda"),
        ({"reserved_concurrency": 0}, "reserved_concurrency must be an int >= 1"),
    ],
)
def test_app_keywords_are_checked(kw: dict[str, Any], message: str) -> None:
    with pytest.raises(WorkflowDefinitionError, match=None) as info:
        App("acme", **kw)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"environment": {"POWERTOOLS_SERVICE_NAME": "x"}}, "step 'charge': environment variable 'POWERTOOLS_SERVICE_NAME' collides"),
        ({"environment": {"PORT": 80}}, "must be a string, got int"),
        ({"policies": [{"Effect": "Allow", "Action": "s3:GetObject"}]}, "give exactly one of Resource or NotResource"),
        ({"policies": [{"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"}]}, "Effect must be 'Allow' or 'Deny'"),
        ({"policies": [{"Effect": "Allow", "Action": "getobject", "Resource": "*"}]}, "is not of the form 'service:Action'"),
        ({"policies": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "invoices/*"}]}, "must be an ARN"),
        ({"policies": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Principal": "*"}]}, "unknown IAM statement key(s) ['Principal']"),
        ({"policies": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": "yes"}]}, "Condition must map operators"),
        ({"policies": {"S3WritePolicy": {"BucketName": "b"}}}, "policies= must be a list"),
        ({"policies": [{"S3WritePolicy": "b"}]}, "the parameters of S3WritePolicy must be a dict"),
        ({"secrets": {"KEY": "stripe key"}}, "is not a valid SSM parameter name"),
        ({"secrets": {"KEY": "arn:aws:s3:::bucket"}}, "is not a Secrets Manager secret ARN"),
        ({"secrets": {"KEY": "/aws/reserved"}}, "may not begin with 'aws' or 'ssm'"),
        ({"secrets": {"bad name": "/acme/x"}}, "secret name 'bad name' is invalid"),
        ({"secrets": {"KEY": "acme/stripe"}}, "has a hierarchy, so it must begin with '/'"),
        ({"policies": [{"Action": "s3:GetObject"}]}, "Effect must be 'Allow' or 'Deny'"),
        ({"layers": ["my-layer"]}, "is not a layer version ARN"),
        ({"layers": [f"arn:aws:lambda:us-east-1:123456789012:layer:l{i}:1" for i in range(5)]}, "Lambda allows 5 per function"),
        ({"concurrency": 2, "reserved_concurrency": 3}, "are the same setting; give one"),
    ],
)
def test_step_keywords_are_checked_and_name_the_step(kw: dict[str, Any], message: str) -> None:
    app = app_with()
    with pytest.raises(WorkflowDefinitionError) as info:
        app.step(name="charge", **kw)(lambda: None)
    assert message in str(info.value)
    assert "step 'charge'" in str(info.value)


# ---- compile-time errors (need SAM's policy-template catalogue) -------------------------------------


def test_unknown_policy_template_is_a_compile_error_naming_the_step() -> None:
    app = app_with()
    app.step(name="charge", policies=[{"DynamoDBCrudPolice": {"TableName": "orders"}}])(lambda: None)
    error = compile_error(app)
    assert "step 'charge': policies[0]: 'DynamoDBCrudPolice' is not a SAM policy template" in error
    assert "did you mean DynamoDBCrudPolicy" in error


def test_policy_template_parameters_are_checked() -> None:
    app = app_with()
    app.step(name="charge", policies=[{"DynamoDBCrudPolicy": {"Table": "orders"}}])(lambda: None)
    error = compile_error(app)
    assert "SAM policy template DynamoDBCrudPolicy takes the parameters ['TableName']" in error
    assert "missing ['TableName']" in error and "unknown ['Table']" in error


def test_app_policies_are_checked_for_the_orchestrator() -> None:
    app = app_with(policies=[{"NoSuchPolicy": {}}])
    assert "App 'acme' (the orchestrator): policies[0]: 'NoSuchPolicy' is not a SAM policy template" in compile_error(app)


# ---- what the template grants ----------------------------------------------------------------------


def granted(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return list(template["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"])


def user_sids(statements: list[dict[str, Any]]) -> set[str]:
    from stepbridge.compiler import iam

    framework = {s["Sid"] for s in iam.step_statements("DeclaredSteps")}  # the framework's own step grants
    return {s["Sid"] for s in statements} - framework


@pytest.fixture
def billing() -> dict[str, Any]:
    app = app_with(
        secrets={"AUDIT": "/acme/audit"},
        environment={"LOG_FORMAT": "json"},
        tags={"team": "payments", "cost-center": "42"},
        runtime="python3.13",
        architecture="x86_64",
        reserved_concurrency=20,
        layers=["arn:aws:lambda:us-east-1:123456789012:layer:extras:3"],
    )
    app.step(
        name="charge",
        secrets={"STRIPE_KEY": "/acme/stripe/api-key", "BANK": SM_ARN},
        policies=[
            {"S3WritePolicy": {"BucketName": "invoices"}},
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "arn:aws:s3:::invoices/*"},
        ],
        environment={"PAYMENTS_URL": "https://api.example.com"},
        reserved_concurrency=10,
        layers=[{"Ref": "ExtraLayer"}],
    )(lambda: None)
    app.step(name="notify", policies=[{"SESCrudPolicy": {"IdentityName": "acme.example"}}])(lambda: None)
    app.step(name="plain")(lambda: None)
    return to_json(compile_app(app).template)


def test_a_step_role_has_exactly_its_grants(billing: dict[str, Any]) -> None:
    charge = granted(billing, "StepChargeRole")
    assert user_sids(charge) == {
        "S3WritePolicy0", "User1", "ReadSecretStripeKey", "DecryptSecretStripeKey", "ReadSecretBank", "DecryptSecretBank",
    }
    by_sid = {s["Sid"]: s for s in charge}
    param = {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/acme/stripe/api-key"}
    assert by_sid["ReadSecretStripeKey"]["Action"] == ["ssm:GetParameter"]
    assert by_sid["ReadSecretStripeKey"]["Resource"] == [param]
    assert by_sid["DecryptSecretStripeKey"]["Action"] == ["kms:Decrypt"]
    assert by_sid["DecryptSecretStripeKey"]["Condition"] == {"StringEquals": {
        "kms:ViaService": {"Fn::Sub": "ssm.${AWS::Region}.amazonaws.com"},
        "kms:EncryptionContext:PARAMETER_ARN": param,
    }}
    assert by_sid["ReadSecretBank"] == {"Sid": "ReadSecretBank", "Effect": "Allow",
                                        "Action": ["secretsmanager:GetSecretValue"], "Resource": [SM_ARN]}
    assert by_sid["DecryptSecretBank"]["Resource"] == ["arn:aws:kms:eu-west-1:123456789012:key/*"]
    assert by_sid["DecryptSecretBank"]["Condition"]["StringEquals"] == {
        "kms:ViaService": "secretsmanager.eu-west-1.amazonaws.com"}
    assert by_sid["S3WritePolicy0"]["Action"] == ["s3:PutObject", "s3:PutObjectAcl", "s3:PutLifecycleConfiguration"]
    assert "invoices" in json.dumps(by_sid["S3WritePolicy0"]["Resource"])
    assert by_sid["User1"]["Resource"] == "arn:aws:s3:::invoices/*"


def test_another_steps_role_has_none_of_them(billing: dict[str, Any]) -> None:
    notify = granted(billing, "StepNotifyRole")
    assert user_sids(notify) == {"SESCrudPolicy0"}
    text = json.dumps(notify)
    assert "stripe" not in text and "secretsmanager" not in text and "invoices" not in text and "kms:" not in text
    shared = json.dumps(billing["Resources"]["DeclaredStepsRole"])
    assert "ssm:" not in shared and "kms:" not in shared and "ses:" not in shared
    assert billing["Resources"]["StepPlainFunction"]["Properties"]["Role"] == {"Fn::GetAtt": ["DeclaredStepsRole", "Arn"]}
    # the App's secrets are the orchestrator's alone
    assert "acme/audit" in json.dumps(granted(billing, "OrchestratorRole"))
    assert "acme/audit" not in json.dumps(billing["Resources"]["StepChargeRole"])
    assert "acme/stripe" not in json.dumps(granted(billing, "OrchestratorRole"))


def test_environment_concurrency_layers_runtime_and_tags(billing: dict[str, Any]) -> None:
    res = billing["Resources"]
    charge = res["StepChargeFunction"]["Properties"]
    assert charge["Environment"]["Variables"] == {
        "STEPBRIDGE_STEP": "charge",
        "PAYMENTS_URL": "https://api.example.com",
        "STEPBRIDGE_SECRETS": json.dumps({"BANK": SM_ARN, "STRIPE_KEY": "/acme/stripe/api-key"}, separators=(",", ":")),
    }
    assert charge["ReservedConcurrentExecutions"] == 10
    assert charge["Layers"] == [{"Ref": "ExtraLayer"}]
    orch = res["OrchestratorFunction"]["Properties"]
    assert orch["Environment"]["Variables"] == {"LOG_FORMAT": "json", "STEPBRIDGE_SECRETS": '{"AUDIT":"/acme/audit"}'}
    assert orch["ReservedConcurrentExecutions"] == 20
    assert orch["Layers"] == ["arn:aws:lambda:us-east-1:123456789012:layer:extras:3"]
    assert "Environment" not in res["RouterFunction"]["Properties"]
    glob = billing["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13" and glob["Architectures"] == ["x86_64"]
    assert res["StepbridgeLayer"]["Properties"]["CompatibleRuntimes"] == ["python3.13"]
    assert glob["Tags"] == {"cost-center": "42", "team": "payments"}
    for kind in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::Events::EventBus", "AWS::IAM::Role",
                 "AWS::Logs::LogGroup", "AWS::Scheduler::ScheduleGroup"):
        tagged = [r for r in res.values() if r["Type"] == kind]
        assert tagged, kind
        for r in tagged:
            assert {"Key": "team", "Value": "payments"} in r["Properties"]["Tags"], kind
    assert res["HttpApi"]["Properties"]["Tags"] == {"cost-center": "42", "team": "payments"}


def test_default_runtime_and_architecture() -> None:
    template = to_json(compile_app(app_with()).template)
    assert template["Globals"]["Function"]["Runtime"] == "python3.12"
    assert template["Globals"]["Function"]["Architectures"] == ["arm64"]


def test_a_role_policy_over_iams_size_limit_is_a_compile_error() -> None:
    app = app_with()
    buckets = [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::bucket-number-{i:04d}/*"}
               for i in range(300)]
    app.step(name="greedy", policies=buckets)(lambda: None)
    assert "step 'greedy': its role policy would be about" in compile_error(app)
    assert "over IAM's 10240" in compile_error(app)
