"""The subscription-billing example (``functions/workflows_billing.py``) offline on LocalCloud.

Checks what issue 12 asks of a deployable app: a declared step reads its secret (the value set with
``cloud.set_secret``), another writes to S3 with its bucket from ``environment=``, children two levels
deep, a Stripe-signed webhook, and a trigger whose filter has numeric and prefix rules.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import fakes
import pytest
import workflows_billing as billing
from app import app

from stepbridge.local import LocalCloud
from stepbridge.runtime.webhooks import stripe_signature

API_KEY = "sk_test_billing_4242"
WEBHOOK_SECRET = "whsec_billing"
START = datetime(2026, 1, 5, 8, 30, tzinfo=UTC)


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    fakes.reset()
    billing.stripe.reset()
    billing.stripe.api_key = API_KEY
    with LocalCloud(app, start=START) as c:
        c.set_secret(billing.STRIPE_KEY_PARAM, API_KEY)
        c.set_secret(billing.STRIPE_WEBHOOK_PARAM, WEBHOOK_SECRET)
        boto3.client("s3").create_bucket(Bucket=billing.INVOICE_BUCKET)
        yield c
    fakes.reset()
    billing.stripe.reset()


def renewal(sub: str = "sub-1", customer: str = "cus-1", plan: str = "pro-monthly", amount: int = 1000) -> dict:
    return {"subscriptionId": sub, "customerId": customer, "plan": plan, "amountCents": amount,
            "currency": "eur", "period": "2026-01"}


def billing_runs(cloud: LocalCloud) -> list:
    return cloud.client().list(workflow="billing-cycle")


def test_renewal_charges_with_the_secret_and_stores_the_invoice(cloud: LocalCloud) -> None:
    cloud.client().send_event("Subscription.renewal_due", renewal())
    (run,) = billing_runs(cloud)
    desc = cloud.client().describe(run.execution_id)
    assert desc.status == "SUCCEEDED"
    result = desc.result
    assert result["payment"]["paid"] is True and result["payment"]["via"] == "charge"
    assert result["invoice"]["amountCents"] == 1200 and result["invoice"]["taxCents"] == 200
    # the declared step really read the value set with cloud.set_secret, and its environment
    (charge,) = billing.stripe.charges
    assert charge["key_sha256"] == hashlib.sha256(API_KEY.encode()).hexdigest()
    assert charge["api_base"] == "https://api.stripe.com/v1" and charge["amount"] == 1200
    # the invoice is in S3, where the step's environment said
    assert result["stored"] == {"bucket": "acme-invoices", "key": "invoices/sub-1/2026-01.json"}
    body = boto3.client("s3").get_object(Bucket="acme-invoices", Key="invoices/sub-1/2026-01.json")["Body"].read()
    assert json.loads(body)["invoiceId"] == "inv-sub-1-2026-01"
    paid = [e for e in cloud.events if e.detail_type == "Invoice.paid"]
    assert [e.detail for e in paid] == [
        {"invoiceId": "inv-sub-1-2026-01", "subscriptionId": "sub-1", "amountCents": 1200, "via": "charge"}
    ]
    # journal: the parent recorded its steps and the child's outcome
    ops = [r.op for r in cloud.store.load_journal(run.execution_id)]
    assert {"build-invoice", "store-invoice"} <= set(ops)


def test_a_rotated_secret_is_used_and_a_wrong_one_fails_the_charge(cloud: LocalCloud) -> None:
    cloud.set_secret(billing.STRIPE_KEY_PARAM, "sk_test_wrong")
    cloud.client().send_event("Subscription.renewal_due", renewal())
    (run,) = billing_runs(cloud)
    desc = cloud.client().describe(run.execution_id)
    assert desc.status == "FAILED"
    assert "invalid API key" in json.dumps(desc.error)
    assert billing.stripe.charges == []  # rejected before charging anything


@pytest.mark.parametrize(
    ("plan", "amount", "starts"),
    [("pro-monthly", 1000, True), ("team-yearly", 1, True), ("free", 1000, False), ("pro-monthly", 0, False)],
)
def test_the_trigger_filter_has_numeric_and_prefix_rules(
    cloud: LocalCloud, plan: str, amount: int, starts: bool
) -> None:
    cloud.client().send_event("Subscription.renewal_due", renewal(plan=plan, amount=amount))
    assert len(billing_runs(cloud)) == (1 if starts else 0)


def test_a_decline_runs_dunning_as_a_grandchild_and_the_retry_pays(cloud: LocalCloud) -> None:
    billing.stripe.declining["cus-1"] = 1  # the first charge is declined, the dunning retry succeeds
    client = cloud.client()
    client.send_event("Subscription.renewal_due", renewal())
    (run,) = billing_runs(cloud)
    assert client.describe(run.execution_id).status == "RUNNING"  # dunning waits for a payment
    cloud.advance(timedelta(days=1))
    desc = client.describe(run.execution_id)
    assert desc.status == "SUCCEEDED"
    assert desc.result["payment"] == {"paid": True, "via": "retry", "round": 1, "chargeId": "ch_2"}
    assert [c["status"] for c in billing.stripe.charges] == ["declined", "succeeded"]
    # two levels of children: billing-cycle -> collect-payment -> dunning
    (child,) = client.list(workflow="collect-payment")
    (grandchild,) = client.list(workflow="dunning")
    assert client.describe(child.execution_id).status == "SUCCEEDED"
    assert client.describe(grandchild.execution_id).result["via"] == "retry"
    assert grandchild.execution_id != child.execution_id != run.execution_id
    assert [e.detail["via"] for e in cloud.events if e.detail_type == "Invoice.paid"] == ["retry"]


def test_the_stripe_webhook_ends_dunning_early(cloud: LocalCloud) -> None:
    billing.stripe.declining["cus-1"] = 5
    client = cloud.client()
    client.send_event("Subscription.renewal_due", renewal())
    cloud.advance(timedelta(hours=3))
    body = json.dumps({
        "id": "evt_paid_1",
        "type": "invoice.payment_succeeded",
        "data": {"object": {"subscription": "sub-1", "amount_paid": 1200}},
    })
    ts = int(cloud.now().timestamp())
    r = cloud.http("POST", "/webhooks/stripe-billing", body=body,
                   headers={"Stripe-Signature": stripe_signature(WEBHOOK_SECRET, body, ts)})
    assert (r.status_code, r.json()) == (200, {"received": True})
    (run,) = billing_runs(cloud)
    desc = client.describe(run.execution_id)
    assert desc.status == "SUCCEEDED"
    assert desc.result["payment"] == {"paid": True, "via": "webhook", "round": 1}
    assert [c["status"] for c in billing.stripe.charges] == ["declined"]  # paid out of band, no retry
    # a bad signature is refused
    bad = cloud.http("POST", "/webhooks/stripe-billing", body=body,
                     headers={"Stripe-Signature": stripe_signature("whsec_other", body, ts)})
    assert bad.status_code == 401


def test_unpaid_after_three_rounds_is_past_due(cloud: LocalCloud) -> None:
    billing.stripe.declining["cus-1"] = 10
    client = cloud.client()
    client.send_event("Subscription.renewal_due", renewal())
    cloud.advance(timedelta(days=3, hours=1))
    (run,) = billing_runs(cloud)
    desc = client.describe(run.execution_id)
    assert desc.status == "SUCCEEDED" and desc.result["payment"] == {"paid": False, "rounds": 3}
    reminders = [m for m in fakes.world.emails if m["template"] == "payment-failed"]
    assert [m["data"]["round"] for m in reminders] == [1, 2, 3]
    assert [e.detail for e in cloud.events if e.detail_type == "Subscription.past_due"] == [
        {"subscriptionId": "sub-1", "invoiceId": "inv-sub-1-2026-01"}
    ]
    assert len(billing.stripe.charges) == 4  # the first charge and three dunning retries


def test_the_billing_app_runs_with_its_declared_grants_enforced() -> None:
    """With moto enforcing IAM, store-invoice may write to acme-invoices only because it declared
    S3WritePolicy on that bucket (a missing grant would fail here as in AWS)."""
    fakes.reset()
    billing.stripe.reset()
    billing.stripe.api_key = API_KEY
    try:
        with LocalCloud(app, start=START, enforce_iam=True) as cloud:
            cloud.set_secret(billing.STRIPE_KEY_PARAM, API_KEY)
            boto3.client("s3").create_bucket(Bucket=billing.INVOICE_BUCKET)
            cloud.client().send_event("Subscription.renewal_due", renewal())
            (run,) = billing_runs(cloud)
            desc = cloud.client().describe(run.execution_id)
            assert desc.status == "SUCCEEDED", desc.error
            assert desc.result["stored"]["key"] == "invoices/sub-1/2026-01.json"
            obj = boto3.client("s3").get_object(Bucket="acme-invoices", Key="invoices/sub-1/2026-01.json")
            assert json.loads(obj["Body"].read())["amountCents"] == 1200
    finally:
        fakes.reset()
        billing.stripe.reset()
