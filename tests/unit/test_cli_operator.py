"""The operator commands of the CLI, run through ``main(argv)`` with stdout/stderr captured.

``run`` and ``events send`` are exercised locally (they start their own LocalCloud). The
``--stack`` commands run against a stack in moto, and nothing on their side is faked: a LocalCloud
creates the example app's table, FIFO work queue (+ DLQ with a RedrivePolicy) and bus inside moto,
then moto's CloudFormation gets a stack whose outputs (TableName, EventBusName, WorkQueueUrl ...)
name those resources - what a deployed `stepbridge compile` template outputs. The CLI then goes the
deployed way: ``Client.for_stack`` -> DescribeStacks -> a DynamoDB store and AWS effects on boto3.
The one stand-in is the fleet that would process messages in AWS: where a command would wait for
the stack's Lambdas, the test lets the LocalCloud drain the (shared, moto) work queue instead.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from stepbridge import cli
from stepbridge.local import LocalCloud
from stepbridge.operator import console

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "functions" / "app.py")
if str(ROOT / "functions") not in sys.path:
    sys.path.insert(0, str(ROOT / "functions"))

import fakes  # noqa: E402

EXPENSE = {
    "id": "exp-7",
    "amount": 2500,
    "employee": "eve@acme.example",
    "manager": "mia@acme.example",
    "vp": "victor@acme.example",
    "description": "Conference travel",
}
STACK = "acme-prod"


@pytest.fixture(autouse=True)
def _fresh_fakes() -> Iterator[None]:
    fakes.reset()
    yield
    fakes.reset()


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ---- local: run / events send / graph ------------------------------------------------------------------


def test_run_locally_prints_progress_then_the_result_and_writes_views(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fakes.knobs.external_api_failures = 2
    report = tmp_path / "out" / "api.html"
    code, out, _ = run(
        ["run", "api-call", "--input", '{"q": "status"}', "--app", APP, "--execution-id", "api-1",
         "--show", "--mermaid", "--report", str(report)],
        capsys,
    )  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("stepbridge run: 'api-call' of app 'acme' on LocalCloud (moto)")
    assert "api-call  [api-1]" in lines
    assert any("~ step call-api attempt 1 failed: ExternalAPIError: external API returned 503" in x for x in lines)
    assert any(x.startswith("  ... virtual clock +") and x.endswith("(timer)") for x in lines)  # the backoff timers
    assert any("+ step call-api after 3 attempts" in x for x in lines)
    assert any(x.startswith("    call-api") and " 3  succeeded" in x for x in lines)  # --show: the table
    assert "flowchart TD" in out and "call-api · 3 attempts" in out  # --mermaid
    result = '{"attempt":3,"echo":{"q":"status"},"ok":true}'
    assert any(x.startswith("SUCCEEDED in ") and x.endswith(result) for x in lines)
    assert f"wrote {report}" in out
    page = report.read_text()
    assert 'data-step="call-api"' in page and 'class="badge SUCCEEDED"' in page


def test_run_sends_queued_events_after_virtual_delays(capsys: pytest.CaptureFixture[str]) -> None:
    decision = {"expenseId": "exp-7", "decision": "approve"}
    code, out, _ = run(
        ["run", "expense-approval", "--app", APP, "--input", json.dumps(EXPENSE), "--execution-id", "expense-1",
         "--event", "Approval.decided+20h=" + json.dumps({**decision, "approver": EXPENSE["manager"]}),
         "--event", "Approval.decided+30h=" + json.dumps({**decision, "approver": EXPENSE["vp"]})],
        capsys,
    )  # fmt: skip
    assert code == 0, out
    assert "  ... virtual clock +20h 00m to 2026-01-06 04:00:00 UTC (--event)" in out
    assert "  +20:00:00 + step escalate" in out
    assert "  +2d02:00:00 = SUCCEEDED" in out
    assert out.rstrip().endswith('SUCCEEDED in 2d 02h: {"expenseId":"exp-7","status":"approved"}')


def test_run_lets_timeouts_happen_and_exits_1_on_failure(capsys: pytest.CaptureFixture[str]) -> None:
    document = {"id": "d-1", "title": "Spec", "type": "contract", "department": "legal"}
    code, out, _ = run(["run", "document-review", "--app", APP, "--input", json.dumps(document)], capsys)
    assert code == 1
    assert "! wait wait:Review.submitted timed out" in out and "(9d 00h of virtual time)" in out
    assert "FAILED in 9d 00h: WaitTimeout:" in out


def test_run_explains_an_execution_left_waiting(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        ["run", "expense-approval", "--app", APP, "--input", json.dumps(EXPENSE), "--max-time", "1h"], capsys
    )
    assert code == 1
    assert out.rstrip().splitlines()[-1] == (
        "RUNNING: the next timer is beyond --max-time; raise it to let more virtual time pass"
    )


def test_run_json_is_the_only_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["run", "enrich-lead", "--app", APP, "--backend", "memory", "--json", "--input",
                          json.dumps({"id": "l-1", "name": "Bob Builder", "email": "bob@builder.io",
                                      "domain": "builder.io"})], capsys)  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["execution"]["status"] == "SUCCEEDED"
    assert [s["name"] for s in doc["timeline"]["steps"]] == ["verify-email", "lookup-company", "find-social",
                                                             "merge-data"]  # fmt: skip
    assert "stepbridge run:" in err and "+ step merge-data" in err  # progress goes to stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "api-call", "--input", '{"q": '], "error: --input is not valid JSON (Expecting value at line 1"),
        (["run", "api-call", "--input", "@/nonexistent/in.json"], "error: --input: cannot read /nonexistent/in.json"),
        (["run", "no-such-flow"], "error: unknown workflow 'no-such-flow' in app 'acme'; known: ['ai-content'"),
        (["run", "api-call", "--max-time", "soon"], "error: --max-time: 'soon' is not a duration"),
        (["events", "send", "X.y", "--detail", "[1]"], "error: --detail must be a JSON object, got list"),
        (["events", "send", "X.y", "--detail", "{"], "error: --detail is not valid JSON"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run([*argv, "--app", APP], capsys)
    assert code == 2
    assert err.startswith(message), err
    assert "Traceback" not in out + err


def test_run_with_a_missing_app_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["run", "api-call"], capsys)
    assert code == 2
    assert f"error: no such app file: {tmp_path}/functions/app.py; run from the project root" in err


def test_events_send_locally_reports_what_it_started(capsys: pytest.CaptureFixture[str]) -> None:
    detail = {"orderId": "o-1", "customer": {"id": "c-1", "name": "Ann", "email": "ann@example.com"},
              "items": [{"productId": "product-1", "quantity": 2, "price": 29.99}], "total": 59.98}  # fmt: skip
    code, out, _ = run(["events", "send", "Order.created", "--detail", json.dumps(detail), "--app", APP, "--show"],
                       capsys)  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("sent Order.created (event ") and "on LocalCloud (moto), app 'acme'" in lines[0]
    assert lines[1].startswith("started fulfill-order [fulfill-order-") and "-> SUCCEEDED in 0s: " in lines[1]
    assert "fulfill-order  [fulfill-order-" in out  # --show: its table


def test_events_send_locally_reports_what_it_woke_and_state_machines(capsys: pytest.CaptureFixture[str]) -> None:
    small = {**EXPENSE, "amount": 500}
    decision = {"expenseId": "exp-7", "approver": EXPENSE["manager"], "decision": "approve"}
    code, out, _ = run(
        ["events", "send", "Approval.decided", "--detail", json.dumps(decision), "--app", APP,
         "--start", "expense-approval", "--input", json.dumps(small), "--execution-id", "exp-7", "--json"],
        capsys,
    )  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["started"] == []
    assert [(w["execution_id"], w["status"], w["result"]) for w in doc["woken"]] == [
        ("exp-7", "SUCCEEDED", {"expenseId": "exp-7", "status": "approved"})
    ]
    assert [e["type"] for e in doc["emitted"]] == ["Expense.approved", "Payment.process"]

    submitted = {"orderId": "o-9", "items": [{"productId": "product-1", "quantity": 1, "price": 5}], "total": 5}
    code, out, _ = run(["events", "send", "Order.submitted", "--detail", json.dumps(submitted), "--app", APP], capsys)
    assert code == 0
    assert "state machine order [o-9]: (new) -> pending" in out

    code, out, _ = run(["events", "send", "Nothing.listens", "--app", APP], capsys)
    assert code == 0
    assert "nothing was started or woken by it" in out


def test_events_send_waits_out_a_debounce_window(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["events", "send", "Entity.updated", "--detail", '{"entityId": "e-1", "data": {"x": 1}}',
                        "--app", APP, "--backend", "memory"], capsys)  # fmt: skip
    assert code == 0
    assert "started search-index-update [" in out and '-> SUCCEEDED in 0s: {"entityId":"e-1","indexed":true}' in out


def test_graph_prints_a_workflows_mermaid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["graph", "expense-approval", "--app", APP], capsys)
    assert code == 0
    assert out.startswith("flowchart TD") and "wait_for Approval.decided (timeout)" in out


def test_local_only_commands_need_a_stack(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["executions", "list"], ["executions", "show", "x"], ["executions", "cancel", "x"],
                 ["executions", "redrive"], ["report", "x"]):  # fmt: skip
        code, _, err = run(argv, capsys)
        assert code == 2
        assert err.startswith(f"error: `stepbridge {' '.join(argv[:2]) if argv[0] == 'executions' else 'report'}` "
                              "needs --stack NAME")  # fmt: skip
        assert "local executions live only inside the process that ran them" in err


# ---- against a stack (moto CloudFormation + the app's resources in moto) ------------------------------------


@pytest.fixture
def stack() -> Iterator[LocalCloud]:
    """The example app's resources in moto behind a CloudFormation stack named ``acme-prod``.

    The LocalCloud's clock starts at the real time, so executions started through the stack client
    (which stamps real time, as in AWS) and the ones the LocalCloud processes share one clock.
    """
    from app import app

    with LocalCloud(app, start=datetime.now(UTC).replace(microsecond=0)) as cloud:
        config = cloud.resources.config
        outputs = {
            "TableName": config.table,
            "EventBusName": config.bus,
            "WorkQueueUrl": config.queue_url,
            "WorkQueueArn": config.queue_arn,
            "TimerScheduleGroup": config.schedule_group,
            "SchedulerRoleArn": config.scheduler_role_arn,
        }
        template = {
            "Resources": {"Marker": {"Type": "AWS::SSM::Parameter",
                                     "Properties": {"Name": "/acme/marker", "Type": "String", "Value": "x"}}},
            "Outputs": {key: {"Value": value} for key, value in outputs.items()},
        }  # fmt: skip
        boto3.client("cloudformation", region_name="us-east-1").create_stack(
            StackName=STACK, TemplateBody=json.dumps(template)
        )
        yield cloud


def test_show_list_and_report_read_the_deployed_stack(
    stack: LocalCloud, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    client = stack.client()
    fakes.knobs.external_api_failures = 1
    client.start("api-call", {"q": "a"}, execution_id="api-1").result()
    client.start("expense-approval", EXPENSE, execution_id="expense-1")

    code, out, _ = run(["executions", "show", "api-1", "--stack", STACK, "--json"], capsys)
    assert code == 0
    doc = json.loads(out)
    assert doc["execution"]["status"] == "SUCCEEDED"
    (step,) = doc["timeline"]["steps"]
    assert (step["name"], step["attempts"], step["status"]) == ("call-api", 2, "succeeded")
    assert step["duration"] == pytest.approx(step["retries"][0]["delay"], abs=1e-3)
    assert doc["history"][0]["detail_type"] == "Workflow.started"

    code, out, _ = run(["executions", "show", "expense-1", "--stack", STACK], capsys)
    assert code == 0
    assert "expense-approval  [expense-1]  RUNNING" in out and "waiting" in out and "times out " in out

    code, out, _ = run(["executions", "show", "api-1", "--stack", STACK, "--mermaid"], capsys)
    assert out.startswith("flowchart TD") and 'n1["call-api · 2 attempts · ' in out

    code, out, _ = run(["executions", "list", "--stack", STACK], capsys)
    assert code == 0
    header, *rows = out.splitlines()
    assert header.split() == ["EXECUTION", "WORKFLOW", "STATUS", "CREATED", "DURATION", "PROGRESS"]
    assert {r.split()[0] for r in rows} == {"api-1", "expense-1"}
    code, out, _ = run(["executions", "list", "--stack", STACK, "--status", "running", "--json"], capsys)
    assert [d["execution_id"] for d in json.loads(out)] == ["expense-1"]
    code, out, _ = run(["executions", "list", "--stack", STACK, "--workflow", "nope"], capsys)
    assert out.strip() == "no 'nope' executions"

    report = tmp_path / "api.html"
    code, out, _ = run(["report", "api-1", "--stack", STACK, "-o", str(report)], capsys)
    assert code == 0 and out.strip() == f"wrote {report}: api-call [api-1] SUCCEEDED, 1 operations"
    assert 'data-step="call-api"' in report.read_text()


def test_executions_list_shows_state_machine_executions_only_when_asked(
    stack: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.client().send_event("Order.submitted", {"orderId": "o-77", "items": [{"sku": "a"}]})
    code, out, _ = run(["executions", "list", "--stack", STACK, "--json"], capsys)
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(["executions", "list", "--stack", STACK, "--json", "--internal"], capsys)
    assert code == 0 and [d["workflow"] for d in json.loads(out)] == ["stepbridge.sm.order"]


def test_unknown_execution_and_unknown_stack_are_clear_errors(
    stack: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["executions", "show", "nope", "--stack", STACK], capsys)
    assert (code, out, err) == (2, "", "error: no execution 'nope'\n")
    code, _, err = run(["report", "nope", "--stack", STACK], capsys)
    assert (code, err) == (2, "error: no execution 'nope'\n")
    code, _, err = run(["executions", "show", "x", "--stack", "missing-stack"], capsys)
    assert code == 2
    assert err.startswith("error: cannot read stack 'missing-stack'") and "does not exist" in err


def test_run_against_a_stack_polls_until_it_ends(stack: LocalCloud, monkeypatch: Any, capsys: Any) -> None:
    # Between polls the stack's Lambdas would process the work queue; here the LocalCloud does.
    monkeypatch.setattr(console, "sleep", lambda seconds: stack.run_until_idle())
    code, out, _ = run(["run", "api-call", "--stack", STACK, "--input", '{"q": "s"}', "--execution-id", "api-9"],
                       capsys)  # fmt: skip
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"stepbridge run: started 'api-call' as api-9 in stack '{STACK}'"
    assert "api-call  [api-9]" in lines and any("+ step call-api ->" in x for x in lines)
    assert lines[-1].startswith('SUCCEEDED in ') and lines[-1].endswith('{"attempt":1,"echo":{"q":"s"},"ok":true}')


def test_run_against_a_stack_gives_up_after_its_timeout(stack: LocalCloud, monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setattr(console, "sleep", lambda seconds: None)  # nothing processes: it stays RUNNING
    code, out, _ = run(["run", "api-call", "--stack", STACK, "--timeout", "0", "--execution-id", "api-10"], capsys)
    assert code == 1
    assert out.rstrip().endswith(
        f"RUNNING: still RUNNING after 0s; follow it with `stepbridge executions show api-10 --stack {STACK}`"
    )


def test_cancel_in_a_stack(stack: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
    client = stack.client()
    client.start("expense-approval", EXPENSE, execution_id="expense-2")
    code, out, _ = run(["executions", "cancel", "expense-2", "--stack", STACK, "--compensate"], capsys)
    assert code == 0
    assert out.strip() == (
        "cancel requested with compensation for expense-2 (now RUNNING); the orchestrator finishes it as CANCELLED"
    )
    assert stack.store.get_execution("expense-2").cancel_compensate is True
    stack.run_until_idle()  # the stack's orchestrator picks up the wake-up
    assert client.describe("expense-2").status == "CANCELLED"
    code, out, _ = run(["executions", "cancel", "expense-2", "--stack", STACK], capsys)
    assert out.strip() == "expense-2 already ended CANCELLED; nothing to cancel"


def test_redrive_moves_dead_letters_back_through_the_redrive_policy(
    stack: LocalCloud, capsys: pytest.CaptureFixture[str]
) -> None:
    client = stack.client()
    client.start("expense-approval", EXPENSE, execution_id="expense-3")
    sqs = boto3.client("sqs", region_name="us-east-1")
    body = json.dumps({"execution_id": "expense-3", "reason": "event", "dedup": "lost-1"})
    sqs.send_message(QueueUrl=stack.resources.dlq_url, MessageBody=body, MessageGroupId="expense-3")

    code, out, _ = run(["executions", "redrive", "--stack", STACK, "--dry-run"], capsys)
    assert (code, out.strip()) == (0, f"1 message(s) in the dead-letter queue {stack.resources.dlq_url} "
                                      "(dry run: nothing moved)")  # fmt: skip
    code, out, _ = run(["executions", "redrive", "--stack", STACK], capsys)
    assert code == 0
    queue_url = stack.resources.config.queue_url
    assert out.strip() == f"moved 1 message(s) from {stack.resources.dlq_url} back to {queue_url}"
    assert stack.dead_letters() == []
    assert [json.loads(r["body"])["dedup"] for r in stack.resources.receive()] == ["lost-1"]


def test_events_send_into_a_stack(stack: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["events", "send", "Order.created", "--stack", STACK, "--detail", '{"orderId": "o-5"}',
                        "--json"], capsys)  # fmt: skip
    assert code == 0
    doc = json.loads(out)
    assert doc["stack"] == STACK and doc["event"]["type"] == "Order.created" and len(doc["event"]["id"]) == 36
    code, out, _ = run(["events", "send", "Order.created", "--stack", STACK], capsys)
    assert f"to the bus of stack '{STACK}'" in out


# ---- no AWS at all ----------------------------------------------------------------------------------------


@pytest.fixture
def no_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment with no credentials and no region anywhere (and no instance metadata lookups)."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                 "AWS_WEB_IDENTITY_TOKEN_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_no_credentials_or_region_is_a_clear_message(no_aws: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["executions", "list", "--stack", STACK, "--region", "eu-west-1"], capsys)
    assert code == 2 and out == ""
    assert err.startswith(f"error: no usable AWS credentials for stack '{STACK}': configure a profile")
    code, _, err = run(["executions", "show", "x", "--stack", STACK], capsys)
    assert code == 2
    assert err.startswith(f"error: no AWS region for stack '{STACK}': pass --region")
    code, _, err = run(["executions", "redrive", "--stack", STACK, "--region", "eu-west-1"], capsys)
    assert code == 2 and "no usable AWS credentials" in err
    code, _, err = run(["events", "send", "A.b", "--stack", STACK, "--region", "eu-west-1"], capsys)
    assert code == 2 and "no usable AWS credentials" in err
    assert "Traceback" not in err
