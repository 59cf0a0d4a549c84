"""The seed's approval and review processes as human tasks (``ctx.task``), beside the event-based ones.

| workflow               | what changes against workflows_human.py                                        |
|------------------------|--------------------------------------------------------------------------------|
| expense-approval-tasks | the manager (then, over 1000, the VP) answers a task in their inbox; reminders  |
|                        | every business day; an unanswered manager task escalates to the VP after 2      |
|                        | business days (the manager keeps access); due in 2 business days (SLA event)    |
| document-review-tasks  | one task per reviewer, in parallel; a reminder after 5 business days, then the  |
|                        | task escalates to the department's reviews lead after 2 more business days      |

People answer in the inbox (``client.complete_task`` or ``POST /tasks/{id}/complete`` as themselves);
who answered, when, and every reminder and escalation are in the task's audit trail and the history.
Deadlines count on ``ACME_CALENDAR`` (Berlin office hours, public holidays): a task created on Friday
afternoon is reminded on Monday, and 24-26 December are not working days.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import fakes
from appdef import app
from models import Document, Expense
from pydantic import BaseModel
from steps import send_email

from stepbridge import BusinessDays, Calendar, Context

#: The company's working calendar (holidays: a few 2026/2027 German public holidays).
ACME_CALENDAR = Calendar(
    "Europe/Berlin",
    workdays="mon-fri",
    hours=[("09:00", "12:30"), ("13:30", "17:30")],
    holidays=[date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26), date(2027, 1, 1), date(2026, 10, 3)],
)
VP_THRESHOLD = 1000
#: Who takes over an unanswered review.
REVIEWS_LEAD = "reviews-lead@acme.example"


class ExpenseDecision(BaseModel):
    """What an approver fills in besides approve/reject."""

    approved_amount: float | None = None
    note: str = ""


class ReviewForm(BaseModel):
    """A reviewer's comments."""

    comments: str = ""


@app.workflow("expense-approval-tasks")
async def expense_approval_tasks(ctx: Context, expense: Expense) -> dict[str, Any]:
    """Manager task, then a VP task above 1000; a rejection at either level rejects the expense."""
    await ctx.step("submit", lambda: fakes.db.upsert("expenses", expense.id, status="submitted", **expense.wire()))
    await ctx.send(
        "Expense.submitted", {"expenseId": expense.id, "amount": expense.amount, "submittedBy": expense.employee}
    )
    manager = await ctx.task(
        "manager-approval", assignees=[expense.manager], form=ExpenseDecision, decisions=["approve", "reject"],
        title=f"Approve expense {expense.id}: {expense.amount:.2f} for {expense.employee}", data=expense.wire(),
        calendar=ACME_CALENDAR, due=BusinessDays(2), remind_every=BusinessDays(1),
        escalate_after=BusinessDays(2), escalate_to=[expense.vp],
    )
    if manager.decision == "reject":
        return await _reject(ctx, expense, "reject", by=manager.by, note=manager.data.note)
    if expense.amount > VP_THRESHOLD and manager.by != expense.vp:
        await ctx.step("escalate", lambda: fakes.db.upsert("expenses", expense.id, status="escalated"))
        vp = await ctx.task(
            "vp-approval", assignees=[expense.vp], form=ExpenseDecision, decisions=["approve", "reject"],
            title=f"VP approval of expense {expense.id}: {expense.amount:.2f}",
            data={**expense.wire(), "managerNote": manager.data.note}, calendar=ACME_CALENDAR,
            due=BusinessDays(2), remind_every=BusinessDays(1),
        )
        if vp.decision == "reject":
            return await _reject(ctx, expense, "reject-final", by=vp.by, note=vp.data.note)
    await ctx.step("approve", lambda: fakes.db.upsert("expenses", expense.id, status="approved"))
    await ctx.send("Expense.approved", {"expenseId": expense.id})
    await ctx.send(
        "Payment.process", {"recipient": expense.employee, "amount": expense.amount, "expenseId": expense.id}
    )
    return {"status": "approved", "expenseId": expense.id, "approvedBy": manager.by}


async def _reject(ctx: Context, expense: Expense, step: str, *, by: str, note: str) -> dict[str, Any]:
    await ctx.step(step, lambda: fakes.db.upsert("expenses", expense.id, status="rejected", rejectedBy=by))
    await ctx.send("Expense.rejected", {"expenseId": expense.id, "by": by, "reason": note or "rejected"})
    return {"status": "rejected", "expenseId": expense.id, "by": by}


@app.workflow("document-review-tasks")
async def document_review_tasks(ctx: Context, document: Document) -> dict[str, Any]:
    """One review task per reviewer in parallel (reminder, wait again, escalate), then the verdict."""
    reviewers = await ctx.step("assign-reviewers", fakes.directory.reviewers, document.type, document.department)
    await ctx.gather(*[
        ctx.step(f"request-review-{r['id']}", send_email, r["email"], "review-request",
                 {"documentId": document.id, "title": document.title})
        for r in reviewers
    ])
    outcomes = await ctx.gather(*[
        ctx.task(
            f"review-{r['id']}", assignees=[r["email"]], form=ReviewForm,
            decisions=["approved", "changes-requested", "rejected"], title=f"Review {document.title}",
            data={"documentId": document.id, "reviewerId": r["id"]}, calendar=ACME_CALENDAR,
            remind_every=BusinessDays(5), escalate_after=BusinessDays(7), escalate_to=[REVIEWS_LEAD],
        )
        for r in reviewers
    ])
    reviews = [
        {"reviewerId": r["id"], "status": o.decision, "comments": o.data.comments, "by": o.by}
        for r, o in zip(reviewers, outcomes, strict=True)
    ]
    verdict = "rejected" if any(v["status"] == "rejected" for v in reviews) else (
        "needs_changes" if any(v["status"] == "changes-requested" for v in reviews) else "approved")
    await ctx.step("record-verdict", lambda: fakes.db.upsert("documents", document.id, status=verdict))
    await ctx.send(f"Document.{verdict}", {"documentId": document.id, "reviews": reviews})
    return {"documentId": document.id, "status": verdict, "reviews": reviews}
