"""Seed "Workflow Triggers": event, schedule, manual (API) and webhook triggers.

| trigger                                   | starts                | seed                    |
|-------------------------------------------|-----------------------|-------------------------|
| ``Customer.registered``                   | customer-onboarding   | 1. Sequential (trigger) |
| ``User.registered`` / ``User.verified``   | customer-onboarding   | Event Triggers          |
| ``Order.created``                         | fulfill-order         | Event Triggers          |
| ``POST /workflows/process-refund/executions`` | process-refund    | Manual Triggers         |
| ``POST /webhooks/stripe`` (Stripe-signed) | payment-succeeded     | Webhook Triggers        |

Schedule triggers (``every.Daily.at('09:00')``) are in ``workflows_scheduling.py`` with the
other scheduled workflows.

Manual triggers need no code: every workflow is startable through the app's HTTP API,
``POST /workflows/{name}/executions`` with ``{"input": {"orderId": "o-1"}, "wait": 10}`` (at most 25 s)
returns ``{"execution_id", "status", "result"}`` (the seed's ``app.post('/api/workflows/...')``).
"""

from __future__ import annotations

from typing import Any

import fakes
from appdef import app
from models import RefundRequest
from workflows_basic import customer_onboarding, fulfill_order

from stepbridge import Context

# ---- event triggers -----------------------------------------------------------------------------

app.on("Customer.registered", customer_onboarding)
app.on(["User.registered", "User.verified"], customer_onboarding)
app.on("Order.created", fulfill_order)


# ---- manual trigger (HTTP API) ------------------------------------------------------------------


@app.workflow("process-refund")
async def process_refund(ctx: Context, request: RefundRequest) -> dict[str, Any]:
    """Refund an order's payment (started by hand through the HTTP API)."""
    payment = await ctx.step("find-payment", fakes.payments.for_order, request.order_id)
    if payment is None:
        return {"refunded": False, "orderId": request.order_id, "reason": "no payment for this order"}
    refund = await ctx.step("refund-payment", fakes.payments.refund, payment["id"], request.reason)
    await ctx.step("update-order", lambda: fakes.db.upsert("orders", request.order_id, status="refunded"))
    await ctx.send(
        "Order.refunded", {"orderId": request.order_id, "refundId": refund["id"], "amount": refund["amount"]}
    )
    return {"refunded": True, "orderId": request.order_id, "refund": refund}


# ---- webhook trigger --------------------------------------------------------------------------


@app.workflow("payment-succeeded")
async def payment_succeeded(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """A Stripe ``payment_intent.succeeded`` webhook: record the payment, mark the order paid.

    The input is the Stripe event's ``data`` (``{"object": <PaymentIntent>}``); the Stripe event
    id is the execution id, so a redelivered webhook starts nothing new.
    """
    intent = data["object"]
    payment = await ctx.step("record-payment", fakes.payments.record_external, intent)
    order_id = payment.get("orderId")
    if order_id:
        await ctx.step(
            "mark-order-paid", lambda: fakes.db.upsert("orders", order_id, status="paid", paymentId=payment["id"])
        )
    await ctx.send("Payment.succeeded", {"orderId": order_id, "paymentId": payment["id"], "amount": payment["amount"]})
    return payment


app.webhook(
    "/webhooks/stripe",
    provider="stripe",
    secret_param="/acme/stripe-webhook-secret",
    route={"payment_intent.succeeded": payment_succeeded},
)
