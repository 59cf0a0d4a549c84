"""Offline validation of a generated template: SAM transform, cfn-lint, and a moto CloudFormation stack.

1. :func:`sam_transform` runs aws-sam-translator locally (no AWS calls: code locations become
   ``s3://`` URIs and managed-policy names come from the JSON file the translator ships).
2. :func:`lint` runs cfn-lint on the *transformed* template, which catches far more than
   linting the SAM source.
3. :func:`deploy_to_moto` creates the transformed template as a stack in moto's CloudFormation
   (moto skips ``AWS::Scheduler::*`` and API Gateway v2 resources) and :func:`check_wiring`
   verifies the table, queues, rules, functions and their wiring exist as the template says.
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import logging
import os
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from stepbridge import config
from stepbridge.compiler import naming
from stepbridge.compiler.limits import CFN_MAX_RESOURCES
from stepbridge.errors import CompileError

REGION = "us-east-1"
_CODE_BUCKET = "stepbridge-validate-code"
_CODE_KEY = "function.zip"
_LAYER_KEY = "layer.zip"


# ---- SAM transform -------------------------------------------------------------------------------------


def _require(module: str, extra: str) -> None:
    """Fail with an installable hint when an optional validation dependency is missing."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise CompileError(
            f"{module} is not installed; pip install 'stepbridge[{extra}]' (or skip this check)"
        ) from None


def _managed_policy_loader() -> Any:
    from samtranslator.translator.managed_policy_translator import (  # type: ignore[import-untyped]
        ManagedPolicyLoader,
    )

    class FileManagedPolicyLoader(ManagedPolicyLoader):  # type: ignore[misc]
        """Managed-policy names from the translator's bundled JSON instead of IAM ListPolicies."""

        def __init__(self) -> None:
            import samtranslator  # type: ignore[import-untyped]

            path = Path(samtranslator.__file__).parent / "internal" / "data" / "aws_managed_policies.json"
            self._policy_map: dict[str, str] | None = json.loads(path.read_text(encoding="utf-8"))["aws"]

        def load(self) -> dict[str, str]:
            return dict(self._policy_map or {})

    return FileManagedPolicyLoader()


def with_s3_code(template: dict[str, Any]) -> dict[str, Any]:
    """A copy whose code locations (CodeUri, ContentUri) are ``s3://`` URIs, as after ``sam package``."""
    out = copy.deepcopy(template)
    code = f"s3://{_CODE_BUCKET}/{_CODE_KEY}"
    glob = out.get("Globals", {}).get("Function", {})
    if "CodeUri" in glob:
        glob["CodeUri"] = code
    for resource in out.get("Resources", {}).values():
        props = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function" and ("CodeUri" in props or "InlineCode" not in props):
            props["CodeUri"] = code
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://{_CODE_BUCKET}/{_LAYER_KEY}"
    return out


@contextmanager
def _region(region: str) -> Iterator[None]:
    with mock.patch.dict(os.environ, {"AWS_DEFAULT_REGION": region, "AWS_REGION": region}):
        yield


def sam_transform(template: dict[str, Any], *, region: str = REGION) -> dict[str, Any]:
    """Expand the SAM template (long-form JSON) into plain CloudFormation, offline."""
    _require("samtranslator", "compile")
    from samtranslator.translator.transform import transform  # type: ignore[import-untyped]

    with _region(region):
        result: dict[str, Any] = transform(with_s3_code(template), {}, _managed_policy_loader())
    return result


# ---- cfn-lint ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LintIssue:
    """One cfn-lint finding."""

    rule: str
    level: str  # "error", "warning" or "informational"
    message: str
    path: str

    def __str__(self) -> str:
        return f"{self.rule} [{self.level}] {self.path}: {self.message}"


def lint(transformed: dict[str, Any], *, region: str = REGION) -> list[LintIssue]:
    """cfn-lint findings on a transformed template."""
    _require("cfnlint", "compile")
    from cfnlint.api import ManualArgs  # type: ignore[import-untyped]
    from cfnlint.api import lint as cfn_lint

    matches = cfn_lint(json.dumps(transformed, indent=1), config=ManualArgs(regions=[region]))
    out = []
    for m in matches:
        rule_id = m.rule.id
        level = {"E": "error", "W": "warning"}.get(rule_id[:1], "informational")
        out.append(LintIssue(rule_id, level, m.message, "/".join(str(p) for p in (m.path or []))))
    return out


# ---- moto CloudFormation --------------------------------------------------------------------------------------


@dataclass
class MotoStack:
    """What moto created for the stack, read back through the service APIs."""

    stack_name: str
    status: str
    resources: dict[str, tuple[str, str]]  # logical id -> (type, physical id)
    skipped: list[str]  # logical ids of resource types moto does not model
    table: dict[str, Any] = field(default_factory=dict)
    queues: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> attributes (+QueueUrl)
    bus: str = ""
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> {pattern, targets}
    functions: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> configuration
    mappings: list[dict[str, Any]] = field(default_factory=list)


def _zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in sorted(files.items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            archive.writestr(info, text)
    return buffer.getvalue()


_FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}


@contextmanager
def _quiet_moto() -> Iterator[None]:
    """Silence moto's "not supported by moto's CloudFormation" warnings (expected: Scheduler, API GW v2)."""
    log = logging.getLogger("moto")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        log.setLevel(level)


def deploy_to_moto(transformed: dict[str, Any], *, stack_name: str = "stepbridge-validate") -> MotoStack:
    """Create ``transformed`` as a stack inside a fresh ``moto.mock_aws`` and read back what exists."""
    _require("moto", "local")
    import boto3
    from moto import mock_aws
    from moto.events.models import EventBus

    # moto 5.2's EventBus has no physical_resource_id, so {"Ref": bus} resolves to the object
    # instead of the bus name (CloudFormation's documented Ref value). Patched for this call only.
    bus_ref = mock.patch.object(EventBus, "physical_resource_id", property(lambda self: self.name), create=True)
    with mock.patch.dict(os.environ, _FAKE_ENV), bus_ref, _quiet_moto(), mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=_CODE_BUCKET)
        s3.put_object(Bucket=_CODE_BUCKET, Key=_CODE_KEY, Body=_zip_bytes({"app.py": "app = None\n"}))
        s3.put_object(Bucket=_CODE_BUCKET, Key=_LAYER_KEY, Body=_zip_bytes({"python/stepbridge/__init__.py": ""}))
        cfn = boto3.client("cloudformation", region_name=REGION)
        cfn.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(transformed),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        status = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"]
        listed = cfn.describe_stack_resources(StackName=stack_name)["StackResources"]
        resources = {
            r["LogicalResourceId"]: (r.get("ResourceType", ""), r.get("PhysicalResourceId", ""))
            for r in listed
            if r.get("LogicalResourceId") and r.get("PhysicalResourceId")  # moto lists skipped types bare
        }
        skipped = sorted(set(transformed.get("Resources", {})) - set(resources))
        stack = MotoStack(stack_name, status, resources, skipped)
        _read_back(stack, transformed)
        return stack


def _read_back(stack: MotoStack, transformed: dict[str, Any]) -> None:
    import boto3

    by_type: dict[str, list[tuple[str, str]]] = {}
    for logical_id, (rtype, physical) in sorted(stack.resources.items()):
        by_type.setdefault(rtype, []).append((logical_id, physical))
    ddb = boto3.client("dynamodb", region_name=REGION)
    for _, physical in by_type.get("AWS::DynamoDB::Table", []):
        stack.table = dict(ddb.describe_table(TableName=physical)["Table"])
    sqs = boto3.client("sqs", region_name=REGION)
    for logical_id, physical in by_type.get("AWS::SQS::Queue", []):
        attrs = sqs.get_queue_attributes(QueueUrl=physical, AttributeNames=["All"])["Attributes"]
        stack.queues[logical_id] = {**{str(k): str(v) for k, v in attrs.items()}, "QueueUrl": physical}
    events = boto3.client("events", region_name=REGION)
    for _, physical in by_type.get("AWS::Events::EventBus", []):
        stack.bus = physical.split("/")[-1] if physical.startswith("arn:") else physical
    if not stack.bus:  # moto does not always list the bus among the stack's resources
        names = [b["Name"] for b in events.list_event_buses()["EventBuses"] if b["Name"] != "default"]
        stack.bus = next((n for n in names if n.startswith(stack.stack_name)), "")
    rule_ids = {rid for rid, _ in by_type.get("AWS::Events::Rule", [])}
    if stack.bus:
        for rule in events.list_rules(EventBusName=stack.bus)["Rules"]:
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=stack.bus)["Targets"]
            logical = next(
                (rid for rid in rule_ids if stack.resources[rid][1] in (rule["Name"], rule["Arn"])), rule["Name"]
            )
            stack.rules[logical] = {"pattern": json.loads(rule.get("EventPattern", "{}")), "targets": targets}
    lam = boto3.client("lambda", region_name=REGION)
    for logical_id, physical in by_type.get("AWS::Lambda::Function", []):
        stack.functions[logical_id] = dict(lam.get_function_configuration(FunctionName=physical))
    stack.mappings = [dict(m) for m in lam.list_event_source_mappings()["EventSourceMappings"]]


def check_wiring(stack: MotoStack) -> list[str]:
    """Problems in what moto created: missing resources or wiring that differs from the design."""
    problems: list[str] = []
    if stack.status != "CREATE_COMPLETE":
        problems.append(f"stack status is {stack.status}")
    table = stack.table
    if not table:
        problems.append("no DynamoDB table")
    else:
        keys = {k["AttributeName"]: k["KeyType"] for k in table.get("KeySchema", [])}
        if keys != {"pk": "HASH", "sk": "RANGE"}:
            problems.append(f"table key schema is {keys}")
        indexes = [g["IndexName"] for g in table.get("GlobalSecondaryIndexes", [])]
        if indexes != ["by-workflow", "by-status", "by-assignee"]:
            problems.append(f"table indexes are {indexes}, expected by-workflow, by-status and by-assignee")
    queue = stack.queues.get(naming.QUEUE, {})
    dlq = stack.queues.get(naming.DLQ, {})
    if queue.get("FifoQueue") != "true" or queue.get("ContentBasedDeduplication") != "true":
        problems.append(f"work queue is not FIFO with content-based de-duplication: {queue}")
    if dlq.get("FifoQueue") != "true":
        problems.append("dead-letter queue is missing or not FIFO")
    elif json.loads(queue.get("RedrivePolicy", "{}")).get("deadLetterTargetArn") != dlq.get("QueueArn"):
        problems.append("work queue does not redrive to the dead-letter queue")
    fn_arns = {lid: cfg["FunctionArn"] for lid, cfg in stack.functions.items()}
    router_queue = stack.queues.get(naming.ROUTER_QUEUE, {})
    router_dlq = stack.queues.get(naming.ROUTER_DLQ, {})
    if json.loads(router_queue.get("RedrivePolicy", "{}")).get("deadLetterTargetArn") != router_dlq.get("QueueArn"):
        problems.append("the router queue does not redrive to the router's dead-letter queue")
    for logical_id, rule in sorted(stack.rules.items()):
        arns = [t["Arn"] for t in rule["targets"]]
        if arns != [router_queue.get("QueueArn")]:
            problems.append(f"rule {logical_id} targets {arns}, not the router queue")
    if naming.CATCH_ALL_RULE not in stack.rules:
        problems.append("the router's catch-all rule is missing")
    consumers = ((queue, naming.ORCHESTRATOR, "work queue"), (router_queue, naming.ROUTER, "router queue"))
    for source, base, what in consumers:
        function_arn = fn_arns.get(f"{base}Function")
        wired = [
            m
            for m in stack.mappings
            if m.get("EventSourceArn") == source.get("QueueArn") and m.get("FunctionArn") == function_arn
        ]
        if not wired:
            problems.append(f"no event source mapping from the {what} to the {base.lower()}")
        elif "ReportBatchItemFailures" not in (wired[0].get("FunctionResponseTypes") or []):
            problems.append(f"the {what} mapping does not report batch item failures")
    for logical_id, cfg in sorted(stack.functions.items()):
        env = cfg.get("Environment", {}).get("Variables", {})
        expected = {
            config.ENV_TABLE: table.get("TableName"),
            config.ENV_QUEUE_URL: queue.get("QueueUrl"),
            config.ENV_BUS: stack.bus,
            config.ENV_STACK: stack.stack_name,
        }
        for var, value in expected.items():
            if env.get(var) != value:
                problems.append(f"{logical_id}: {var} is {env.get(var)!r}, expected {value!r}")
        if not env.get(config.ENV_APP):
            problems.append(f"{logical_id}: {config.ENV_APP} is not set")
        step = env.get(config.ENV_STEP)
        if step is not None and cfg["FunctionName"] != config.step_function_name(stack.stack_name, step):
            problems.append(
                f"{logical_id}: function name {cfg['FunctionName']!r} differs from the runtime's "
                f"step_function_name({stack.stack_name!r}, {step!r})"
            )
    needed_functions = (naming.ORCHESTRATOR, naming.ROUTER, naming.API, naming.SWEEPER)
    for needed in (f"{base}Function" for base in needed_functions):
        if needed not in stack.functions:
            problems.append(f"function {needed} was not created")
    return problems


# ---- all together --------------------------------------------------------------------------------------------


@dataclass
class Report:
    """The outcome of :func:`validate_template`."""

    issues: list[LintIssue] = field(default_factory=list)
    stack: MotoStack | None = None
    wiring: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """Everything that fails validation (cfn-lint errors and wiring problems; warnings do not)."""
        return [str(i) for i in self.issues if i.level == "error"] + self.wiring


def validate_template(
    template: dict[str, Any], *, run_lint: bool = True, run_moto: bool = True, region: str = REGION
) -> Report:
    """Transform, lint and deploy-to-moto a SAM template given in long-form JSON."""
    transformed = sam_transform(template, region=region)
    report = Report()
    deployed = len(transformed.get("Resources") or {})
    if deployed > CFN_MAX_RESOURCES:  # the exact count after the transform (compile checks an estimate)
        report.wiring.append(
            f"the stack would hold {deployed} resources after the SAM transform, over CloudFormation's "
            f"{CFN_MAX_RESOURCES} per stack"
        )
    if run_lint:
        report.issues = lint(transformed, region=region)
    if run_moto:
        report.stack = deploy_to_moto(transformed)
        report.wiring = check_wiring(report.stack)
    return report
