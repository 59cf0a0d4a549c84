"""Seed "Workflow Triggers": manual (HTTP API) and webhook triggers (functions/workflows_triggers.py).

Event triggers are tested with the workflows they start (test_basic_patterns.py), schedule
triggers in test_scheduling.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import fakes
import pytest
from example_data import emitted, executions, only

SECRET = "whsec_test_secret"


def _stripe_headers(body: bytes, t: int, secret: str = SECRET) -> dict[str, str]:
    """The ``Stripe-Signature`` header Stripe sends: HMAC-SHA256 of ``f"{t}.{body}"``."""
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"}


def _intent_event(event_id: str = "evt_1", order_id: str = "o-1") -> bytes:
    return json.dumps({
        "id": event_id,
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_1", "amount": 10997, "currency": "usd", "metadata": {"orderId": order_id}}},
    }).encode()


# ---- manual trigger: the HTTP API -------------------------------------------------------------


def test_refund_started_by_hand(cloud, client):
    client.start("process-payment", {"orderId": "o-1", "amount": 42.0}).result()

    result = client.start("process-refund", {"orderId": "o-1", "reason": "damaged"}).result()

    assert result["refunded"] is True
    assert result["refund"]["amount"] == 42.0
    assert only(fakes.world.refunds)["reason"] == "damaged"
    assert fakes.world.payments[0]["status"] == "refunded"
    assert only(emitted(cloud, "Order.refunded"))["orderId"] == "o-1"


def test_refund_of_an_unpaid_order_refunds_nothing(cloud, client):
    result = client.start("process-refund", {"orderId": "o-404"}).result()

    assert result == {"refunded": False, "orderId": "o-404", "reason": "no payment for this order"}
    assert fakes.world.refunds == []


def test_refund_through_the_http_api(cloud, client):
    client.start("process-payment", {"orderId": "o-1", "amount": 42.0}).result()

    r = cloud.http("POST", "/workflows/process-refund/executions", body={"input": {"orderId": "o-1"}, "wait": 20})

    assert r.status_code in (200, 201)
    body = r.json()
    assert body["status"] == "SUCCEEDED"
    assert body["result"]["refunded"] is True
    assert client.describe(body["execution_id"]).workflow == "process-refund"


def test_http_api_rejects_an_unknown_workflow(cloud):
    r = cloud.http("POST", "/workflows/no-such-workflow/executions", body={"input": {}})

    assert r.status_code == 404
    assert r.json()["error"]


# ---- webhook trigger: Stripe ----------------------------------------------------------------


def test_signed_stripe_webhook_starts_payment_succeeded(cloud, client):
    cloud.set_secret("/acme/stripe-webhook-secret", SECRET)
    body = _intent_event()

    r = cloud.http("POST", "/webhooks/stripe", body=body, headers=_stripe_headers(body, int(cloud.now().timestamp())))

    assert r.status_code == 200
    assert r.json() == {"received": True}
    run = only(executions(client, "payment-succeeded"))
    assert run.status == "SUCCEEDED"
    assert run.execution_id == "evt_1"  # the Stripe event id
    payment = only(fakes.world.payments)
    assert payment == {"id": "pi_1", "orderId": "o-1", "amount": 109.97, "status": "succeeded", "source": "stripe"}
    assert fakes.db.get("orders", "o-1")["status"] == "paid"
    assert only(emitted(cloud, "Payment.succeeded"))["paymentId"] == "pi_1"


def test_redelivered_stripe_webhook_starts_nothing_new(cloud, client):
    cloud.set_secret("/acme/stripe-webhook-secret", SECRET)
    body = _intent_event()
    for _ in range(2):
        headers = _stripe_headers(body, int(cloud.now().timestamp()))
        assert cloud.http("POST", "/webhooks/stripe", body=body, headers=headers).status_code == 200

    assert len(executions(client, "payment-succeeded")) == 1
    assert fakes.world.calls["payments.record_external"] == 1


@pytest.mark.parametrize(
    "make_headers",
    [
        pytest.param(lambda body, now: _stripe_headers(body, now, secret="whsec_wrong"), id="wrong-secret"),
        pytest.param(lambda body, now: _stripe_headers(body, now - 301), id="too-old"),
        pytest.param(lambda body, now: {"Content-Type": "application/json"}, id="unsigned"),
    ],
)
def test_unverified_stripe_webhook_is_refused(cloud, client, make_headers):
    cloud.set_secret("/acme/stripe-webhook-secret", SECRET)
    body = _intent_event()

    r = cloud.http("POST", "/webhooks/stripe", body=body, headers=make_headers(body, int(cloud.now().timestamp())))

    assert r.status_code == 401
    assert executions(client, "payment-succeeded") == []
    assert fakes.world.payments == []


def test_stripe_signature_tolerance_follows_the_virtual_clock(cloud, client):
    cloud.set_secret("/acme/stripe-webhook-secret", SECRET)
    body = _intent_event()
    signed_at = int(cloud.now().timestamp())
    headers = _stripe_headers(body, signed_at)

    cloud.advance(timedelta(seconds=299))
    assert cloud.http("POST", "/webhooks/stripe", body=body, headers=headers).status_code == 200

    late = _intent_event("evt_2")
    late_headers = _stripe_headers(late, signed_at)
    cloud.advance(timedelta(seconds=10))
    assert cloud.http("POST", "/webhooks/stripe", body=late, headers=late_headers).status_code == 401
