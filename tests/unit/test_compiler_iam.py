"""IAM scan of the transformed templates: least privilege, no wildcard actions, named resources."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stepbridge.compiler import validate
from stepbridge.compiler.intrinsics import to_json
from stepbridge.compiler.template import compile_file

APPS_DIR = Path(__file__).parents[1] / "golden" / "apps"
APPS = ["golden_jwt", "golden_minimal", "golden_orders", "golden_scheduled"]

#: The only actions allowed on Resource "*": AWS X-Ray has no resource-level permissions for them
#: (Service Authorization Reference, "Actions defined by AWS X-Ray": resource types column empty).
#: Powertools Metrics writes EMF to the log group, so cloudwatch:PutMetricData is not needed at all.
NO_RESOURCE_LEVEL = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
#: Scoped patterns: every "*" inside an ARN must follow one of these named prefixes.
SCOPED_WILDCARDS = {"${TimerScheduleGroup}/*", "${PayloadBucket.Arn}/payloads/*"}
PAYLOADS = {"Fn::Sub": "${PayloadBucket.Arn}/payloads/*"}

SECRET = "parameter/scheduled/stripe/webhook-secret"
TABLE = {"Fn::GetAtt": ["Table", "Arn"]}
INDEX = {"Fn::Sub": "${Table.Arn}/index/by-workflow"}
STATUS_INDEX = {"Fn::Sub": "${Table.Arn}/index/by-status"}
QUEUE = {"Fn::GetAtt": ["WorkQueue", "Arn"]}
BUS = {"Fn::GetAtt": ["EventBus", "Arn"]}
SCHEDULER_ROLE = {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
TIMER_GROUP = {
    "Fn::Sub": "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/${TimerScheduleGroup}/*"
}


def key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def listify(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("iam")
    out = {}
    for name in APPS:
        compiled = compile_file(str(APPS_DIR / f"{name}.py"), tmp / "template.yaml")
        out[name] = validate.sam_transform(to_json(compiled.template))
    return out


def grants(template: dict[str, Any], role: str) -> dict[str, set[str]]:
    """action -> resources (as JSON keys) for one role's inline policies."""
    out: dict[str, set[str]] = {}
    for policy in template["Resources"][role]["Properties"].get("Policies", []):
        for stmt in policy["PolicyDocument"]["Statement"]:
            assert stmt["Effect"] == "Allow"
            for action in listify(stmt["Action"]):
                out.setdefault(action, set()).update(key(r) for r in listify(stmt["Resource"]))
    return out


@pytest.mark.parametrize("name", APPS)
def test_no_wildcard_actions_and_no_unscoped_resources(templates: dict[str, dict[str, Any]], name: str) -> None:
    resources = templates[name]["Resources"]
    types = {r["Type"] for r in resources.values()}
    assert not types & {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::User", "AWS::IAM::Group"}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        props = resource["Properties"]
        assert "ManagedPolicyArns" not in props, f"{logical_id} has managed policies (SAM defaults?)"
        for policy in props["Policies"]:
            for stmt in policy["PolicyDocument"]["Statement"]:
                actions = listify(stmt["Action"])
                assert "NotAction" not in stmt and "NotResource" not in stmt
                for action in actions:
                    assert "*" not in action and "?" not in action, f"{logical_id}: wildcard action {action}"
                for res in listify(stmt["Resource"]):
                    if res == "*":
                        assert set(actions) <= NO_RESOURCE_LEVEL, f"{logical_id}: Resource '*' for {actions}"
                        continue
                    text = key(res)
                    if "*" in text:
                        assert any(p + '"' in text or p + "'" in text for p in SCOPED_WILDCARDS), (
                            f"{logical_id}: unexpected wildcard in {text}"
                        )


@pytest.mark.parametrize("name", APPS)
def test_scheduler_role_can_only_send_to_the_work_queue(templates: dict[str, dict[str, Any]], name: str) -> None:
    role = templates[name]["Resources"]["SchedulerRole"]["Properties"]
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]
    assert grants(templates[name], "SchedulerRole") == {"sqs:SendMessage": {key(QUEUE)}}


def test_orchestrator_permissions_are_exact(templates: dict[str, dict[str, Any]]) -> None:
    g = grants(templates["golden_orders"], "OrchestratorRole")
    assert g["lambda:InvokeFunction"] == {
        key({"Fn::GetAtt": ["StepChargePaymentFunction", "Arn"]}),
        key({"Fn::GetAtt": ["StepSendEmailFunction", "Arn"]}),
    }
    assert g["iam:PassRole"] == {key(SCHEDULER_ROLE)}
    assert g["events:PutEvents"] == {key(BUS)}
    assert g["sqs:SendMessage"] == {key(QUEUE)} and g["sqs:ReceiveMessage"] == {key(QUEUE)}
    assert "sqs:ChangeMessageVisibility" not in g  # failed batch items just become visible again
    assert {a for a in g if a.startswith("scheduler:")} == {"scheduler:CreateSchedule", "scheduler:DeleteSchedule"}
    for action in ("scheduler:CreateSchedule", "scheduler:DeleteSchedule"):
        assert g[action] == {key(TIMER_GROUP)}
    # exactly what the code calls (tests/functional/test_iam_equals_use.py): no batch, update or condition checks
    assert {a for a in g if a.startswith("dynamodb:")} == {
        "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
    for action, resources in g.items():
        if action.startswith("dynamodb:"):
            assert resources == {key(TABLE)}, action  # no index: only the client lists by workflow
    assert {a.split(":")[0] for a in g} == {
        "logs", "xray", "dynamodb", "sqs", "lambda", "scheduler", "iam", "events", "s3"}
    # large values (claim checks): only the objects under payloads/ of the app's own bucket
    assert {a: r for a, r in g.items() if a.startswith("s3:")} == {
        "s3:GetObject": {key(PAYLOADS)}, "s3:PutObject": {key(PAYLOADS)}}
    # PassRole only towards Scheduler
    statements = templates["golden_orders"]["Resources"]["OrchestratorRole"]["Properties"]["Policies"][0]
    pass_role = [s for s in statements["PolicyDocument"]["Statement"] if s["Action"] == ["iam:PassRole"]]
    assert pass_role[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}


def test_orchestrator_without_steps_invokes_nothing(templates: dict[str, dict[str, Any]]) -> None:
    assert "lambda:InvokeFunction" not in grants(templates["golden_minimal"], "OrchestratorRole")


@pytest.mark.parametrize("role", ["DeclaredStepsRole"])
def test_step_functions_only_touch_the_table_and_queue(templates: dict[str, dict[str, Any]], role: str) -> None:
    # Declared steps without grants of their own share one role and one log group (docs/DEPLOY.md).
    g = grants(templates["golden_orders"], role)
    own_logs = key({"Fn::GetAtt": ["DeclaredStepsLogGroup", "Arn"]})
    for action, resources in g.items():
        service = action.split(":")[0]
        if service == "dynamodb":
            assert resources == {key(TABLE)}, action
        elif action == "sqs:SendMessage":
            assert resources == {key(QUEUE)}
        elif action == "scheduler:DeleteSchedule":  # disarms its attempt's deadline timer
            assert resources == {key(TIMER_GROUP)}
        elif service == "logs":
            assert resources == {own_logs}
        elif service == "s3":  # large arguments and results (claim checks) in the payload bucket
            assert action in ("s3:GetObject", "s3:PutObject") and resources == {key(PAYLOADS)}, action
        else:
            assert action in NO_RESOURCE_LEVEL, action
    assert "dynamodb:Query" not in g
    assert {a for a in g if a.startswith("dynamodb:")} == {
        "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"}
    statements = templates["golden_orders"]["Resources"][role]["Properties"]["Policies"][0]["PolicyDocument"]
    table = [s for s in statements["Statement"] if any(a.startswith("dynamodb:") for a in listify(s["Action"]))]
    by_actions = {tuple(listify(s["Action"])): s["Condition"] for s in table}
    # Get/Put only on execution items (its report) and idempotency records; never waiters, caches, machines.
    assert by_actions[("dynamodb:GetItem", "dynamodb:PutItem")] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["EXEC#*", "IDEMPOTENCY#*"]}}
    # Update/Delete only for Powertools idempotency records (stepbridge.idempotency): IDEMPOTENCY# partitions.
    assert by_actions[("dynamodb:DeleteItem", "dynamodb:UpdateItem")] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["IDEMPOTENCY#*"]}}
    assert len(table) == 2


def test_router_and_api_permissions(templates: dict[str, dict[str, Any]]) -> None:
    router = grants(templates["golden_orders"], "RouterRole")
    assert "lambda:InvokeFunction" not in router and "ssm:GetParameter" not in router
    # sends to the work queue only; consumes the router queue (its event source mapping polls with the
    # function's role); SQS itself moves failed events to RouterDeadLetterQueue: no grant on it
    assert router["sqs:SendMessage"] == {key(QUEUE)}
    router_queue = key({"Fn::GetAtt": ["RouterQueue", "Arn"]})
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert router[action] == {router_queue}
    assert not any(key({"Fn::GetAtt": ["RouterDeadLetterQueue", "Arn"]}) in r for r in router.values())
    assert "events:PutEvents" not in router  # state machine events are the orchestrator's
    router_table = {a for a in router if a.startswith("dynamodb:")}
    assert router_table == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"}
    # The API also serves the public webhook routes: it may only create and read items (execution headers,
    # task items) and Query the task inbox index - nothing else of the table.
    api_orders = grants(templates["golden_orders"], "ApiRole")
    assert {a for a in api_orders if a.startswith("dynamodb:")} == {"dynamodb:GetItem", "dynamodb:PutItem",
                                                                     "dynamodb:Query"}
    assert api_orders["dynamodb:GetItem"] == {key(TABLE)}
    assert api_orders["dynamodb:Query"] == {key({"Fn::Sub": "${Table.Arn}/index/by-assignee"})}
    api = grants(templates["golden_scheduled"], "ApiRole")
    assert api["ssm:GetParameter"] == {
        key({"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:" + SECRET})
    }
    assert "ssm:GetParameter" not in grants(templates["golden_orders"], "ApiRole")


@pytest.mark.parametrize("name", APPS)
def test_each_function_has_its_own_role_and_log_group(templates: dict[str, dict[str, Any]], name: str) -> None:
    resources = templates[name]["Resources"]
    functions = {k: r for k, r in resources.items() if r["Type"] == "AWS::Lambda::Function"}
    steps = {k for k, r in functions.items() if r["Properties"]["Handler"] == "stepbridge.handlers.step.handler"}
    roles = [r["Properties"]["Role"]["Fn::GetAtt"][0] for k, r in functions.items() if k not in steps]
    assert len(roles) == len(set(roles))
    for logical_id, fn in functions.items():
        # declared steps without grants share one role and one log group (docs/DEPLOY.md)
        base = "DeclaredSteps" if logical_id in steps else logical_id.removesuffix("Function")
        assert fn["Properties"]["Role"] == {"Fn::GetAtt": [f"{base}Role", "Arn"]}
        assert fn["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": f"{base}LogGroup"}}
        trust = resources[f"{base}Role"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    for logical_id, resource in resources.items():
        if resource["Type"] == "AWS::Lambda::Permission":
            assert "SourceArn" in resource["Properties"], f"{logical_id} lets any source invoke"


@pytest.mark.parametrize("name", APPS)
def test_sweeper_may_only_query_unfinished_executions_and_wake_them(
    templates: dict[str, dict[str, Any]], name: str
) -> None:
    """Query on the table (journals) and the sparse by-status index, SendMessage to the work queue, and its own
    paging cursor (GetItem/PutItem in the SWEEPER partition only); nothing else."""
    g = grants(templates[name], "SweeperRole")
    own_logs = key({"Fn::GetAtt": ["SweeperLogGroup", "Arn"]})
    assert g == {
        "dynamodb:Query": {key(TABLE), key(STATUS_INDEX)},
        "dynamodb:GetItem": {key(TABLE)},
        "dynamodb:PutItem": {key(TABLE)},
        "sqs:SendMessage": {key(QUEUE)},
        "logs:CreateLogStream": {own_logs},
        "logs:PutLogEvents": {own_logs},
        "xray:PutTraceSegments": {key("*")},
        "xray:PutTelemetryRecords": {key("*")},
    }
    statements = templates[name]["Resources"]["SweeperRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    (cursor,) = [s for s in statements["Statement"] if "dynamodb:PutItem" in listify(s["Action"])]
    assert cursor["Condition"] == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["SWEEPER"]}}
    # No other role can list executions by status: the index is the sweeper's alone.
    for logical_id, resource in templates[name]["Resources"].items():
        if resource["Type"] == "AWS::IAM::Role" and logical_id != "SweeperRole":
            assert all(key(STATUS_INDEX) not in res for res in grants(templates[name], logical_id).values())


@pytest.mark.parametrize("name", APPS)
def test_sweeper_schedule_runs_every_five_minutes_with_its_own_role(
    templates: dict[str, dict[str, Any]], name: str
) -> None:
    resources = templates[name]["Resources"]
    schedules = [r for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"]
    sweep = [s for s in schedules if s["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": ["SweeperFunction", "Arn"]}]
    assert len(sweep) == 1
    props = sweep[0]["Properties"]
    assert props["ScheduleExpression"] == "rate(5 minutes)"
    assert "Name" not in props  # CloudFormation generates it: no collision between stacks
    assert props["Target"]["RoleArn"] == {"Fn::GetAtt": ["SweeperScheduleRole", "Arn"]}
    assert grants(templates[name], "SweeperScheduleRole") == {
        "lambda:InvokeFunction": {key({"Fn::GetAtt": ["SweeperFunction", "Arn"]})}
    }
    trust = resources["SweeperScheduleRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust[0]["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


@pytest.mark.parametrize("name", APPS)
def test_state_is_encrypted_at_rest(templates: dict[str, dict[str, Any]], name: str) -> None:
    resources = templates[name]["Resources"]
    table = next(r for r in resources.values() if r["Type"] == "AWS::DynamoDB::Table")
    assert table["Properties"]["SSESpecification"] == {"SSEEnabled": True}
    queues = [r for r in resources.values() if r["Type"] == "AWS::SQS::Queue"]
    assert len(queues) == 4 and all(q["Properties"]["SqsManagedSseEnabled"] is True for q in queues)
