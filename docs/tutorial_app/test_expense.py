"""Tests of the tutorial's expense approval (docs/TUTORIAL.md, step 3).

In your project this is ``tests/test_expense.py`` and ``pyproject.toml`` names the app::

    [tool.pytest.ini_options]
    stepbridge_app = "functions/expense.py:app"

The ``cloud`` fixture (from the stepbridge pytest plugin) is a fresh LocalCloud per test.
"""

from __future__ import annotations

from datetime import timedelta

MANAGER, VP = "mia@example.com", "victor@example.com"


def claim(amount: float) -> dict:
    return {"id": "exp-1", "amount": amount, "employee": "eve@example.com", "manager": MANAGER, "vp": VP}


def decide(client, approver: str, decision: str) -> None:
    client.send_event("Approval.decided", {"expenseId": "exp-1", "approver": approver, "decision": decision})


def test_small_expense_needs_only_the_manager(cloud):
    client = cloud.client()
    h = client.start("expense-approval", claim(400), execution_id="exp-1")
    assert h.status == "RUNNING"  # waiting for the manager: no Lambda runs meanwhile

    decide(client, MANAGER, "approve")

    assert h.result() == {"status": "approved", "expenseId": "exp-1", "paymentId": "pay-exp-1:pay"}
    sent = [e.detail_type for e in cloud.events if e.detail_type.startswith("Expense.")]
    assert sent == ["Expense.submitted", "Expense.approved"]


def test_large_expense_also_needs_the_vp(cloud):
    client = cloud.client()
    h = client.start("expense-approval", claim(2500), execution_id="exp-1")

    decide(client, MANAGER, "approve")
    assert h.status == "RUNNING"
    assert [e.detail for e in cloud.events if e.detail_type == "Approval.requested"] == [
        {"expenseId": "exp-1", "approver": VP}
    ]

    cloud.advance(timedelta(hours=30))  # the VP takes their time
    decide(client, VP, "approve")
    assert h.result()["status"] == "approved"


def test_silence_rejects_after_48_hours(cloud):
    client = cloud.client()
    h = client.start("expense-approval", claim(400), execution_id="exp-1")

    cloud.advance(timedelta(hours=47))
    assert h.status == "RUNNING"
    cloud.advance(timedelta(hours=2))  # 49 h in total: the 48 h timeout has fired

    assert client.describe(h.execution_id).status == "SUCCEEDED"
    assert h.result() == {
        "status": "rejected", "expenseId": "exp-1", "by": MANAGER, "reason": "no decision within 48 hours"
    }


def test_an_event_starts_it(cloud):
    client = cloud.client()
    client.send_event("Expense.created", claim(50))

    [execution] = client.list(workflow="expense-approval")
    assert execution.status == "RUNNING"
    assert execution.input["id"] == "exp-1"


def test_the_http_api_starts_it(cloud):
    r = cloud.http("POST", "/workflows/expense-approval/executions",
                   body={"input": claim(50), "execution_id": "exp-1"})
    assert r.status_code == 202
    assert r.json() == {"execution_id": "exp-1", "status": "RUNNING"}

    r = cloud.http("POST", "/events", body={"type": "Approval.decided",
                                            "detail": {"expenseId": "exp-1", "approver": MANAGER,
                                                       "decision": "approve"}})
    assert r.status_code == 202
    assert cloud.http("GET", "/executions/exp-1").json()["status"] == "SUCCEEDED"
