"""Deploy-time AWS limits the compiler checks, so ``stepbridge compile`` refuses what CloudFormation
or Lambda would refuse at ``sam deploy`` (values and sources: docs/LIMITS.md).

* Lambda: a function's environment variables total at most 4 KB (Lambda quotas, "Function
  environment variables"), counted as their JSON text as Lambda measures it; a value
  CloudFormation resolves at deploy time (``Ref``, ``Fn::GetAtt``, ``Fn::Sub``) counts as
  ``INTRINSIC_BYTES``, more than any name or ARN this template resolves to.
* (IAM's 10,240-character role policy limit is checked where the policies are built:
  ``compiler/userpolicies.check_role_size``.)
* EventBridge Scheduler: a recurring schedule's target input is at most 256 KB.
* CloudFormation: at most 500 resources in a stack, counted after the SAM transform (a SAM
  function becomes its function plus one or two resources per event source); a template body
  of at most 51,200 bytes passed inline, 1 MB from S3 (CloudFormation quotas). ``sam deploy``
  uploads the template to S3, so only the 1 MB bound refuses a compile.

Callers: ``compile_app`` runs ``check_template`` and ``check_template_body`` on what it emits;
code that adds per-function environment can call ``check_environment`` with a function's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stepbridge.api.deploy import LAMBDA_ENV_BYTES, env_bytes
from stepbridge.compiler.intrinsics import to_json
from stepbridge.errors import CompileError
from stepbridge.runtime.limits import SCHEDULER_INPUT_BYTES

#: Lambda quotas: all environment variables of a function, in aggregate, 4 KB (measured as their JSON text).
LAMBDA_ENVIRONMENT_BYTES = LAMBDA_ENV_BYTES
#: Bytes counted for a value CloudFormation resolves at deploy time: the longest name, URL or ARN
#: this template's references resolve to (a queue URL is at most 54 + 80 characters, a stack name 128).
INTRINSIC_BYTES = 160
#: CloudFormation quotas: resources declared in one stack.
CFN_MAX_RESOURCES = 500
#: CloudFormation quotas: template body size in a request (inline), and in an object in S3.
CFN_TEMPLATE_BODY_INLINE_BYTES = 51_200
CFN_TEMPLATE_BODY_S3_BYTES = 1024 * 1024

_INTRINSICS = frozenset({"Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::ImportValue", "Fn::If", "Fn::Select"})
#: Resources one event source of a SAM function adds after the transform (beyond the function itself).
_EVENT_RESOURCES = {
    "SQS": 1,  # AWS::Lambda::EventSourceMapping
    "Kinesis": 1,
    "DynamoDB": 1,
    "HttpApi": 1,  # AWS::Lambda::Permission
    "Api": 1,
    "EventBridgeRule": 2,  # AWS::Events::Rule + AWS::Lambda::Permission
    "CloudWatchEvent": 2,
    "Schedule": 2,
    "ScheduleV2": 2,  # AWS::Scheduler::Schedule + its role
    "SNS": 2,
    "S3": 2,
}
#: Resources other SAM types become after the transform.
_SAM_RESOURCES = {
    "AWS::Serverless::HttpApi": 2,  # AWS::ApiGatewayV2::Api + Stage
    "AWS::Serverless::Api": 3,  # RestApi + Deployment + Stage
    "AWS::Serverless::LayerVersion": 1,
    "AWS::Serverless::SimpleTable": 1,
    "AWS::Serverless::StateMachine": 2,
}


def _resolved(value: object) -> object:
    """``value`` with every deploy-time intrinsic replaced by a placeholder of ``INTRINSIC_BYTES``."""
    value = to_json(value)  # Ref/GetAtt/Sub values of a template being built -> {"Ref": ...} form
    if isinstance(value, Mapping):
        if len(value) == 1 and next(iter(value)) in _INTRINSICS:
            return "x" * INTRINSIC_BYTES
        return {k: _resolved(v) for k, v in value.items()}
    return value


def environment_size(variables: Mapping[str, object]) -> int:
    """The size of a function's environment as Lambda counts it (``api.deploy.env_bytes``: the variables as
    JSON text), with deploy-time references counted as ``INTRINSIC_BYTES``."""
    return env_bytes({str(k): str(_resolved(v)) for k, v in variables.items()})


def check_environment(function: str, variables: Mapping[str, object]) -> None:
    """Raise ``CompileError`` naming ``function`` (e.g. "the function of step 'charge'") when its
    environment is over Lambda's 4 KB."""
    size = environment_size(variables)
    if size > LAMBDA_ENVIRONMENT_BYTES:
        biggest = sorted(variables, key=lambda k: -environment_size({k: variables[k]}))[:3]
        raise CompileError(
            f"{function}: its environment variables total about {size:,} bytes, over Lambda's "
            f"{LAMBDA_ENVIRONMENT_BYTES:,}-byte limit (largest: {', '.join(biggest)}); move large values to "
            "SSM parameters or Secrets Manager (secrets=) and read them at run time"
        )


def function_environments(template: Mapping[str, Any]) -> dict[str, dict[str, object]]:
    """Each Lambda function's environment as deployed: ``Globals.Function`` variables, then its own."""
    shared = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables")
    found: dict[str, dict[str, object]] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type")
        if kind not in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            continue
        own = ((resource.get("Properties") or {}).get("Environment") or {}).get("Variables") or {}
        merged = {**(shared or {}), **own} if kind == "AWS::Serverless::Function" else dict(own)
        found[logical_id] = merged
    return found


def deployed_resource_count(template: Mapping[str, Any]) -> int:
    """How many resources the stack will have after the SAM transform (an upper estimate for SAM types)."""
    count = 0
    for resource in (template.get("Resources") or {}).values():
        kind = str(resource.get("Type", ""))
        props = resource.get("Properties") or {}
        if kind == "AWS::Serverless::Function":
            count += 1 + (0 if "Role" in props else 1)
            count += sum(_EVENT_RESOURCES.get(str(e.get("Type")), 2) for e in (props.get("Events") or {}).values())
            count += 1 if "EventInvokeConfig" in props else 0
            count += 2 if "AutoPublishAlias" in props else 0
        else:
            count += _SAM_RESOURCES.get(kind, 1)
    return count


def check_template(template: Mapping[str, Any], *, names: Mapping[str, str] | None = None) -> None:
    """Every function's environment within 4 KB, every schedule's input within 256 KB, and the stack within
    500 resources; ``CompileError`` otherwise.

    ``names`` maps logical ids to what the user calls the function (a declared step's name), for the message.
    """
    for logical_id, variables in function_environments(template).items():
        label = (names or {}).get(logical_id, f"function '{logical_id}'")
        check_environment(label, variables)
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") == "AWS::Scheduler::Schedule":
            body = ((resource.get("Properties") or {}).get("Target") or {}).get("Input")
            size = len(str(body).encode("utf-8")) if isinstance(body, str) else 0
            if size > SCHEDULER_INPUT_BYTES:
                raise CompileError(
                    f"schedule '{logical_id}': its input is {size:,} bytes, over EventBridge Scheduler's "
                    f"{SCHEDULER_INPUT_BYTES:,}-byte target input limit; pass a reference instead of the data"
                )
    count = deployed_resource_count(template)
    if count > CFN_MAX_RESOURCES:
        raise CompileError(
            f"the template would deploy about {count} resources, over CloudFormation's {CFN_MAX_RESOURCES} per "
            "stack; split the app into several apps (stacks), or declare fewer steps (inline ctx.step calls "
            "need no resources)"
        )


def check_template_body(text: str) -> None:
    """Refuse a template over CloudFormation's 1 MB body limit (templates over 51,200 bytes deploy from S3)."""
    size = len(text.encode("utf-8"))
    if size > CFN_TEMPLATE_BODY_S3_BYTES:
        raise CompileError(
            f"the template is {size:,} bytes, over CloudFormation's {CFN_TEMPLATE_BODY_S3_BYTES:,}-byte limit for "
            "a template in S3; split the app into several apps (stacks)"
        )


def needs_s3_upload(text: str) -> bool:
    """Whether the template is over the 51,200 bytes CloudFormation takes inline (``sam deploy`` uploads it)."""
    return len(text.encode("utf-8")) > CFN_TEMPLATE_BODY_INLINE_BYTES
