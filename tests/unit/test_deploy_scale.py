"""An app with 150 declared steps compiles to one stack ``sam deploy`` accepts.

CloudFormation quotas (AWS CloudFormation User Guide, "Understand CloudFormation quotas"):
500 resources per stack; a template body of at most 51,200 bytes when passed directly and 1 MB when
uploaded to S3 (``sam deploy`` always uploads it). IAM: a role's inline policies total at most 10,240
characters. Before declared steps shared a log group and a role, each step cost 4 resources after the
SAM transform (log group, role, function, EventInvokeConfig): 150 steps made 633.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.compiler import validate
from stepbridge.compiler.intrinsics import to_json
from stepbridge.compiler.model import estimated_resources
from stepbridge.compiler.template import compile_app

MAX_RESOURCES = 500
MAX_TEMPLATE_BYTES_S3 = 1_048_576
ROLE_POLICY_CHARS = 10_240
STEPS = 150
WITH_GRANTS = 12  # steps with secrets/policies of their own: one role each


def big_app() -> App:
    app = App("scale", tags={"team": "billing"})

    @app.workflow("run-all")
    async def run_all(ctx: Context) -> None:
        for name in sorted(app.steps):
            await ctx.step(name, app.steps[name].fn)

    for i in range(STEPS):
        extra: dict[str, Any] = {}
        if i < WITH_GRANTS:
            extra = {
                "secrets": {"API_KEY": f"/scale/step-{i}/api-key"},
                "policies": [{"S3WritePolicy": {"BucketName": f"scale-out-{i}"}}],
            }
        app.step(name=f"step-{i:03d}", **extra)(lambda: None)
    return app


@pytest.fixture(scope="module")
def compiled() -> tuple[App, dict[str, Any], str, dict[str, Any]]:
    app = big_app()
    out = compile_app(app)
    long_form = to_json(out.template)
    return app, long_form, out.text, validate.sam_transform(long_form)


def test_150_steps_fit_one_stack(compiled: tuple[App, dict[str, Any], str, dict[str, Any]]) -> None:
    app, _long_form, text, transformed = compiled
    count = len(transformed["Resources"])
    assert count < MAX_RESOURCES, count
    # the compiler's own estimate (which rejects apps over the quota) is exact
    assert estimated_resources(app, 0, 0, 0) == count
    # 44 fixed (incl. the two dead-letter queue alarms, the router queue's 4, the payload bucket and its policy,
    # the six task routes) + shared log group + shared role + 2 per plain step + 3 per step with grants
    assert count == 44 + 2 + 2 * (STEPS - WITH_GRANTS) + 3 * WITH_GRANTS
    assert len(text.encode()) < MAX_TEMPLATE_BYTES_S3
    assert len(json.dumps(transformed).encode()) < MAX_TEMPLATE_BYTES_S3


def test_150_steps_pass_cfn_lint(compiled: tuple[App, dict[str, Any], str, dict[str, Any]]) -> None:
    issues = validate.lint(compiled[3])
    errors = [str(i) for i in issues if i.level == "error"]
    assert errors == [], "\n".join(errors[:20])


def test_every_role_policy_fits_iam(compiled: tuple[App, dict[str, Any], str, dict[str, Any]]) -> None:
    resources = compiled[3]["Resources"]
    roles = {k: r for k, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    for logical_id, role in roles.items():
        docs = [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
        # intrinsics unresolved; an ARN resolves to about as many characters as its Fn::Sub/GetAtt form
        chars = sum(len(json.dumps(d, separators=(",", ":"))) for d in docs)
        assert chars < ROLE_POLICY_CHARS, (logical_id, chars)
    # the orchestrator names its step functions by prefix + tags instead of 150 ARNs
    orchestrator = resources["OrchestratorRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    (invoke,) = [s for s in orchestrator if s["Sid"] == "InvokeDeclaredSteps"]
    assert invoke["Condition"]["StringEquals"]["aws:ResourceTag/stepbridge:function"] == "step"
    assert invoke["Resource"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:${AWS::StackName}-*"}
    ]
    for logical_id, fn in resources.items():
        if fn["Type"] == "AWS::Lambda::Function" and fn["Properties"]["Handler"].endswith("step.handler"):
            tags = {t["Key"]: t["Value"] for t in fn["Properties"]["Tags"]}
            assert tags["stepbridge:function"] == "step" and tags["team"] == "billing", logical_id


def test_a_shared_role_never_carries_a_steps_secret(compiled: tuple[App, dict[str, Any], str, dict[str, Any]]) -> None:
    resources = compiled[3]["Resources"]
    shared = json.dumps(resources["DeclaredStepsRole"])
    assert "ssm:GetParameter" not in shared and "kms:" not in shared and "scale-out-" not in shared
    # its only S3 grant is the framework's, on the payload bucket's objects (large values)
    assert shared.count('"s3:') == 2 and "${PayloadBucket.Arn}/payloads/*" in shared
    for i in range(WITH_GRANTS):
        fn = resources[f"StepStep{i:03d}Function"]["Properties"]
        assert fn["Role"] == {"Fn::GetAtt": [f"StepStep{i:03d}Role", "Arn"]}
        own = json.dumps(resources[f"StepStep{i:03d}Role"])
        assert f"parameter/scale/step-{i}/api-key" in own and f"scale-out-{i}" in own
        others = [j for j in range(WITH_GRANTS) if j != i]
        assert not any(f"/scale/step-{j}/api-key\"" in own for j in others)
    assert resources["StepStep100Function"]["Properties"]["Role"] == {"Fn::GetAtt": ["DeclaredStepsRole", "Arn"]}
