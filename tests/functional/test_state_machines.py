"""Seed "Workflow State Machines": the order machine bound to events, and the ``order`` workflow
(functions/workflows_state.py)."""

from __future__ import annotations

from datetime import timedelta

import fakes
import pytest
import workflows_state
from example_data import emitted, only, order, step_names

from stepbridge.errors import ExecutionFailedError


def state(client, order_id="o-1"):
    current = client.machine_state("order", order_id)
    return None if current is None else current["state"]


def hooks(order_id="o-1"):
    return [entry["hook"] for entry in fakes.world.machine_log if entry["key"] == order_id]


# ---- the machine, driven by events ---------------------------------------------------------


def test_order_goes_from_draft_to_completed(cloud, client):
    client.send_event("Order.submitted", order())
    current = client.machine_state("order", "o-1")
    assert current["state"] == "pending"
    assert current["context"]["submittedAt"]
    assert current["context"]["total"] == 109.97  # the first event's detail is the context
    assert fakes.db.get("orders", "o-1")["status"] == "pending"

    client.send_event("Order.paid", {"orderId": "o-1"})
    current = client.machine_state("order", "o-1")
    assert current["state"] == "processing"
    assert current["context"]["paymentId"] == only(fakes.world.payments)["id"]

    client.send_event("Order.fulfilled", {"orderId": "o-1"})
    current = client.machine_state("order", "o-1")
    assert current["state"] == "completed"
    assert current["context"]["shipmentId"] == only(fakes.world.shipments)["id"]
    assert fakes.db.get("orders", "o-1")["status"] == "completed"
    assert emitted(cloud, "StateMachine.rejected") == []


def test_hooks_run_guard_exit_action_entry_in_order(cloud, client):
    client.send_event("Order.submitted", order())
    client.send_event("Order.paid", {"orderId": "o-1"})

    assert hooks() == ["action:submit", "entry:pending", "exit:pending", "action:pay", "entry:processing"]


def test_an_empty_order_cannot_be_submitted(cloud, client):
    client.send_event("Order.submitted", order(lines=[]))

    assert state(client) in (None, "draft")
    rejected = only(emitted(cloud, "StateMachine.rejected"))
    assert rejected["machine"] == "order"
    assert rejected["key"] == "o-1"
    assert "guard" in rejected["reason"]
    assert hooks() == []


def test_events_without_a_transition_are_rejected(cloud, client):
    client.send_event("Order.submitted", order())

    client.send_event("Order.fulfilled", {"orderId": "o-1"})  # not paid yet

    assert state(client) == "pending"
    assert only(emitted(cloud, "StateMachine.rejected"))["event"] == "fulfill"
    assert fakes.world.shipments == []


def test_a_pending_order_can_be_cancelled_and_then_not_paid(cloud, client):
    client.send_event("Order.submitted", order())
    client.send_event("Order.cancelled", {"orderId": "o-1"})
    assert state(client) == "cancelled"

    client.send_event("Order.paid", {"orderId": "o-1"})

    assert state(client) == "cancelled"
    assert fakes.world.payments == []
    assert fakes.db.get("orders", "o-1")["status"] == "cancelled"


def test_failed_processing_can_be_retried(cloud, client):
    client.send_event("Order.submitted", order())
    client.send_event("Order.paid", {"orderId": "o-1"})
    client.send_event("Order.fulfillmentFailed", {"orderId": "o-1"})
    assert state(client) == "failed"

    client.send_event("Order.retryRequested", {"orderId": "o-1"})
    client.send_event("Order.fulfilled", {"orderId": "o-1"})

    assert state(client) == "completed"


def _complete(client, order_id="o-1"):
    client.send_event("Order.submitted", order(order_id))
    client.send_event("Order.paid", {"orderId": order_id})
    client.send_event("Order.fulfilled", {"orderId": order_id})


def test_the_return_window_is_30_days():
    assert timedelta(days=30) == workflows_state.RETURN_WINDOW


# The guard reads RETURN_WINDOW when it runs; shrinking it to 2 hours keeps these tests from
# living through 30 days of hourly schedules (720 hourly-sync runs) while testing the same guard.


def test_returns_are_accepted_within_the_window(cloud, client, monkeypatch):
    monkeypatch.setattr(workflows_state, "RETURN_WINDOW", timedelta(hours=2))
    _complete(client)
    cloud.advance(timedelta(hours=1, minutes=59))

    client.send_event("Order.returnRequested", {"orderId": "o-1"})

    assert state(client) == "returned"
    assert fakes.db.get("orders", "o-1")["status"] == "returned"


def test_returns_are_refused_after_the_window(cloud, client, monkeypatch):
    monkeypatch.setattr(workflows_state, "RETURN_WINDOW", timedelta(hours=2))
    _complete(client)
    cloud.advance(timedelta(hours=2, minutes=1))

    client.send_event("Order.returnRequested", {"orderId": "o-1"})

    assert state(client) == "completed"
    assert "guard" in only(emitted(cloud, "StateMachine.rejected"))["reason"]


def test_each_order_has_its_own_instance(cloud, client):
    client.send_event("Order.submitted", order("o-1"))
    _complete(client, "o-2")

    assert state(client, "o-1") == "pending"
    assert state(client, "o-2") == "completed"


# ---- the order workflow -----------------------------------------------------------------------


def test_order_workflow_completes_when_paid_and_fulfilled(cloud, client):
    h = client.start("order", order())
    assert client.describe(h.execution_id).status == "RUNNING"
    assert fakes.db.get("orders", "o-1")["status"] == "pending"

    client.send_event("Order.paid", {"orderId": "o-1"})
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud.advance(timedelta(days=2))
    client.send_event("Order.fulfilled", {"orderId": "o-1"})

    result = h.result()
    assert result["currentState"] == "completed"
    assert result["context"]["paymentId"] == only(fakes.world.payments)["id"]
    assert result["context"]["shipmentId"] == only(fakes.world.shipments)["id"]
    assert fakes.db.get("orders", "o-1")["status"] == "completed"
    assert {"t1-submit", "t1-enter-pending", "t2-exit-pending", "t2-pay", "t2-enter-processing",
            "t3-fulfill", "t3-enter-completed"} <= set(step_names(client, h.execution_id))


def test_order_workflow_cancels_when_the_payment_is_declined(cloud, client):
    """The seed's "should handle payment failure": the error surfaces and the order is cancelled."""
    fakes.knobs.decline_payments = True
    h = client.start("order", order())

    client.send_event("Order.paid", {"orderId": "o-1"})

    with pytest.raises(ExecutionFailedError) as failure:
        h.result()
    assert "Payment failed" in failure.value.error["message"]
    assert fakes.db.get("orders", "o-1")["status"] == "cancelled"


def test_order_workflow_cancels_an_order_unpaid_for_3_days(cloud, client):
    h = client.start("order", order())

    cloud.advance(timedelta(days=3, minutes=1))

    assert client.describe(h.execution_id).status == "SUCCEEDED"
    assert h.result()["currentState"] == "cancelled"
    assert fakes.world.payments == []


def test_order_workflow_refuses_an_empty_order(cloud, client):
    h = client.start("order", order(lines=[]))

    with pytest.raises(ExecutionFailedError) as failure:
        h.result()
    assert failure.value.error["message"] == "Guard condition failed for submit"
    assert failure.value.error["type"].endswith("InvalidTransition")
