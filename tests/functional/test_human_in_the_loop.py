"""Seed "Human-in-the-Loop Workflows": expense approval and document review (functions/workflows_human.py)."""

from __future__ import annotations

from datetime import timedelta

import fakes
import pytest
from example_data import emitted, only, step_names

from stepbridge.errors import ExecutionFailedError

MANAGER, VP = "mia.manager@acme.example", "victor.vp@acme.example"


def expense(amount: float, expense_id: str = "exp-1") -> dict:
    return {"id": expense_id, "amount": amount, "employee": "eve@acme.example", "manager": MANAGER, "vp": VP,
            "description": "Conference travel"}


def decide(client, approver: str, decision: str, expense_id: str = "exp-1") -> None:
    client.send_event("Approval.decided", {"expenseId": expense_id, "approver": approver, "decision": decision})


# ---- expense approval -----------------------------------------------------------------------


def test_small_expense_needs_only_the_manager(cloud, client):
    h = client.start("expense-approval", expense(400))
    assert client.describe(h.execution_id).status == "RUNNING"
    submitted = only(emitted(cloud, "Expense.submitted"))
    assert submitted == {"expenseId": "exp-1", "amount": 400.0, "submittedBy": "eve@acme.example"}

    cloud.advance(timedelta(hours=5))
    decide(client, MANAGER, "approve")

    assert client.describe(h.execution_id).status == "SUCCEEDED"
    assert h.result() == {"status": "approved", "expenseId": "exp-1"}
    assert emitted(cloud, "Approval.requested") == []  # no VP step
    assert only(emitted(cloud, "Expense.approved")) == {"expenseId": "exp-1"}
    payment = only(emitted(cloud, "Payment.process"))
    assert payment == {"recipient": "eve@acme.example", "amount": 400.0, "expenseId": "exp-1"}
    assert fakes.db.get("expenses", "exp-1")["status"] == "approved"


def test_large_expense_goes_to_the_vp_after_the_manager(cloud, client):
    h = client.start("expense-approval", expense(2500))

    decide(client, MANAGER, "approve")

    assert client.describe(h.execution_id).status == "RUNNING"
    assert only(emitted(cloud, "Approval.requested")) == {"expenseId": "exp-1", "approver": VP}
    assert fakes.db.get("expenses", "exp-1")["status"] == "escalated"
    assert emitted(cloud, "Expense.approved") == []

    cloud.advance(timedelta(hours=30))
    decide(client, VP, "approve")

    assert h.result()["status"] == "approved"
    assert {"submit", "escalate", "approve"} <= set(step_names(client, h.execution_id))


def test_manager_rejection_rejects(cloud, client):
    h = client.start("expense-approval", expense(2500))

    decide(client, MANAGER, "reject")

    result = h.result()
    assert result["status"] == "rejected"
    assert result["by"] == MANAGER
    assert only(emitted(cloud, "Expense.rejected"))["expenseId"] == "exp-1"
    assert emitted(cloud, "Approval.requested") == []
    assert "reject" in step_names(client, h.execution_id)


def test_vp_rejection_rejects(cloud, client):
    h = client.start("expense-approval", expense(2500))
    decide(client, MANAGER, "approve")

    decide(client, VP, "reject")

    assert h.result()["by"] == VP
    assert "reject-final" in step_names(client, h.execution_id)
    assert emitted(cloud, "Payment.process") == []


def test_no_manager_decision_in_48_hours_rejects(cloud, client):
    h = client.start("expense-approval", expense(400))

    cloud.advance(timedelta(hours=47))
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud.advance(timedelta(hours=2))  # 49 hours in

    assert client.describe(h.execution_id).status == "SUCCEEDED"
    assert h.result() == {
        "status": "rejected", "expenseId": "exp-1", "by": MANAGER, "reason": "no decision within 48 hours",
    }
    assert fakes.db.get("expenses", "exp-1")["status"] == "rejected"


def test_no_vp_decision_in_48_hours_rejects(cloud, client):
    h = client.start("expense-approval", expense(2500))
    cloud.advance(timedelta(hours=40))
    decide(client, MANAGER, "approve")

    cloud.advance(timedelta(hours=47))  # the VP's 48 hours started with the escalation
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud.advance(timedelta(hours=2))

    assert h.result()["by"] == VP
    assert h.result()["reason"] == "no decision within 48 hours"


def test_decisions_by_others_or_about_other_expenses_are_ignored(cloud, client):
    h = client.start("expense-approval", expense(400))

    decide(client, "intern@acme.example", "approve")
    decide(client, MANAGER, "approve", expense_id="exp-2")

    assert client.describe(h.execution_id).status == "RUNNING"


def test_a_vp_decision_that_arrives_first_is_kept_for_later(cloud, client):
    h = client.start("expense-approval", expense(2500))

    decide(client, VP, "approve")  # early: the workflow is still waiting for the manager
    assert client.describe(h.execution_id).status == "RUNNING"
    decide(client, MANAGER, "approve")

    assert h.result()["status"] == "approved"


# ---- document review ------------------------------------------------------------------------

CONTRACT = {"id": "doc-1", "title": "Master services agreement", "type": "contract", "department": "legal"}


def review(client, reviewer: str, status: str, document_id: str = "doc-1") -> None:
    client.send_event("Review.submitted", {"documentId": document_id, "reviewerId": reviewer, "status": status})


def test_document_review_requests_all_reviews_in_parallel(cloud, client):
    h = client.start("document-review", CONTRACT)

    assert client.describe(h.execution_id).status == "RUNNING"
    assert {e["to"] for e in fakes.world.emails_with("review-request")} == {"legal@acme.example", "cfo@acme.example"}
    assert [r["reviewerId"] for r in emitted(cloud, "Review.requested")] == ["r-legal", "r-cfo"]


@pytest.mark.parametrize(
    ("legal", "cfo", "verdict"),
    [
        ("approved", "approved", "approved"),
        ("approved", "changes-requested", "needs_changes"),
        ("rejected", "changes-requested", "rejected"),
    ],
)
def test_document_review_aggregates_the_reviews(cloud, client, legal, cfo, verdict):
    h = client.start("document-review", CONTRACT)

    review(client, "r-legal", legal)
    review(client, "r-cfo", cfo)

    result = h.result()
    assert result["status"] == verdict
    assert [r["status"] for r in result["reviews"]] == [legal, cfo]
    event = only(emitted(cloud, f"Document.{verdict}"))
    assert event["documentId"] == "doc-1"
    assert len(event["reviews"]) == 2
    assert fakes.db.get("documents", "doc-1")["status"] == verdict


def test_reviews_arriving_out_of_order_are_not_lost(cloud, client):
    h = client.start("document-review", CONTRACT)

    review(client, "r-cfo", "approved")  # the workflow is waiting for r-legal first
    cloud.advance(timedelta(days=1))
    review(client, "r-legal", "approved")

    assert h.result()["status"] == "approved"


def test_reviews_of_other_documents_do_not_count(cloud, client):
    h = client.start("document-review", CONTRACT)

    review(client, "r-legal", "approved", document_id="doc-2")
    review(client, "r-cfo", "approved", document_id="doc-2")

    assert client.describe(h.execution_id).status == "RUNNING"


def test_a_late_reviewer_is_reminded_after_7_days_then_given_2_more(cloud, client):
    h = client.start("document-review", CONTRACT)
    review(client, "r-legal", "approved")

    cloud.advance(timedelta(days=6, hours=23))
    assert fakes.world.emails_with("review-reminder") == []
    cloud.advance(timedelta(hours=2))

    reminder = only(fakes.world.emails_with("review-reminder"))
    assert reminder["to"] == "cfo@acme.example"
    assert reminder["data"]["document"]["id"] == "doc-1"
    assert client.describe(h.execution_id).status == "RUNNING"

    cloud.advance(timedelta(days=1))
    review(client, "r-cfo", "approved")

    assert h.result()["status"] == "approved"
    assert "remind-r-cfo" in step_names(client, h.execution_id)


def test_a_reviewer_silent_for_9_days_fails_the_review(cloud, client):
    h = client.start("document-review", CONTRACT)

    cloud.advance(timedelta(days=9, hours=1))

    assert client.describe(h.execution_id).status == "FAILED"
    assert client.describe(h.execution_id).error["type"].endswith("WaitTimeout")
    assert only(fakes.world.emails_with("review-reminder"))["to"] == "legal@acme.example"
    with pytest.raises(ExecutionFailedError):
        h.result()
