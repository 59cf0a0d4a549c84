"""The tutorial's application: the seed's expense approval, built from nothing (docs/TUTORIAL.md).

In your own project this file is ``functions/expense.py`` (the SAM ``CodeUri``); here it lives
in ``docs/tutorial_app/`` and ``tests/unit/test_docs_examples.py`` runs it, so the tutorial
cannot drift from the code.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field

from stepbridge import App, Context, Retry, step_context

app = App("tutorial")

APPROVAL_WAIT = timedelta(hours=48)
VP_THRESHOLD = 1000


# ---- models ----------------------------------------------------------------------------------


class Expense(BaseModel):
    """An expense claim: who spent how much, and who approves it."""

    id: str
    amount: float = Field(ge=0)
    employee: str
    manager: str
    vp: str
    description: str = ""


class Payment(BaseModel):
    """A reimbursement sent to the employee."""

    payment_id: str
    recipient: str
    amount: float


# ---- a declared step: its own Lambda function --------------------------------------------------


@app.step(timeout=30, memory=256, retry=Retry(max_attempts=3, backoff="exponential", initial_delay=1.0))
def reimburse(expense: Expense) -> Payment:
    """Pay the employee. The idempotency key is the same on every attempt, so a retried
    attempt cannot pay twice (pass it to your payment provider)."""
    key = step_context().idempotency_key  # "{execution_id}:pay"
    return Payment(payment_id=f"pay-{key}", recipient=expense.employee, amount=expense.amount)


# ---- the workflow ------------------------------------------------------------------------------


@app.workflow("expense-approval")
async def expense_approval(ctx: Context, expense: Expense) -> dict[str, Any]:
    """Manager approval within 48 h; above 1000 also the VP's within 48 h; then reimburse."""
    await ctx.send(
        "Expense.submitted", {"expenseId": expense.id, "amount": expense.amount, "submittedBy": expense.employee}
    )

    manager = await ctx.wait_for(
        "Approval.decided",
        match={"expenseId": expense.id, "approver": expense.manager},
        timeout=APPROVAL_WAIT,
        default=None,  # None after 48 h instead of raising WaitTimeout
    )
    if manager is None or manager.get("decision") != "approve":
        return await reject(ctx, expense, by=expense.manager, timed_out=manager is None)

    if expense.amount > VP_THRESHOLD:
        await ctx.send("Approval.requested", {"expenseId": expense.id, "approver": expense.vp})
        vp = await ctx.wait_for(
            "Approval.decided",
            match={"expenseId": expense.id, "approver": expense.vp},
            timeout=APPROVAL_WAIT,
            default=None,
        )
        if vp is None or vp.get("decision") != "approve":
            return await reject(ctx, expense, by=expense.vp, timed_out=vp is None)

    payment = await ctx.step("pay", reimburse, expense)
    await ctx.send("Expense.approved", {"expenseId": expense.id, "paymentId": payment.payment_id})
    return {"status": "approved", "expenseId": expense.id, "paymentId": payment.payment_id}


async def reject(ctx: Context, expense: Expense, *, by: str, timed_out: bool) -> dict[str, Any]:
    """Tell everyone the expense was rejected (or that nobody decided in time)."""
    reason = "no decision within 48 hours" if timed_out else "rejected"
    await ctx.send("Expense.rejected", {"expenseId": expense.id, "by": by, "reason": reason})
    return {"status": "rejected", "expenseId": expense.id, "by": by, "reason": reason}


# ---- trigger: an Expense.created event on the app's bus starts the workflow ---------------------

app.on("Expense.created", expense_approval)
