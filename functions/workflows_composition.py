"""Seed "Workflow Composition": sub-workflows and workflow templates.

| workflow                  | seed section                                                 |
|---------------------------|--------------------------------------------------------------|
| verify-email              | Sub-workflows: reusable child                                |
| enrich-data               | Sub-workflows: reusable child                                |
| main                      | Sub-workflows: parent calling both children                  |
| invoice-approval          | Workflow Templates: ``createApprovalWorkflow('Invoice')``    |
| simple-expense-approval   | Workflow Templates: ``createApprovalWorkflow('Expense')``    |

The seed's template would name the Expense instance ``Expense-approval``, which clashes (up
to case) with the hand-written ``expense-approval`` of "Human-in-the-Loop"; the factory takes
an explicit ``name`` for that case.

An approval decision is an ``Approval.decided`` event with detail
``{"entity": "Invoice", "itemId": "inv-1", "approved": true, "approver": "..."}``. The seed
waits for *any* decision; this port matches the entity and item, so two pending approvals
cannot take each other's decisions. No decision within 24 h rejects the item.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import fakes
from appdef import app
from models import ApprovalItem, Lead

from stepbridge import Context

# ---- sub-workflows ----------------------------------------------------------------------------


@app.workflow("verify-email")
async def verify_email(ctx: Context, email: str) -> dict[str, Any]:
    """Is the address deliverable?"""
    return await ctx.step("check-mailbox", fakes.email.verify, email)


@app.workflow("enrich-data")
async def enrich_data(ctx: Context, lead: Lead) -> dict[str, Any]:
    """Company facts and social profiles for a lead, looked up in parallel."""
    company, social = await ctx.gather(
        ctx.step("lookup-company", fakes.enrichment.lookup_company, lead.domain),
        ctx.step("find-social", fakes.enrichment.find_social, lead.name),
    )
    return {"company": company, "socialProfiles": social}


@app.workflow("main")
async def main(ctx: Context, lead: Lead) -> dict[str, Any]:
    """Verify the lead's email, then enrich the lead, each in its own child workflow."""
    verification = await ctx.child(verify_email, lead.email)
    enrichment = await ctx.child(enrich_data, lead)
    return {"lead": lead, "emailValid": verification["valid"], **enrichment}


# ---- workflow templates -----------------------------------------------------------------------

#: How long an approver has before the item is rejected.
APPROVAL_TIMEOUT = timedelta(hours=24)


def create_approval_workflow(
    entity: str, *, name: str | None = None, timeout: timedelta = APPROVAL_TIMEOUT
) -> Callable[..., Any]:
    """Register and return an approval workflow for ``entity`` (``Invoice`` -> ``invoice-approval``).

    It asks the entity's approvers (``Approval.requested``), waits up to ``timeout`` for the
    matching ``Approval.decided``, then records the outcome and emits ``{entity}.approved`` or
    ``{entity}.rejected``.
    """
    workflow_name = name or f"{entity.lower()}-approval"
    table = f"{entity.lower()}s"

    async def approval(ctx: Context, item: ApprovalItem) -> dict[str, Any]:
        request = await ctx.step(
            "request-approval",
            lambda: {
                "entity": entity,
                "itemId": item.id,
                "item": item.wire(),
                "approvers": fakes.directory.approvers(entity),
            },
        )
        await ctx.send("Approval.requested", request)

        decision = await ctx.wait_for(
            "Approval.decided", match={"entity": entity, "itemId": item.id}, timeout=timeout, default=None
        )

        if decision is not None and decision.get("approved") is True:
            approver = decision.get("approver")
            await ctx.step("approve", lambda: fakes.db.upsert(table, item.id, status="approved", approver=approver))
            await ctx.send(f"{entity}.approved", item)
            return {"status": "approved", "entity": entity, "itemId": item.id, "approver": approver}

        reason = "timeout" if decision is None else "declined"
        await ctx.step("reject", lambda: fakes.db.upsert(table, item.id, status="rejected", reason=reason))
        await ctx.send(f"{entity}.rejected", {**item.wire(), "reason": reason})
        return {"status": "rejected", "entity": entity, "itemId": item.id, "reason": reason}

    approval.__name__ = approval.__qualname__ = workflow_name.replace("-", "_")
    approval.__doc__ = f"Approval of one {entity}: request, wait up to {timeout}, approve or reject."
    return app.workflow(workflow_name)(approval)


# Create specific workflows from the template.
invoice_approval = create_approval_workflow("Invoice")
simple_expense_approval = create_approval_workflow("Expense", name="simple-expense-approval")
