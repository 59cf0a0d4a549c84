"""Seed "Workflow Patterns" 1-5: sequential, parallel, conditional, loop and compensating workflows.

| workflow            | seed section                                                        |
|---------------------|---------------------------------------------------------------------|
| customer-onboarding | 1. Sequential Workflows (welcome email -> account -> onboarding call) |
| enrich-lead         | 2. Parallel Workflows (three lookups at once, then merge)           |
| fulfill-order       | 3. Conditional Workflows (in stock: reserve + ship; else backorder) |
| email-campaign      | 4. Loop Workflows (a step per recipient, 100 ms between emails)     |
| process-payment     | 5. Compensating Workflows (charge fails -> release, notify, re-raise) |

Their event triggers (``Customer.registered``, ``User.*``, ``Order.created``) are wired in
``workflows_triggers.py``. Side effects happen only inside steps; the workflow bodies only
decide.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import fakes
from appdef import SUCCESS_TEAM_EMAIL, app
from models import Campaign, Customer, FulfillmentRequest, Lead, Order, PaymentRequest
from steps import charge_payment, create_shipment, send_email

from stepbridge import Context

# ---- 1. Sequential ----------------------------------------------------------------------------


@app.workflow("customer-onboarding")
async def customer_onboarding(ctx: Context, customer: Customer) -> dict[str, Any]:
    """Welcome a new customer: email, then an account, then a 30-minute onboarding call."""
    await ctx.step("welcome-email", send_email, customer.email, "welcome", {"name": customer.name})

    created_at = ctx.now().isoformat()
    account = await ctx.step(
        "create-account",
        lambda: fakes.db.insert(
            "accounts",
            {"id": f"acct-{customer.id}", "customer": customer.id, "status": "active", "createdAt": created_at},
        ),
    )

    await ctx.step(
        "schedule-call",
        lambda: fakes.calendar.schedule([customer.email, SUCCESS_TEAM_EMAIL], 30, "Welcome to Acme!"),
    )
    return {"customer": customer, "account": account}


# ---- 2. Parallel ------------------------------------------------------------------------------


@app.workflow("enrich-lead")
async def enrich_lead(ctx: Context, lead: Lead) -> dict[str, Any]:
    """Verify the email, look up the company and find social profiles concurrently, then merge.

    Company facts change slowly, so that lookup is cached for a day across executions.
    """
    email, company, social = await ctx.gather(
        ctx.step("verify-email", fakes.email.verify, lead.email),
        ctx.step("lookup-company", fakes.enrichment.lookup_company, lead.domain, cache_ttl=timedelta(days=1)),
        ctx.step("find-social", fakes.enrichment.find_social, lead.name),
    )
    return await ctx.step(
        "merge-data",
        lambda: {**lead.wire(), "emailValid": email["valid"], "company": company, "socialProfiles": social},
    )


# ---- 3. Conditional ---------------------------------------------------------------------------


@app.workflow("fulfill-order")
async def fulfill_order(ctx: Context, request: Order | FulfillmentRequest) -> dict[str, Any]:
    """Ship an order if every line is in stock, otherwise put it on backorder and tell the customer.

    Started by ``Order.created`` with an ``Order``. ``ecommerce-order`` starts it as a child with a
    ``FulfillmentRequest`` (stock already reserved, payment taken): then it only ships.
    """
    if isinstance(request, FulfillmentRequest):
        shipment = await ctx.step("create-shipment", create_shipment, request.order, request.payment.get("id"))
        return {"orderId": request.order.order_id, "status": "shipped", "shipment": shipment}

    order = request
    inventory = await ctx.step("check-inventory", fakes.inventory.check, order.items)

    if inventory["available"]:
        # In stock: process immediately.
        reservation = await ctx.step("reserve-inventory", fakes.inventory.reserve, order.items)
        shipment = await ctx.step("create-shipment", create_shipment, order)
        return {"orderId": order.order_id, "status": "shipped", "reservation": reservation, "shipment": shipment}

    # Out of stock: backorder.
    backorder = await ctx.step("create-backorder", fakes.shipping.backorder, order.order_id, order.items)
    await ctx.step(
        "notify-customer",
        send_email,
        order.customer.email,
        "backorder-notification",
        {"orderId": order.order_id, "shortages": inventory["shortages"]},
    )
    return {"orderId": order.order_id, "status": "backordered", "backorder": backorder}


# ---- 4. Loop ----------------------------------------------------------------------------------


def personalize(recipient: dict[str, Any], campaign: Campaign) -> dict[str, Any]:
    """Template data for one recipient (pure, so it may run anywhere)."""
    return {"firstName": recipient["name"].split()[0], "campaignId": campaign.id}


@app.workflow("email-campaign")
async def email_campaign(ctx: Context, campaign: Campaign) -> dict[str, Any]:
    """Email every person in the campaign's segment: one step per recipient, 100 ms apart."""
    recipients = await ctx.step("get-recipients", lambda: fakes.db.query("people", segment=campaign.segment))

    for recipient in recipients:
        await ctx.step(
            f"send-{recipient['id']}",  # step names are unique per execution: build them from the item
            send_email,
            recipient["email"],
            campaign.template,
            personalize(recipient, campaign),
        )
        await ctx.sleep(timedelta(milliseconds=100))  # rate limiting: a durable 100 ms timer

    return {"sent": len(recipients)}


# ---- 5. Compensating --------------------------------------------------------------------------


@app.workflow("process-payment")
async def process_payment(ctx: Context, request: Order | PaymentRequest) -> dict[str, Any]:
    """Reserve stock, charge, confirm; if the charge or confirmation fails, release the stock,
    notify, and fail with the original error.

    Given only a ``PaymentRequest`` (``{"orderId", "amount"}``, as ``ecommerce-order`` sends,
    having reserved stock itself) it just charges, and reports a declined card as
    ``{"success": False}`` so the parent can compensate.
    """
    if isinstance(request, PaymentRequest):
        return await _charge_only(ctx, request)

    order = request
    reservation = await ctx.step("reserve-inventory", fakes.inventory.reserve, order.items)

    try:
        payment = await ctx.step(
            "charge-payment",
            charge_payment,
            PaymentRequest(order_id=order.order_id, amount=order.total, customer_email=order.customer.email),
        )
        await ctx.step(
            "confirm-order",
            lambda: fakes.db.upsert("orders", order.order_id, status="confirmed", paymentId=payment.id),
        )
        await ctx.send("Order.confirmed", {"orderId": order.order_id, "order": order, "payment": payment})
        return {"success": True, "payment": payment}
    except Exception as error:
        # Compensate: put the stock back, tell the customer and the rest of the system.
        await ctx.step("release-inventory", fakes.inventory.release, reservation)
        await ctx.step(
            "notify-failure",
            send_email,
            order.customer.email,
            "payment-failed",
            {"orderId": order.order_id, "reason": str(error)},
        )
        await ctx.send("Order.failed", {"orderId": order.order_id, "order": order, "error": str(error)})
        raise


async def _charge_only(ctx: Context, request: PaymentRequest) -> dict[str, Any]:
    try:
        payment = await ctx.step("charge-payment", charge_payment, request)
    except fakes.PaymentDeclined as declined:
        return {"success": False, "orderId": request.order_id, "error": str(declined)}
    return {"success": True, "orderId": request.order_id, "payment": payment}
