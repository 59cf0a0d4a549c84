"""Issue 15 part 2 on LocalCloud (moto): the ``ctx.task`` expense approval and document review over
virtual business days (Christmas holidays and a weekend), answered through the real HTTP API handler
as IAM principals and JWT subjects; and the inbox's security cases (docs/RELIABILITY.md catalogue)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import fakes
import pytest
from app import app

from stepbridge.local import LocalCloud

#: Wednesday 23 December 2026, 10:00 in Berlin; the 24th-26th are holidays, then a weekend.
WED_23_DEC = datetime(2026, 12, 23, 9, tzinfo=UTC)
MIA = "mia.manager@acme.example"
MIA_ARN = f"arn:aws:sts::123456789012:assumed-role/Approvers/{MIA}"  # session name = the assignee
VICTOR = "victor.vp@acme.example"
VICTOR_JWT = f"jwt:{VICTOR}"  # a JWT whose subject is the assignee
EVE_ARN = "arn:aws:iam::123456789012:user/eve@acme.example"
MAX = "max.manager@acme.example"


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    fakes.reset()
    with LocalCloud(app, start=WED_23_DEC) as c:
        yield c
    fakes.reset()


def expense(amount: float, expense_id: str = "exp-1", manager: str = MIA) -> dict[str, Any]:
    return {"id": expense_id, "amount": amount, "employee": "eve@acme.example", "manager": manager, "vp": VICTOR}


def task_events(cloud: LocalCloud, kind: str) -> list[Any]:
    return [e for e in cloud.events if e.detail_type == kind]


def inbox(cloud: LocalCloud, caller: str, status: str = "open") -> list[dict[str, Any]]:
    r = cloud.http("GET", "/tasks", query={"status": status}, caller=caller)
    assert r.status_code == 200, r.text
    return list(r.json()["tasks"])


def test_expense_tasks_over_christmas_and_a_weekend_through_the_http_api(cloud: LocalCloud) -> None:
    client = cloud.client()
    handle = client.start("expense-approval-tasks", expense(2500))
    [task] = inbox(cloud, MIA_ARN)
    assert task["title"].startswith("Approve expense exp-1: 2500.00")
    # a business day after Wednesday 10:00 is Monday 28 Dec 10:00 CET (24-26 holidays, 27 Sunday)
    cloud.advance_to(datetime(2026, 12, 28, 8, 59, tzinfo=UTC))
    assert task_events(cloud, "Task.reminder") == []
    cloud.advance(timedelta(minutes=1))
    assert len(task_events(cloud, "Task.reminder")) == 1
    # two business days: Tuesday 29 Dec 10:00 CET -> escalated to the VP and past due
    cloud.advance_to(datetime(2026, 12, 29, 9, tzinfo=UTC))
    assert [e.detail["escalated_to"] for e in task_events(cloud, "Task.escalated")] == [[VICTOR]]
    assert len(task_events(cloud, "Task.sla_breached")) == 1
    assert [t["task_id"] for t in inbox(cloud, VICTOR_JWT)] == [task["task_id"]]
    # the manager keeps access: claims and approves as herself (her IAM session)
    assert cloud.http("POST", f"/tasks/{task['task_id']}/claim", caller=MIA_ARN).json()["claimed_by"] == MIA
    r = cloud.http("POST", f"/tasks/{task['task_id']}/complete", caller=MIA_ARN,
                   body={"decision": "approve", "data": {"note": "conference"}, "comment": "fine"})
    assert r.status_code == 200 and r.json()["status"] == "completed"
    # over 1000: the VP's own task appears; the VP approves with a JWT
    [vp_task] = inbox(cloud, VICTOR_JWT)
    assert vp_task["name"] == "vp-approval"
    r = cloud.http("POST", f"/tasks/{vp_task['task_id']}/complete", caller=VICTOR_JWT,
                   body={"decision": "approve", "data": {"approved_amount": 2500}})
    assert r.status_code == 200, r.text
    assert handle.result() == {"status": "approved", "expenseId": "exp-1", "approvedBy": MIA}
    detail = cloud.http("GET", f"/tasks/{task['task_id']}", caller=MIA_ARN).json()
    # Tuesday 10:00 CET: due, escalation and the second reminder at one instant, in that order
    assert [a["action"] for a in detail["audit"]] == ["created", "reminded", "sla_breached", "escalated", "reminded",
                                                      "claimed", "completed"]
    assert detail["audit"][-1]["identity"] == MIA_ARN and detail["audit"][-1]["by"] == MIA
    assert detail["outcome"]["escalated"] is True and detail["outcome"]["by"] == MIA
    assert fakes.db.get("expenses", "exp-1")["status"] == "approved"


def test_document_review_tasks_remind_wait_again_and_escalate(cloud: LocalCloud) -> None:
    client = cloud.client()
    doc = {"id": "doc-1", "title": "Supplier contract", "type": "contract", "department": "legal"}
    handle = client.start("document-review-tasks", doc)
    legal = client.tasks("legal@acme.example")
    cfo = client.tasks("cfo@acme.example")
    assert len(legal) == 1 and len(cfo) == 1
    client.complete_task(cfo[0]["task_id"], by="cfo@acme.example", decision="approved", data={"comments": "ok"})
    # 5 business days after Wed 23 Dec 10:00: Mon 4 Jan 2027 (24-26 Dec, 1 Jan and two weekends don't count)
    cloud.advance_to(datetime(2027, 1, 4, 8, 59, tzinfo=UTC))
    assert task_events(cloud, "Task.reminder") == []
    cloud.advance(timedelta(minutes=1))
    reminders = task_events(cloud, "Task.reminder")
    assert [e.detail["assignees"] for e in reminders] == [["legal@acme.example"]]
    # 7 business days: Wed 6 Jan 2027 10:00 CET -> escalated to the reviews lead, who answers
    cloud.advance_to(datetime(2027, 1, 6, 8, 59, tzinfo=UTC))
    assert task_events(cloud, "Task.escalated") == []
    cloud.advance(timedelta(minutes=1))
    assert len(task_events(cloud, "Task.escalated")) == 1
    [lead_task] = client.tasks("reviews-lead@acme.example")
    client.complete_task(lead_task["task_id"], by="reviews-lead@acme.example", decision="changes-requested",
                         data={"comments": "clause 4"})
    result = handle.result()
    assert result["status"] == "needs_changes"
    assert [(r["reviewerId"], r["by"]) for r in result["reviews"]] == [
        ("r-legal", "reviews-lead@acme.example"), ("r-cfo", "cfo@acme.example")]


# ---- security cases (docs/RELIABILITY.md, "Human task inbox") ------------------------------------------


def _manager_task(cloud: LocalCloud, expense_id: str = "exp-1", manager: str = MIA) -> tuple[Any, str]:
    handle = cloud.client().start("expense-approval-tasks", expense(300, expense_id, manager), execution_id=expense_id)
    [task] = cloud.client().tasks(manager)
    return handle, str(task["task_id"])


def _unchanged(cloud: LocalCloud, task_id: str, version: int) -> None:
    task = cloud.client().task(task_id)
    assert (task.status, task.version, task.outcome) == ("open", version, None)


def test_security_wrong_assignee_gets_403_and_nothing_changes(cloud: LocalCloud) -> None:
    handle, task_id = _manager_task(cloud)
    version = cloud.client().task(task_id).version
    for action, body in (("complete", {"decision": "approve"}), ("claim", None), ("release", None),
                         ("reassign", {"to": ["eve@acme.example"]})):
        r = cloud.http("POST", f"/tasks/{task_id}/{action}", caller=EVE_ARN, body=body)
        assert (r.status_code, r.json()["error"]) == (403, "forbidden"), action
    assert cloud.http("GET", f"/tasks/{task_id}", caller=EVE_ARN).status_code == 403
    _unchanged(cloud, task_id, version)
    assert handle.status == "RUNNING" and task_events(cloud, "Task.completed") == []


def test_security_identity_forged_in_the_body_is_refused(cloud: LocalCloud) -> None:
    handle, task_id = _manager_task(cloud)
    version = cloud.client().task(task_id).version
    r = cloud.http("POST", f"/tasks/{task_id}/complete", caller=EVE_ARN,
                   body={"decision": "approve", "by": MIA, "data": {}})
    assert (r.status_code, r.json()["error"]) == (400, "identity_in_body")
    r = cloud.http("POST", f"/tasks/{task_id}/complete", body={"decision": "approve", "by": MIA})  # no identity
    assert r.status_code in (400, 401)
    r = cloud.http("POST", f"/tasks/{task_id}/complete", body={"decision": "approve"})
    assert (r.status_code, r.json()["error"]) == (401, "unauthenticated")
    # an IAM user in another account whose name is the assignee's is still that name: accepted by the rule,
    # but the request would never pass API Gateway's IAM auth of this account (docs/API.md); here: the own
    # listing rule - nobody lists another person's inbox
    r = cloud.http("GET", "/tasks", query={"assignee": MIA}, caller=EVE_ARN)
    assert r.status_code == 403
    _unchanged(cloud, task_id, version)
    assert handle.status == "RUNNING"


def test_security_completing_twice_gets_409(cloud: LocalCloud) -> None:
    handle, task_id = _manager_task(cloud)
    first = cloud.http("POST", f"/tasks/{task_id}/complete", caller=MIA_ARN, body={"decision": "reject"})
    assert first.status_code == 200
    again = cloud.http("POST", f"/tasks/{task_id}/complete", caller=MIA_ARN, body={"decision": "approve"})
    assert (again.status_code, again.json()["error"]) == (409, "conflict")
    assert handle.result()["status"] == "rejected"
    assert cloud.client().task(task_id).outcome["decision"] == "reject"
    assert len(task_events(cloud, "Task.completed")) == 1


def test_security_a_task_of_another_execution_cannot_be_touched_through_a_forged_id(cloud: LocalCloud) -> None:
    mine, my_task = _manager_task(cloud, "exp-1", MIA)
    other, other_task = _manager_task(cloud, "exp-2", MAX)
    version = cloud.client().task(other_task).version
    r = cloud.http("POST", f"/tasks/{other_task}/complete", caller=MIA_ARN, body={"decision": "approve"})
    assert r.status_code == 403
    assert cloud.http("GET", f"/tasks/{other_task}", caller=MIA_ARN).status_code == 403
    for forged in ("exp-2%2Fmanager-approval", "exp-2", "tk-" + "0" * 32, my_task[:-1] + "x"):
        r = cloud.http("POST", f"/tasks/{forged}/complete", caller=MIA_ARN, body={"decision": "approve"})
        assert (r.status_code, r.json()["error"]) == (404, "task_not_found"), forged
    _unchanged(cloud, other_task, version)
    assert other.status == "RUNNING" and mine.status == "RUNNING"
    assert [t["task_id"] for t in inbox(cloud, MIA_ARN)] == [my_task]


def test_expense_tasks_on_the_memory_backend_reject_after_a_weekend() -> None:
    """The same workflow on the memory backend: created Friday 16:00, reminded Monday (not Saturday),
    rejected by the manager on Monday; nothing is paid."""
    fakes.reset()
    friday_16_cet = datetime(2027, 1, 8, 15, tzinfo=UTC)
    with LocalCloud(app, backend="memory", start=friday_16_cet) as cloud:
        client = cloud.client()
        handle = client.start("expense-approval-tasks", expense(400, "exp-9"))
        [task] = client.tasks(MIA)
        cloud.advance_to(datetime(2027, 1, 11, 14, 59, tzinfo=UTC))  # Monday 15:59 CET
        assert task_events(cloud, "Task.reminder") == []
        cloud.advance(timedelta(minutes=1))  # one business day after Friday 16:00
        [reminder] = task_events(cloud, "Task.reminder")
        assert reminder.time.startswith("2027-01-11T15:00:00")
        client.complete_task(task["task_id"], by=MIA, decision="reject", data={"note": "no receipt"})
        assert handle.result() == {"status": "rejected", "expenseId": "exp-9", "by": MIA}
        assert [e.detail for e in task_events(cloud, "Expense.rejected")] == [
            {"expenseId": "exp-9", "by": MIA, "reason": "no receipt"}]
        assert task_events(cloud, "Payment.process") == []
    fakes.reset()


def test_security_a_forged_task_completed_event_does_not_complete_the_task(cloud: LocalCloud) -> None:
    handle, task_id = _manager_task(cloud)
    version = cloud.client().task(task_id).version
    forged = {"task_id": task_id, "outcome": {"decision": "approve", "by": MIA}}
    r = cloud.http("POST", "/events", caller=EVE_ARN, body={"type": "Task.completed", "detail": forged,
                                                           "source": "stepbridge.tasks"})
    assert r.status_code == 400  # no API caller may use a stepbridge source
    r = cloud.http("POST", "/events", caller=EVE_ARN, body={"type": "Task.completed", "detail": forged})
    assert r.status_code == 202  # published as stepbridge.api: the task's wait accepts only stepbridge.tasks
    cloud.advance(timedelta(hours=1))
    _unchanged(cloud, task_id, version)
    assert handle.status == "RUNNING"


def test_cancelling_over_http_cancels_the_open_task(cloud: LocalCloud) -> None:
    handle, task_id = _manager_task(cloud)
    assert cloud.http("POST", f"/executions/{handle.execution_id}/cancel", caller=EVE_ARN).status_code == 200
    assert handle.status == "CANCELLED"
    assert [e.detail["task_id"] for e in task_events(cloud, "Task.cancelled")] == [task_id]
    assert inbox(cloud, MIA_ARN) == [] and cloud.client().task(task_id).status == "cancelled"
    r = cloud.http("POST", f"/tasks/{task_id}/complete", caller=MIA_ARN, body={"decision": "approve"})
    assert (r.status_code, r.json()["error"]) == (409, "conflict")
    cloud.advance(timedelta(days=5))
    assert task_events(cloud, "Task.reminder") == []
