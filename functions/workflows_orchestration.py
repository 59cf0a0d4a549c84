"""Seed "Workflow Orchestration": a parent workflow coordinating child workflows.

| workflow          | role                                                                    |
|-------------------|-------------------------------------------------------------------------|
| ecommerce-order   | parent: starts reserve-inventory, process-payment and send-confirmation |
|                   | in parallel; releases stock and fails if payment fails; then runs       |
|                   | fulfill-order and returns its result                                    |
| reserve-inventory | child: one step per line; fails on insufficient stock                   |
| release-inventory | child: puts reserved lines back (the compensation)                      |
| send-confirmation | child: the order confirmation email (not waited for)                    |

``process-payment`` (in ``workflows_basic.py``) is the payment child: given
``{"orderId", "amount"}`` it only charges and answers ``{"success": bool}``.
``fulfill-order`` (also there) ships when given the reservation and payment.

Beyond the seed: if the stock cannot be reserved while the (concurrent) payment succeeded,
the payment is refunded before the parent fails, so no customer pays for an order that
cannot ship.
"""

from __future__ import annotations

from typing import Any

import fakes
from appdef import app
from models import Order, OrderItem, PaymentRequest, Reservation
from steps import send_email

from stepbridge import Context
from stepbridge.errors import ChildFailed


class PaymentFailed(Exception):
    """The order's payment did not go through (the parent's failure)."""


@app.workflow("ecommerce-order")
async def ecommerce_order(ctx: Context, order: Order) -> dict[str, Any]:
    """Reserve, charge and confirm concurrently (child workflows), then fulfil."""
    inventory_reservation, payment_processing, _customer_notification = await ctx.gather(
        ctx.start_child("reserve-inventory", order.items),
        ctx.start_child("process-payment", PaymentRequest(order_id=order.order_id, amount=order.total)),
        ctx.start_child("send-confirmation", {"email": order.customer.email, "orderId": order.order_id}),
    )

    # Wait for the critical children (the confirmation email is fire-and-forget).
    try:
        inventory_result = await inventory_reservation.result()
    except ChildFailed:
        payment = await _payment_outcome(payment_processing)
        if payment.get("success"):
            await ctx.step(
                "refund-payment", fakes.payments.refund, payment["payment"]["id"], "items out of stock"
            )
        raise

    payment_result = await _payment_outcome(payment_processing)
    if not payment_result.get("success"):
        # Cancel the inventory reservation, then fail.
        await ctx.child("release-inventory", inventory_result)
        raise PaymentFailed(f"Payment failed: {payment_result.get('error', 'unknown error')}")

    # Start the fulfilment workflow and return its result.
    fulfillment = await ctx.start_child(
        "fulfill-order", {"order": order, "inventory": inventory_result, "payment": payment_result["payment"]}
    )
    return await fulfillment.result()


async def _payment_outcome(handle: Any) -> dict[str, Any]:
    """The payment child's answer; a crashed payment child counts as a failed payment."""
    try:
        return await handle.result()
    except ChildFailed as failed:
        return {"success": False, "error": failed.error.get("message", str(failed))}


@app.workflow("reserve-inventory")
async def reserve_inventory(ctx: Context, items: list[OrderItem]) -> list[Reservation]:
    """Reserve each line in its own step; ``InsufficientInventory`` (not retried) fails the workflow."""
    reservations = []
    for item in items:
        reserved_at = ctx.now().isoformat()
        reservation = await ctx.step(
            f"reserve-{item.product_id}",
            fakes.inventory.reserve_item,
            item.product_id,
            item.quantity,
            reserved_at,
        )
        reservations.append(Reservation.model_validate(reservation))
    return reservations


@app.workflow("release-inventory")
async def release_inventory(ctx: Context, reservations: list[Reservation]) -> dict[str, Any]:
    """Give reserved lines back to the shelf."""
    for r in reservations:
        await ctx.step(
            f"release-{r.product_id}",
            fakes.inventory.release,
            [{"productId": r.product_id, "quantity": r.quantity}],
        )
    return {"released": [r.product_id for r in reservations]}


@app.workflow("send-confirmation")
async def send_confirmation(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Email the order confirmation."""
    return await ctx.step(
        "send-email", send_email, request["email"], "order-confirmation", {"orderId": request["orderId"]}
    )
