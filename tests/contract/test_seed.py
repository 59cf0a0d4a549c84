"""Seed patterns expressed in Python."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel

from stepbridge import App, ChildFailed, Context, WaitTimeout
from stepbridge.errors import ExecutionFailedError
from stepbridge.local import LocalCloud


class Person(BaseModel):
    email: str


def expense_app():
    app = App("hr")

    @app.workflow("expense-approval")
    async def expense_approval(ctx: Context, expense: dict) -> dict:
        await ctx.step("submit", lambda: None)
        await ctx.send(
            "Expense.submitted",
            {"expenseId": expense["id"], "amount": expense["amount"], "submittedBy": expense["employee"]},
        )
        mgr = await ctx.wait_for(
            "Approval.decided",
            match={"expenseId": expense["id"], "approver": expense["manager"]},
            timeout=timedelta(hours=48),
            default=None,
        )
        if not mgr or mgr["decision"] == "reject":
            await ctx.send("Expense.rejected", {"expenseId": expense["id"]}, name="reject")
            return {"status": "rejected"}
        if expense["amount"] > 1000:
            await ctx.send("Approval.requested", {"expenseId": expense["id"], "approver": expense["vp"]})
            vp = await ctx.wait_for(
                "Approval.decided",
                where=lambda ev: ev["expenseId"] == expense["id"] and ev["approver"] == expense["vp"],
                timeout=timedelta(hours=48),
                default=None,
            )
            if not vp or vp["decision"] == "reject":
                await ctx.send("Expense.rejected", {"expenseId": expense["id"]}, name="reject-final")
                return {"status": "rejected"}
        await ctx.send("Expense.approved", {"expenseId": expense["id"]})
        await ctx.send("Payment.process", {"recipient": expense["employee"], "amount": expense["amount"]})
        return {"status": "approved"}

    return app


EXP = {"id": "e1", "amount": 2500, "employee": "emp", "manager": "mgr", "vp": "vp"}


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_expense_two_level_approval(backend):
    with LocalCloud(expense_app(), backend=backend) as cloud:
        c = cloud.client()
        h = c.start("expense-approval", EXP)
        cloud.advance(timedelta(hours=20))
        c.send_event("Approval.decided", {"expenseId": "e1", "approver": "mgr", "decision": "approve"})
        assert h.status == "RUNNING"
        cloud.advance(timedelta(hours=30))
        c.send_event("Approval.decided", {"expenseId": "e1", "approver": "vp", "decision": "approve"})
        assert h.result() == {"status": "approved"}
        types = [e.detail_type for e in cloud.events]
        assert "Expense.approved" in types and "Payment.process" in types


def test_expense_manager_timeout_rejects():
    with LocalCloud(expense_app(), backend="memory") as cloud:
        c = cloud.client()
        h = c.start("expense-approval", EXP)
        cloud.advance(timedelta(hours=48))
        assert h.result() == {"status": "rejected"}


def test_expense_vp_event_arrives_early_lookback():
    with LocalCloud(expense_app(), backend="memory") as cloud:
        c = cloud.client()
        h = c.start("expense-approval", EXP)
        c.send_event("Approval.decided", {"expenseId": "e1", "approver": "vp", "decision": "approve"})
        c.send_event("Approval.decided", {"expenseId": "e1", "approver": "mgr", "decision": "approve"})
        assert h.result() == {"status": "approved"}


def review_app():
    app = App("docs")

    @app.workflow("document-review")
    async def review(ctx: Context, document: dict) -> list:
        reviewers = await ctx.step("assign-reviewers", lambda: [{"id": "r1", "email": "a"}, {"id": "r2", "email": "b"}])
        await ctx.gather(*(ctx.step(f"request-review-{r['id']}", lambda: None) for r in reviewers))
        reviews = []
        for r in reviewers:
            try:
                rv = await ctx.wait_for(
                    "Review.submitted",
                    match={"documentId": document["id"], "reviewerId": r["id"]},
                    timeout=timedelta(days=7),
                )
            except WaitTimeout:
                await ctx.step(f"remind-{r['id']}", lambda: None)
                rv = await ctx.wait_for(
                    "Review.submitted",
                    match={"documentId": document["id"], "reviewerId": r["id"]},
                    timeout=timedelta(days=2),
                )
            reviews.append(rv)
        approved = sum(1 for x in reviews if x["status"] == "approved")
        await ctx.send(
            "Document.approved" if approved == len(reviews) else "Document.rejected", {"documentId": document["id"]}
        )
        return [x["status"] for x in reviews]

    return app


def test_document_review_second_reviewer_answers_first():
    with LocalCloud(review_app(), backend="memory") as cloud:
        c = cloud.client()
        h = c.start("document-review", {"id": "d1"})
        c.send_event("Review.submitted", {"documentId": "d1", "reviewerId": "r2", "status": "approved"})
        cloud.advance(timedelta(days=1))
        c.send_event("Review.submitted", {"documentId": "d1", "reviewerId": "r1", "status": "approved"})
        assert h.result() == ["approved", "approved"]


def test_document_review_reminder_path():
    with LocalCloud(review_app(), backend="memory") as cloud:
        c = cloud.client()
        h = c.start("document-review", {"id": "d1"})
        cloud.advance(timedelta(days=7, seconds=1))
        c.send_event("Review.submitted", {"documentId": "d1", "reviewerId": "r1", "status": "approved"})
        c.send_event("Review.submitted", {"documentId": "d1", "reviewerId": "r2", "status": "rejected"})
        assert h.result() == ["approved", "rejected"]
        hist = [e.detail.get("name") for e in c.history(h.execution_id) if e.detail_type == "Step.completed"]
        assert "remind-r1" in hist


def test_document_review_final_timeout_fails():
    with LocalCloud(review_app(), backend="memory") as cloud:
        c = cloud.client()
        h = c.start("document-review", {"id": "d1"})
        cloud.advance(timedelta(days=10))
        assert c.describe(h.execution_id).status == "FAILED"


def test_approval_template_factory():
    app = App("tpl")

    def create_approval_workflow(entity: str):
        async def wf(ctx: Context, item: dict) -> str:
            await ctx.step("request-approval", lambda: {"entity": entity, "item": item})
            decision = await ctx.wait_for("Approval.decided", match={"entity": entity}, timeout=timedelta(hours=24))
            if decision["approved"]:
                await ctx.send(f"{entity}.approved", item, name="approve")
                return "approved"
            await ctx.send(f"{entity}.rejected", item, name="reject")
            return "rejected"

        wf.__name__ = f"{entity.lower()}_approval"
        return app.workflow(f"{entity}-approval")(wf)

    create_approval_workflow("Invoice")
    create_approval_workflow("Expense")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h1 = c.start("Invoice-approval", {"n": 1})
        h2 = c.start("Expense-approval", {"n": 2})
        c.send_event("Approval.decided", {"entity": "Invoice", "approved": True})
        c.send_event("Approval.decided", {"entity": "Expense", "approved": False})
        assert h1.result() == "approved" and h2.result() == "rejected"
        assert {e.detail_type for e in cloud.events} >= {"Invoice.approved", "Expense.rejected"}


def test_subworkflows_main():
    app = App("sub")

    @app.workflow("verify-email")
    async def verify_email(ctx: Context, email: str) -> bool:
        return await ctx.step("check", lambda: "@" in email)

    @app.workflow("enrich-data")
    async def enrich_data(ctx: Context, data: dict) -> dict:
        return {**data, "enriched": True}

    @app.workflow("main")
    async def main(ctx: Context, lead: dict) -> dict:
        ok = await ctx.child(verify_email, lead["email"], name="verify")
        enriched = await ctx.child("enrich-data", lead, name="enrich")
        return {"ok": ok, "enriched": enriched}

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("main", {"email": "a@b"})
        assert h.result() == {"ok": True, "enriched": {"email": "a@b", "enriched": True}}
        kids = c.list(workflow="verify-email")
        assert kids[0].parent_id == h.execution_id


def test_ecommerce_order_payment_failed():
    app = App("eco")

    @app.workflow("reserve-inventory")
    async def ri(ctx: Context, items: list) -> list:
        return [i["productId"] for i in items]

    @app.workflow("process-payment")
    async def pp(ctx: Context, p: dict) -> dict:
        return {"success": p["amount"] < 100}

    @app.workflow("send-confirmation")
    async def sc(ctx: Context, p: dict) -> None:
        return None

    @app.workflow("release-inventory")
    async def rel(ctx: Context, items: list) -> str:
        return "released"

    @app.workflow("fulfill-order")
    async def fo(ctx: Context, p: dict) -> dict:
        return {"shipped": True}

    @app.workflow("ecommerce-order")
    async def eo(ctx: Context, order: dict) -> dict:
        inv, pay, _ = await ctx.gather(
            ctx.start_child("reserve-inventory", order["items"]),
            ctx.start_child("process-payment", {"orderId": order["id"], "amount": order["total"]}),
            ctx.start_child("send-confirmation", {"email": "x", "orderId": order["id"]}),
        )
        inventory_result = await inv.result()
        payment_result = await pay.result()
        if not payment_result["success"]:
            await ctx.start_child("release-inventory", inv.data)
            raise RuntimeError("Payment failed")
        f = await ctx.start_child(
            "fulfill-order", {"order": order, "inventory": inventory_result, "payment": payment_result}
        )
        return await f.result()

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        ok = c.start("ecommerce-order", {"id": "o1", "items": [{"productId": "p"}], "total": 5})
        assert ok.result() == {"shipped": True}
        bad = c.start("ecommerce-order", {"id": "o2", "items": [{"productId": "p"}], "total": 500})
        with pytest.raises(ExecutionFailedError) as ei:
            bad.result()
        assert "Payment failed" in str(ei.value.error)
        cloud.run_until_idle()
        rels = c.list(workflow="release-inventory")
        assert len(rels) == 1 and rels[0].input == [{"productId": "p"}]


def test_child_failure_raises_childfailed():
    app = App("cf")

    @app.workflow("reserve-inventory")
    async def ri(ctx: Context, items: list) -> list:
        for it in items:
            await ctx.step(
                f"reserve-{it['productId']}",
                lambda: (_ for _ in ()).throw(RuntimeError("Insufficient inventory")),
                retry=None,
            )
        return []

    @app.workflow("par")
    async def par(ctx: Context) -> str:
        h = await ctx.start_child("reserve-inventory", [{"productId": "p1"}])
        try:
            await h.result()
        except ChildFailed as e:
            return "child failed: " + e.status
        return "no"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("par").result() == "child failed: FAILED"


def test_conditional_and_variables():
    app = App("cond")

    @app.workflow("order-processing")
    async def op(ctx: Context, order: dict) -> dict:
        inventory = await ctx.step("check-inventory", lambda: {"available": order["stock"] > 0})
        payment = shipment = None
        if inventory["available"]:
            payment = await ctx.step("process-payment", lambda: {"id": "p"})
            shipment = await ctx.step("create-shipment", lambda: {"id": "s"})
        else:
            await ctx.step("create-backorder", lambda: None)
        return {"inventory": inventory, "payment": payment, "shipment": shipment}

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        assert c.start("order-processing", {"stock": 1}).result()["shipment"] == {"id": "s"}
        assert c.start("order-processing", {"stock": 0}).result() == {
            "inventory": {"available": False},
            "payment": None,
            "shipment": None,
        }


def test_resilient_fallback():
    app = App("res")

    def risky():
        raise ValueError("risky failed")

    @app.workflow("resilient")
    async def resilient(ctx: Context, data: dict) -> str:
        try:
            await ctx.step("risky-operation", risky)
        except ValueError as exc:
            message = str(exc)
            await ctx.step("log-error", lambda: message)
            return await ctx.step("fallback", lambda: "fallback")
        return "no"

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("resilient", {})
        assert h.result() == "fallback"


def test_workflow_no_input():
    app = App("ni")

    @app.workflow("daily-report")
    async def dr(ctx: Context) -> None:
        await ctx.send("Report.generated", {"stats": 1})

    with LocalCloud(app, backend="memory") as cloud:
        cloud.client().start("daily-report").result()
        assert [e.detail_type for e in cloud.events] == ["Report.generated"]


def test_pydantic_input_validation_fails_execution():
    app = App("pv")

    @app.workflow("customer-onboarding")
    async def co(ctx: Context, customer: Person) -> dict:
        account = await ctx.step(
            "create-account",
            lambda: {"customer": customer.email, "status": "active", "createdAt": ctx.now().isoformat()},
        )
        return {"customer": customer, "account": account}

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        r = c.start("customer-onboarding", {"email": "a@b"}).result()
        assert r["customer"] == {"email": "a@b"} and r["account"]["status"] == "active"
        h = c.start("customer-onboarding", {"nope": 1})
        assert c.describe(h.execution_id).status == "FAILED"


def test_step_inside_step_subworkflow_seed_literal():
    """Seed: $.step('verify', () => verifyEmailWorkflow.execute(lead.email)) -- in Python, child via ctx.child.

    The seed names the step that runs the sub-workflow ('verify', 'enrich'); ``ctx.child(..., name=)`` gives the
    child operation that name, so the parent's history shows it as the seed's step does, each child runs once,
    and its result is what the named operation returns."""
    app = App("sub-literal")
    runs: list[str] = []

    @app.workflow("verify-email")
    async def verify_email(ctx: Context, email: str) -> bool:
        return await ctx.step("check", lambda: runs.append(email) or "@" in email)

    @app.workflow("enrich-data")
    async def enrich_data(ctx: Context, data: dict) -> dict:
        return await ctx.step("merge", lambda: runs.append("enrich") or {**data, "enriched": True})

    @app.workflow("main")
    async def main(ctx: Context, lead: dict) -> dict:
        verified = await ctx.child(verify_email, lead["email"], name="verify")
        await ctx.sleep(timedelta(minutes=1))  # a replay after the children finished must not rerun them
        enriched = await ctx.child(enrich_data, lead, name="enrich")
        return {"verified": verified, "enriched": enriched}

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("main", {"email": "a@b"})
        assert h.result() == {"verified": True, "enriched": {"email": "a@b", "enriched": True}}
        assert runs == ["a@b", "enrich"]  # each child ran once, although the parent replayed after the sleep
        done = [e.detail for e in c.history(h.execution_id) if e.detail_type == "Child.completed"]
        assert [(d["name"], d["result"]) for d in done] == [
            ("verify", True),
            ("enrich", {"email": "a@b", "enriched": True}),
        ]
        assert len(c.list(workflow="verify-email")) == 1 and len(c.list(workflow="enrich-data")) == 1
