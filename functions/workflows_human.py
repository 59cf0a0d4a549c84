"""Seed "Human-in-the-Loop Workflows": approval and review processes that wait days for people.

| workflow         | seed section                                                                 |
|------------------|------------------------------------------------------------------------------|
| expense-approval | Approval Workflows: manager (48 h), then the VP over 1000 (48 h), then pay   |
| document-review  | Review Workflows: parallel review requests, 7 days per reviewer, a reminder, |
|                  | 2 more days, then approved / needs_changes / rejected                        |

People answer with events: ``Approval.decided`` ``{"expenseId", "approver", "decision":
"approve"|"reject"}`` and ``Review.submitted`` ``{"documentId", "reviewerId", "status":
"approved"|"changes-requested"|"rejected", "comments"?}``. While waiting, nothing runs and
nothing is billed; the wait is a DynamoDB item and a Scheduler timer.

A review that arrives while the workflow is still waiting for an earlier reviewer is not
lost: ``wait_for`` looks back at events received since the execution started.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import fakes
from appdef import app
from models import Document, Expense
from steps import send_email

from stepbridge import Context, WaitTimeout

APPROVAL_WAIT = timedelta(hours=48)
VP_THRESHOLD = 1000
REVIEW_WAIT = timedelta(days=7)
REMINDER_WAIT = timedelta(days=2)


# ---- approvals --------------------------------------------------------------------------------


@app.workflow("expense-approval")
async def expense_approval(ctx: Context, expense: Expense) -> dict[str, Any]:
    """Manager approval (48 h); above 1000 also VP approval (48 h); then reimburse.

    A rejection or silence at either level rejects the expense.
    """
    await ctx.step("submit", lambda: fakes.db.upsert("expenses", expense.id, status="submitted", **expense.wire()))
    await ctx.send(
        "Expense.submitted", {"expenseId": expense.id, "amount": expense.amount, "submittedBy": expense.employee}
    )

    # Wait for the manager's decision (None after 48 h).
    manager_approval = await ctx.wait_for(
        "Approval.decided",
        match={"expenseId": expense.id},
        where=lambda ev: ev.get("approver") == expense.manager,
        timeout=APPROVAL_WAIT,
        default=None,
    )
    if manager_approval is None or manager_approval.get("decision") == "reject":
        return await _reject(ctx, expense, "reject", by=expense.manager, timed_out=manager_approval is None)

    # For amounts over 1000, require VP approval.
    if expense.amount > VP_THRESHOLD:
        await ctx.step("escalate", lambda: fakes.db.upsert("expenses", expense.id, status="escalated"))
        await ctx.send("Approval.requested", {"expenseId": expense.id, "approver": expense.vp})

        vp_approval = await ctx.wait_for(
            "Approval.decided",
            match={"expenseId": expense.id},
            where=lambda ev: ev.get("approver") == expense.vp,
            timeout=APPROVAL_WAIT,
            default=None,
        )
        if vp_approval is None or vp_approval.get("decision") == "reject":
            return await _reject(ctx, expense, "reject-final", by=expense.vp, timed_out=vp_approval is None)

    # Process payment.
    await ctx.step("approve", lambda: fakes.db.upsert("expenses", expense.id, status="approved"))
    await ctx.send("Expense.approved", {"expenseId": expense.id})
    await ctx.send(
        "Payment.process", {"recipient": expense.employee, "amount": expense.amount, "expenseId": expense.id}
    )
    return {"status": "approved", "expenseId": expense.id}


async def _reject(ctx: Context, expense: Expense, step: str, *, by: str, timed_out: bool) -> dict[str, Any]:
    reason = "no decision within 48 hours" if timed_out else "rejected"
    await ctx.step(
        step, lambda: fakes.db.upsert("expenses", expense.id, status="rejected", rejectedBy=by, reason=reason)
    )
    await ctx.send("Expense.rejected", {"expenseId": expense.id, "by": by, "reason": reason})
    return {"status": "rejected", "expenseId": expense.id, "by": by, "reason": reason}


# ---- reviews ----------------------------------------------------------------------------------


@app.workflow("document-review")
async def document_review(ctx: Context, document: Document) -> dict[str, Any]:
    """Ask every reviewer at once, collect their reviews (reminding after 7 days, giving up
    after 2 more with ``WaitTimeout``), then publish the verdict."""
    reviewers = await ctx.step("assign-reviewers", fakes.directory.reviewers, document.type, document.department)

    # Request reviews in parallel.
    await ctx.gather(
        *[
            ctx.step(
                f"request-review-{reviewer['id']}",
                send_email,
                reviewer["email"],
                "review-request",
                {"documentId": document.id, "title": document.title},
            )
            for reviewer in reviewers
        ]
    )
    for reviewer in reviewers:
        await ctx.send("Review.requested", {"documentId": document.id, "reviewerId": reviewer["id"]})

    # Wait for all reviews (with timeout).
    reviews = []
    for reviewer in reviewers:
        match = {"documentId": document.id, "reviewerId": reviewer["id"]}
        try:
            review = await ctx.wait_for("Review.submitted", match=match, timeout=REVIEW_WAIT)
        except WaitTimeout:
            # Send a reminder, then wait again with a shorter timeout (WaitTimeout fails the review).
            await ctx.step(
                f"remind-{reviewer['id']}",
                send_email,
                reviewer["email"],
                "review-reminder",
                {"document": document.wire()},
            )
            review = await ctx.wait_for("Review.submitted", match=match, timeout=REMINDER_WAIT)
        reviews.append(review)

    # Aggregate feedback.
    verdict = await ctx.step("aggregate-feedback", aggregate, reviews)
    await ctx.step("record-verdict", lambda: fakes.db.upsert("documents", document.id, status=verdict))
    await ctx.send(f"Document.{verdict}", {"documentId": document.id, "reviews": reviews})
    return {"documentId": document.id, "status": verdict, "reviews": reviews}


def aggregate(reviews: list[dict[str, Any]]) -> str:
    """Any rejection rejects; otherwise any change request needs changes; otherwise approved."""
    statuses = [r.get("status") for r in reviews]
    if "rejected" in statuses:
        return "rejected"
    if "changes-requested" in statuses:
        return "needs_changes"
    return "approved"
