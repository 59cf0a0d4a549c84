"""The seed's "Workflow Testing" section (vitest unit and integration tests), ported to pytest.

These use the stepbridge pytest plugin as a user would: the ``cloud`` and ``client`` fixtures
come from ``stepbridge.testing.plugin`` and load ``functions/app.py:app`` through the
``stepbridge_app`` option in pyproject.toml. The seed's ``orderWorkflow`` is ``order-processing``.
"""

from __future__ import annotations

from typing import Any

import pytest

from stepbridge.errors import ExecutionFailedError

ORDER = {
    "orderId": "order-123",
    "customer": {"id": "customer-123", "name": "Test Customer", "email": "customer@example.com"},
    "items": [{"productId": "product-1", "quantity": 2, "price": 29.99}],
    "total": 59.98,
}


@pytest.fixture(autouse=True)
def fresh_world(stepbridge_app: Any) -> None:
    import fakes  # functions/ is on sys.path once the plugin loaded the app

    fakes.reset()


def payment(**extra: Any) -> dict[str, Any]:
    return {"id": "payment-123", "orderId": "order-123", "amount": 59.98, **extra}


# ---- unit tests (mocked steps) ----------------------------------------------------------------


def test_should_process_order_successfully(cloud: Any, client: Any) -> None:
    process_payment = cloud.mock_step("charge-payment", lambda request: payment())
    create_shipment = cloud.mock_step("create-shipment", lambda order, payment_id: {"id": "shipment-123",
                                                                                   "orderId": order.order_id})
    result = client.start("order-processing", ORDER).result()

    assert result["payment"]["id"] == "payment-123"
    assert result["shipment"]["id"] == "shipment-123"
    assert len(process_payment.calls) == 1
    (request,) = process_payment.calls[0]
    assert request.order_id == "order-123" and request.amount == 59.98
    ((order, payment_id),) = create_shipment.calls
    assert order.order_id == "order-123" and payment_id == "payment-123"


def test_should_handle_payment_failure(cloud: Any, client: Any) -> None:
    import fakes

    cloud.mock_step("charge-payment", fakes.PaymentDeclined("Payment failed"))
    create_shipment = cloud.mock_step("create-shipment", lambda *a: {"id": "never"})
    h = client.start("order-processing", ORDER)

    with pytest.raises(ExecutionFailedError, match="Payment failed"):
        h.result()
    assert create_shipment.calls == []
    assert client.describe(h.execution_id).status == "FAILED"


def test_should_retry_on_transient_failures(cloud: Any, client: Any) -> None:
    attempts = {"n": 0}

    def flaky(request: Any) -> dict[str, Any]:
        attempts["n"] += 1
        if attempts["n"] == 1:
            raise ConnectionError("Transient error")
        return payment()

    operation = cloud.mock_step("charge-payment", flaky)
    cloud.mock_step("create-shipment", lambda order, payment_id: {"id": "shipment-1", "orderId": order.order_id})
    result = client.start("order-processing", ORDER).result()

    assert len(operation.calls) == 2
    assert result["shipment"]["id"] == "shipment-1"


# ---- integration test (real fakes, no mocks) --------------------------------------------------------


def test_should_complete_full_order_lifecycle(cloud: Any, client: Any) -> None:
    import fakes

    order = {**ORDER, "items": [{"productId": "product-1", "quantity": 2, "price": 29.99},
                                {"productId": "product-2", "quantity": 1, "price": 49.99}], "total": 109.97}
    result = client.start("order-processing", order).result()

    assert result["inventory"]["available"] is True
    assert result["payment"]["amount"] == 109.97
    assert [p["orderId"] for p in fakes.world.payments] == ["order-123"]
    assert result["shipment"]["status"] == "pending"
    assert [s["orderId"] for s in fakes.world.shipments] == ["order-123"]
