"""Seed "Workflow Patterns" 1-5 and their event triggers (functions/workflows_basic.py, workflows_triggers.py)."""

from __future__ import annotations

from datetime import timedelta

import fakes
import pytest
from example_data import CUSTOMER, LEAD, emitted, executions, journal, only, order, step_names

from stepbridge.errors import ExecutionFailedError

# ---- 1. sequential ------------------------------------------------------------------------------


def test_onboarding_emails_creates_account_and_books_call(cloud, client):
    h = client.start("customer-onboarding", CUSTOMER)

    result = h.result()

    assert result["customer"]["email"] == "ann@example.com"
    assert result["account"] == {
        "id": "acct-c-1", "customer": "c-1", "status": "active", "createdAt": cloud.now().isoformat(),
    }
    assert set(step_names(client, h.execution_id)) == {"welcome-email", "create-account", "schedule-call"}
    welcome = only(fakes.world.emails_to("ann@example.com"))
    assert welcome["template"] == "welcome"
    meeting = only(fakes.world.meetings)
    assert meeting["attendees"] == ["ann@example.com", "success@acme.example"]
    assert meeting["duration"] == 30
    # sequential: the email went out before the meeting was booked
    assert welcome["id"] < meeting["id"]


def test_customer_registered_event_starts_onboarding(cloud, client):
    client.send_event("Customer.registered", CUSTOMER)

    run = only(executions(client, "customer-onboarding"))
    assert run.status == "SUCCEEDED"
    assert fakes.db.get("accounts", "acct-c-1")["status"] == "active"


def test_user_registered_and_verified_each_start_onboarding(cloud, client):
    client.send_event("User.registered", CUSTOMER)
    client.send_event("User.verified", CUSTOMER)
    client.send_event("User.deleted", CUSTOMER)  # not a trigger

    assert len(executions(client, "customer-onboarding", "SUCCEEDED")) == 2
    assert len(fakes.world.emails_with("welcome")) == 2
    # the account insert is idempotent by id: two runs, one account
    assert len(fakes.db.query("accounts")) == 1


def test_onboarding_rejects_input_that_is_not_a_customer(cloud, client):
    h = client.start("customer-onboarding", {"name": "no id or email"})

    with pytest.raises(ExecutionFailedError):
        h.result()
    error = client.describe(h.execution_id).error
    assert error["type"].endswith("ValidationError")
    assert "email" in error["message"]
    assert fakes.world.emails == []


# ---- 2. parallel --------------------------------------------------------------------------------


def test_enrich_lead_merges_three_parallel_lookups(cloud, client):
    result = client.start("enrich-lead", LEAD).result()

    assert result["id"] == "lead-1"
    assert result["emailValid"] is True
    assert result["company"]["name"] == "Builder"
    assert [p["network"] for p in result["socialProfiles"]] == ["linkedin", "github"]


def test_enrich_lead_flags_an_undeliverable_email(cloud, client):
    fakes.knobs.invalid_emails.add("bob@builder.io")

    assert client.start("enrich-lead", LEAD).result()["emailValid"] is False


def test_enrich_lead_caches_company_lookups_for_a_day(cloud, client):
    client.start("enrich-lead", LEAD).result()
    client.start("enrich-lead", {**LEAD, "id": "lead-2", "name": "Bea Builder"}).result()
    assert fakes.world.calls["enrichment.lookup_company"] == 1  # same domain: served from the cache
    assert fakes.world.calls["enrichment.find_social"] == 2  # not cached

    cloud.advance(timedelta(days=1, minutes=1))
    client.start("enrich-lead", {**LEAD, "id": "lead-3"}).result()
    assert fakes.world.calls["enrichment.lookup_company"] == 2  # expired


# ---- 3. conditional -----------------------------------------------------------------------------


def test_fulfill_order_in_stock_reserves_and_ships(cloud, client):
    h = client.start("fulfill-order", order())

    result = h.result()

    assert result["status"] == "shipped"
    assert result["shipment"]["status"] == "pending"
    assert fakes.inventory.level("product-1") == 8
    assert fakes.world.products["product-1"]["reserved"] == 2
    assert fakes.inventory.level("product-2") == 4
    assert only(fakes.world.shipments)["orderId"] == "o-1"
    assert fakes.world.backorders == []
    assert set(step_names(client, h.execution_id)) == {"check-inventory", "reserve-inventory", "create-shipment"}


def test_fulfill_order_out_of_stock_backorders_and_tells_the_customer(cloud, client):
    h = client.start("fulfill-order", order(lines=[("product-3", 1, 120.0)]))

    result = h.result()

    assert result["status"] == "backordered"
    assert only(fakes.world.backorders)["orderId"] == "o-1"
    email = only(fakes.world.emails_to("ann@example.com"))
    assert email["template"] == "backorder-notification"
    assert email["data"]["shortages"] == [{"productId": "product-3", "wanted": 1, "available": 0}]
    assert fakes.world.shipments == []
    assert fakes.world.reservations == []
    assert "reserve-inventory" not in step_names(client, h.execution_id)


def test_order_created_event_triggers_fulfillment(cloud, client):
    client.send_event("Order.created", order("o-7"))

    run = only(executions(client, "fulfill-order"))
    assert run.status == "SUCCEEDED"
    assert run.result["status"] == "shipped"
    assert only(fakes.world.shipments)["orderId"] == "o-7"


# ---- 4. loop ------------------------------------------------------------------------------------


def test_email_campaign_sends_one_step_per_recipient_100ms_apart(cloud, client):
    started = cloud.now()
    h = client.start("email-campaign", {"id": "camp-1", "segment": "newsletter", "template": "spring-sale"})

    assert h.result() == {"sent": 3}

    assert {e["to"] for e in fakes.world.emails_with("spring-sale")} == {
        "ada@example.com", "alan@example.com", "grace@example.com",
    }
    assert fakes.world.emails_to("ada@example.com")[0]["data"] == {"firstName": "Ada", "campaignId": "camp-1"}
    assert fakes.world.emails_to("edsger@example.com") == []  # another segment
    names = step_names(client, h.execution_id)
    assert {"get-recipients", "send-p-1", "send-p-2", "send-p-3"} <= set(names)
    # rate limiting: a durable 100 ms timer after each email
    assert len([e for e in client.history(h.execution_id) if e.detail_type == "Timer.started"]) == 3
    assert cloud.now() - started >= timedelta(milliseconds=300)


def test_email_campaign_with_an_empty_segment_sends_nothing(cloud, client):
    assert client.start("email-campaign", {"id": "c", "segment": "nobody", "template": "t"}).result() == {"sent": 0}
    assert fakes.world.emails == []


# ---- 5. compensating ----------------------------------------------------------------------------


def test_process_payment_reserves_charges_and_confirms(cloud, client):
    h = client.start("process-payment", order())

    result = h.result()

    assert result["success"] is True
    assert result["payment"]["amount"] == 109.97
    assert only(fakes.world.payments)["orderId"] == "o-1"
    assert fakes.inventory.level("product-1") == 8
    assert fakes.db.get("orders", "o-1")["status"] == "confirmed"
    confirmed = only(emitted(cloud, "Order.confirmed"))
    assert confirmed["orderId"] == "o-1"
    assert confirmed["payment"]["id"] == result["payment"]["id"]
    assert emitted(cloud, "Order.failed") == []


def test_declined_payment_releases_inventory_notifies_and_fails(cloud, client):
    fakes.knobs.decline_payments = True
    h = client.start("process-payment", order())

    with pytest.raises(ExecutionFailedError):
        h.result()

    error = client.describe(h.execution_id).error
    assert error["type"].endswith("PaymentDeclined")
    assert "card declined" in error["message"]
    assert fakes.world.calls["payments.charge"] == 1  # a decline is final: not retried
    # compensation: stock is back, the customer and the system are told
    assert fakes.inventory.level("product-1") == 10
    assert fakes.inventory.level("product-2") == 5
    assert len(fakes.world.releases) == 1
    assert only(fakes.world.emails_to("ann@example.com"))["template"] == "payment-failed"
    assert only(emitted(cloud, "Order.failed"))["orderId"] == "o-1"
    assert emitted(cloud, "Order.confirmed") == []
    assert {"release-inventory", "notify-failure"} <= set(step_names(client, h.execution_id))
    assert "confirm-order" not in step_names(client, h.execution_id)


def test_payment_gateway_hiccups_are_retried_by_charge_payment(cloud, client):
    fakes.knobs.payment_gateway_failures = 2
    h = client.start("process-payment", order())

    assert h.result()["success"] is True
    assert fakes.world.calls["payments.charge"] == 3  # Retry(max_attempts=3) on the declared step
    assert len(fakes.world.payments) == 1
    assert len(journal(client, h.execution_id, "Step.attempt_failed", "charge-payment")) == 2
    assert fakes.world.releases == []


def test_payment_gateway_down_for_good_compensates_after_three_attempts(cloud, client):
    fakes.knobs.payment_gateway_failures = 99
    h = client.start("process-payment", order())

    with pytest.raises(ExecutionFailedError):
        h.result()
    assert client.describe(h.execution_id).error["type"].endswith("PaymentGatewayError")
    assert fakes.world.calls["payments.charge"] == 3
    assert fakes.inventory.level("product-1") == 10


def test_process_payment_out_of_stock_fails_before_charging(cloud, client):
    h = client.start("process-payment", order(lines=[("product-3", 1, 120.0)]))

    with pytest.raises(ExecutionFailedError):
        h.result()
    assert client.describe(h.execution_id).error["type"].endswith("InsufficientInventory")
    assert fakes.world.calls["payments.charge"] == 0
    assert fakes.world.emails == []  # nothing was reserved, so nothing to compensate


def test_process_payment_with_a_bare_request_only_charges(cloud, client):
    assert client.start("process-payment", {"orderId": "o-9", "amount": 12.5}).result()["success"] is True
    assert only(fakes.world.payments)["amount"] == 12.5
    assert fakes.world.reservations == []

    fakes.knobs.decline_payments = True
    declined = client.start("process-payment", {"orderId": "o-10", "amount": 1.0}).result()
    assert declined["success"] is False
    assert "card declined" in declined["error"]
