"""Seed "Workflow State": durable execution and workflow variables.

| workflow         | seed section                                                          |
|------------------|-----------------------------------------------------------------------|
| long-running     | Durable Execution: process -> upload -> notify; a crash after step 1  |
|                  | resumes at step 2 and step 1 is not run again                         |
| order-processing | Workflow Variables: inventory / payment / shipment kept across steps  |

Every completed step is journaled in DynamoDB. When an invocation ends (a crash, a retry
wait, a timer), the next one replays the workflow from the top and gets completed steps'
results from the journal without running them: plain local variables are all the "workflow
state" you need.
"""

from __future__ import annotations

from typing import Any

import fakes
from appdef import app
from models import Dataset, Order, PaymentRequest
from steps import charge_payment, create_shipment, process_dataset, send_email, upload_results

from stepbridge import Context


@app.workflow("long-running")
async def long_running(ctx: Context, dataset: Dataset) -> dict[str, Any]:
    """Process a dataset, upload the result, notify. A failed upload is retried durably;
    ``process`` already ran and is never repeated."""
    # Both run for minutes, so they are declared steps with their own Lambda timeouts (an inline
    # step runs inside the orchestrator, whose invocation must stay short).
    processed = await ctx.step("process", process_dataset, dataset.id, dataset.records)

    uploaded = await ctx.step("upload", upload_results, f"{dataset.id}/result.json", processed)

    await ctx.step("notify", send_email, dataset.notify, "dataset-ready", {"result": uploaded})
    return {"processed": processed, "uploaded": uploaded}


@app.workflow("order-processing")
async def order_processing(ctx: Context, order: Order) -> dict[str, Any]:
    """Check stock; if available, charge and ship. If shipping fails after the charge, refund."""
    # Workflow-scoped variables: ordinary locals, rebuilt from the journal on every replay.
    payment: Any = None
    shipment: Any = None

    inventory = await ctx.step("check-inventory", fakes.inventory.check, order.items)

    if inventory["available"]:
        async with ctx.saga() as saga:
            payment = await ctx.step(
                "process-payment",
                charge_payment,
                PaymentRequest(order_id=order.order_id, amount=order.total, customer_email=order.customer.email),
            )
            saga.compensate(fakes.payments.refund, payment.id, "shipment failed", name="refund-payment")
            shipment = await ctx.step("create-shipment", create_shipment, order, payment.id)

    return {"inventory": inventory, "payment": payment, "shipment": shipment}
