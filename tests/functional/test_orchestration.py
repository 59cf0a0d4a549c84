"""Seed "Workflow Orchestration" (functions/workflows_orchestration.py), and the seed's "Workflow
Testing" examples, which describe this order lifecycle."""

from __future__ import annotations

import fakes
import pytest
from example_data import executions, only, order

from stepbridge.errors import ExecutionFailedError


def test_full_order_lifecycle(cloud, client):
    """The seed's integration test: inventory, payment, shipment and email all check out."""
    h = client.start("ecommerce-order", order())

    result = h.result()

    assert result["status"] == "shipped"
    assert fakes.inventory.level("product-1") == 8  # 10 - 2
    assert fakes.inventory.level("product-2") == 4
    payment = only(fakes.world.payments)
    assert payment["orderId"] == "o-1"
    assert payment["status"] == "succeeded"
    assert payment["amount"] == 109.97
    shipment = only(fakes.world.shipments)
    assert shipment["orderId"] == "o-1"
    assert shipment["status"] == "pending"
    assert shipment["paymentId"] == payment["id"]
    email = only(fakes.world.emails)
    assert email["to"] == "ann@example.com"
    assert email["template"] == "order-confirmation"


def test_children_are_started_and_linked_to_the_parent(cloud, client):
    h = client.start("ecommerce-order", order())
    h.result()

    for workflow in ("reserve-inventory", "process-payment", "send-confirmation", "fulfill-order"):
        child = only(executions(client, workflow))
        assert child.parent_id == h.execution_id, workflow
        assert child.status == "SUCCEEDED", workflow
    reservations = only(executions(client, "reserve-inventory")).result
    assert [(r["productId"], r["quantity"]) for r in reservations] == [("product-1", 2), ("product-2", 1)]
    payment_input = only(executions(client, "process-payment")).input
    assert payment_input == {"orderId": "o-1", "amount": 109.97, "customerEmail": None}


def test_declined_payment_releases_the_reservation_and_fails(cloud, client):
    """The seed's "should handle payment failure"."""
    fakes.knobs.decline_payments = True
    h = client.start("ecommerce-order", order())

    with pytest.raises(ExecutionFailedError) as failure:
        h.result()

    assert "Payment failed" in failure.value.error["message"]
    release = only(executions(client, "release-inventory"))
    assert release.status == "SUCCEEDED"
    assert release.parent_id == h.execution_id
    assert fakes.inventory.level("product-1") == 10
    assert fakes.inventory.level("product-2") == 5
    assert fakes.world.shipments == []
    assert executions(client, "fulfill-order") == []


def test_transient_payment_failure_is_retried(cloud, client):
    """The seed's "should retry on transient failures"."""
    fakes.knobs.payment_gateway_failures = 1
    h = client.start("ecommerce-order", order())

    assert h.result()["status"] == "shipped"
    assert fakes.world.calls["payments.charge"] == 2


def test_insufficient_inventory_fails_the_order_and_refunds(cloud, client):
    h = client.start("ecommerce-order", order(lines=[("product-1", 1, 29.99), ("product-3", 1, 120.0)]))

    with pytest.raises(ExecutionFailedError):
        h.result()

    reserve = only(executions(client, "reserve-inventory"))
    assert reserve.status == "FAILED"
    assert reserve.error["type"].endswith("InsufficientInventory")
    assert reserve.error["message"] == "Insufficient inventory for Limited Edition Print"
    assert client.describe(h.execution_id).error["type"].endswith("ChildFailed")
    refund = only(fakes.world.refunds)  # the payment ran concurrently and went through: give it back
    assert refund["orderId"] == "o-1"
    assert fakes.world.shipments == []


def test_reserve_inventory_reserves_each_line(cloud, client):
    items = [{"productId": "product-1", "quantity": 3}, {"productId": "product-2", "quantity": 5}]

    reservations = client.start("reserve-inventory", items).result()

    assert [(r["productId"], r["quantity"]) for r in reservations] == [("product-1", 3), ("product-2", 5)]
    assert reservations[0]["reservedAt"].startswith(cloud.now().date().isoformat())
    assert fakes.inventory.level("product-2") == 0


def test_reserve_inventory_stops_at_the_first_short_line(cloud, client):
    items = [{"productId": "product-2", "quantity": 6}, {"productId": "product-1", "quantity": 1}]
    h = client.start("reserve-inventory", items)

    with pytest.raises(ExecutionFailedError):
        h.result()
    assert client.describe(h.execution_id).error["message"] == "Insufficient inventory for Gadget"
    assert fakes.world.calls["inventory.reserve_item"] == 1  # not retried, next line not tried
    assert fakes.inventory.level("product-1") == 10


def test_charge_payment_can_be_mocked(cloud, client):
    """The seed's unit tests mock processPayment; LocalCloud replaces a declared step by name."""
    charge = cloud.mock_step(
        "charge-payment", lambda request: {"id": "pay-mock", "orderId": "o-1", "amount": 109.97, "status": "succeeded"}
    )

    assert client.start("ecommerce-order", order()).result()["status"] == "shipped"
    assert charge.call_count == 1
    assert fakes.world.payments == []  # the real gateway was never called
    assert only(fakes.world.shipments)["paymentId"] == "pay-mock"
