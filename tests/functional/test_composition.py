"""Seed "Workflow Composition": sub-workflows and the approval template (functions/workflows_composition.py)."""

from __future__ import annotations

from datetime import timedelta

import fakes
from example_data import LEAD, emitted, executions, only


def test_main_runs_verify_email_and_enrich_data_as_children(cloud, client):
    h = client.start("main", LEAD)

    result = h.result()

    assert result["emailValid"] is True
    assert result["company"]["domain"] == "builder.io"
    assert len(result["socialProfiles"]) == 2
    verify = only(executions(client, "verify-email"))
    enrich = only(executions(client, "enrich-data"))
    assert verify.parent_id == h.execution_id
    assert enrich.parent_id == h.execution_id
    assert verify.input == "bob@builder.io"
    assert verify.status == enrich.status == "SUCCEEDED"


def test_main_reports_an_invalid_email_from_its_child(cloud, client):
    fakes.knobs.invalid_emails.add("bob@builder.io")

    assert client.start("main", LEAD).result()["emailValid"] is False


INVOICE = {"id": "inv-1", "amount": 420.0, "description": "Cloud bill", "vendor": "AWS"}


def _decide(client, entity, item_id, approved, approver="cfo@acme.example"):
    detail = {"entity": entity, "itemId": item_id, "approved": approved, "approver": approver}
    client.send_event("Approval.decided", detail)


def test_invoice_approval_asks_the_approvers_and_waits(cloud, client):
    h = client.start("invoice-approval", INVOICE)

    assert client.describe(h.execution_id).status == "RUNNING"
    request = only(emitted(cloud, "Approval.requested"))
    assert request["entity"] == "Invoice"
    assert request["itemId"] == "inv-1"
    assert request["approvers"] == ["finance@acme.example"]
    assert request["item"]["vendor"] == "AWS"  # extra fields travel with the item


def test_invoice_approval_approved(cloud, client):
    h = client.start("invoice-approval", INVOICE)
    cloud.advance(timedelta(hours=3))

    _decide(client, "Invoice", "inv-1", True)

    assert client.describe(h.execution_id).status == "SUCCEEDED"
    assert h.result() == {"status": "approved", "entity": "Invoice", "itemId": "inv-1", "approver": "cfo@acme.example"}
    assert only(emitted(cloud, "Invoice.approved"))["id"] == "inv-1"
    assert fakes.db.get("invoices", "inv-1")["status"] == "approved"


def test_invoice_approval_ignores_decisions_about_other_items(cloud, client):
    h = client.start("invoice-approval", INVOICE)

    _decide(client, "Invoice", "inv-2", True)
    _decide(client, "Expense", "inv-1", True)

    assert client.describe(h.execution_id).status == "RUNNING"
    assert emitted(cloud, "Invoice.approved") == []


def test_invoice_approval_declined(cloud, client):
    h = client.start("invoice-approval", INVOICE)

    _decide(client, "Invoice", "inv-1", False)

    assert h.result()["status"] == "rejected"
    assert h.result()["reason"] == "declined"
    assert only(emitted(cloud, "Invoice.rejected"))["reason"] == "declined"
    assert fakes.db.get("invoices", "inv-1")["status"] == "rejected"


def test_invoice_approval_times_out_after_24_hours(cloud, client):
    h = client.start("invoice-approval", INVOICE)

    cloud.advance(timedelta(hours=23))
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud.advance(timedelta(hours=2))

    assert client.describe(h.execution_id).status == "SUCCEEDED"
    assert h.result()["reason"] == "timeout"
    assert only(emitted(cloud, "Invoice.rejected"))["reason"] == "timeout"


def test_the_template_makes_an_expense_instance_too(cloud, client):
    h = client.start("simple-expense-approval", {"id": "exp-9", "amount": 30})
    assert only(emitted(cloud, "Approval.requested"))["approvers"] == ["controller@acme.example"]

    _decide(client, "Expense", "exp-9", True)

    assert h.result()["status"] == "approved"
    assert only(emitted(cloud, "Expense.approved"))["id"] == "exp-9"
    assert fakes.db.get("expenses", "exp-9")["status"] == "approved"
