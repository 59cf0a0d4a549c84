"""Deploy-time limits the compiler enforces (stepbridge/compiler/limits.py, docs/LIMITS.md).

Lambda refuses a function whose environment variables total over 4 KB; CloudFormation refuses a
stack of more than 500 resources and a template body over 1 MB (51,200 bytes inline). ``compile``
refuses them first, with a one-line error naming the function or the count.
"""

from __future__ import annotations

from typing import Any

import pytest

from stepbridge.api.app import App
from stepbridge.compiler import functions, limits
from stepbridge.compiler.template import compile_app
from stepbridge.errors import CompileError


def steps_app(n_steps: int) -> App:
    app = App("lim")

    @app.workflow("run")
    async def run(ctx: Any, data: Any) -> None:
        return None

    for i in range(n_steps):

        def body(x: int) -> int:
            return x

        body.__name__ = f"step_{i}"
        app.step(timeout=30)(body)
    return app


def test_environment_size_counts_the_json_text_and_resolved_references() -> None:
    assert limits.environment_size({"A": "b"}) == len('{"A":"b"}')
    assert limits.environment_size({"A": {"Ref": "Table"}}) == len('{"A":""}') + limits.INTRINSIC_BYTES
    assert limits.environment_size({"K": "\u20ac"}) == len('{"K":""}') + 3  # UTF-8 bytes


def test_an_environment_of_4_kb_is_accepted_and_one_byte_more_names_the_function() -> None:
    filler = "v" * (limits.LAMBDA_ENVIRONMENT_BYTES - len('{"BIG":""}'))
    limits.check_environment("the function of step 'charge'", {"BIG": filler})
    with pytest.raises(CompileError, match=r"the function of step 'charge': .*4,096-byte limit \(largest: BIG"):
        limits.check_environment("the function of step 'charge'", {"BIG": filler + "v"})


def test_compile_refuses_a_step_function_whose_environment_is_over_4_kb(monkeypatch: pytest.MonkeyPatch) -> None:
    original = functions.step

    def step_with_big_env(model: Any, plan: Any) -> Any:
        resources = original(model, plan)
        for _, resource in resources:
            if resource["Type"] == "AWS::Serverless::Function":
                resource["Properties"]["Environment"]["Variables"]["CERT"] = "c" * 3000
        return resources

    monkeypatch.setattr(functions, "step", step_with_big_env)
    with pytest.raises(CompileError, match=r"the function of step 'step-0': .* over Lambda's 4,096-byte limit"):
        compile_app(steps_app(1))


def test_compile_measures_the_whole_deployed_environment_of_a_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step's own 2,900 bytes pass the early check of the user's share, but with stepbridge's variables
    (table, queue, bus ... resolved at deploy) the function's environment is over 4 KB: refused, naming it."""
    app = steps_app(0)

    @app.step(timeout=30, environment={"CERT": "c" * 2900})
    def sign(x: int) -> int:
        return x

    with pytest.raises(CompileError, match=r"the function of step 'sign': .* over Lambda's 4,096-byte limit"):
        compile_app(app)
    small = steps_app(0)
    small.step(timeout=30, environment={"CERT": "c" * 2000})(sign)
    sizes = limits.function_environments(compile_app(small).template)
    assert limits.environment_size(sizes["StepSignFunction"]) <= limits.LAMBDA_ENVIRONMENT_BYTES


def test_compile_refuses_shared_environment_over_4_kb_naming_the_first_function(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = functions.environment
    monkeypatch.setattr(functions, "environment", lambda model: {**original(model), "BLOB": "b" * 4000})
    with pytest.raises(CompileError, match=r"function 'OrchestratorFunction': .*largest: BLOB"):
        compile_app(steps_app(0))


def test_every_function_of_the_example_app_stays_inside_4_kb() -> None:
    compiled = compile_app(steps_app(3))
    sizes = {k: limits.environment_size(v) for k, v in limits.function_environments(compiled.template).items()}
    assert len(sizes) == 4 + 3 and max(sizes.values()) <= limits.LAMBDA_ENVIRONMENT_BYTES


def test_stack_resource_count_follows_the_sam_transform() -> None:
    template = {
        "Resources": {
            "F": {"Type": "AWS::Serverless::Function",
                  "Properties": {"Role": "r", "Events": {"Q": {"Type": "SQS"}, "R": {"Type": "EventBridgeRule"}},
                                 "EventInvokeConfig": {}}},
            "G": {"Type": "AWS::Serverless::Function", "Properties": {}},  # + its implicit role
            "H": {"Type": "AWS::Serverless::HttpApi", "Properties": {}},
            "T": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
        }
    }
    assert limits.deployed_resource_count(template) == (1 + 1 + 2 + 1) + 2 + 2 + 1


def test_compile_refuses_more_than_500_resources_in_one_stack() -> None:
    ok = compile_app(steps_app(200))
    count = limits.deployed_resource_count(ok.template)
    assert 400 < count <= limits.CFN_MAX_RESOURCES
    limits.check_template(ok.template)
    with pytest.raises(CompileError, match=r"CloudFormation's 500"):
        compile_app(steps_app(260))
    more = dict(ok.template, Resources={**ok.template["Resources"],
                                        **{f"Q{i}": {"Type": "AWS::SQS::Queue"} for i in range(501 - count)}})
    with pytest.raises(CompileError, match=r"about 501 resources, over CloudFormation's 500 per stack"):
        limits.check_template(more)


def test_template_body_of_1_mb_is_accepted_and_one_byte_more_is_refused() -> None:
    limits.check_template_body("x" * limits.CFN_TEMPLATE_BODY_S3_BYTES)
    with pytest.raises(CompileError, match="over CloudFormation's 1,048,576-byte limit"):
        limits.check_template_body("x" * (limits.CFN_TEMPLATE_BODY_S3_BYTES + 1))
    assert not limits.needs_s3_upload("x" * 51_200) and limits.needs_s3_upload("x" * 51_201)


def test_a_schedule_resource_whose_input_is_over_256_kb_is_refused() -> None:
    def template(size: int) -> dict[str, Any]:
        target = {"Arn": "q", "RoleArn": "r", "Input": "i" * size}
        schedule = {"Type": "AWS::Scheduler::Schedule", "Properties": {"Target": target}}
        return {"Resources": {"ScheduleNightly": schedule}}

    limits.check_template(template(256 * 1024))
    with pytest.raises(CompileError, match=r"schedule 'ScheduleNightly': .* Scheduler's 262,144-byte target input"):
        limits.check_template(template(256 * 1024 + 1))
