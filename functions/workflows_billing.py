"""Subscription billing: what a real app needs to deploy as written (issue 12's example).

* ``charge-card`` (declared step) reads the Stripe API key with ``stepbridge.secret``
  (``secrets=``: its role may read that one SSM parameter), takes the API base URL from
  ``environment=`` and has ``reserved_concurrency=``.
* ``store-invoice`` (declared step) writes the invoice to S3
  (``policies=[{"S3WritePolicy": ...}]``; the bucket name comes from ``environment=``).
* ``billing-cycle`` -> ``collect-payment`` -> ``dunning``: children two levels deep.
* The ``Subscription.renewal_due`` trigger has a ``filter=`` with a numeric rule (amount > 0) and
  prefix rules (paid plans ``pro-``/``team-``).
* ``/webhooks/stripe-billing`` (Stripe-signed): ``invoice.payment_succeeded`` ends dunning early.

Flow: a renewal event starts ``billing-cycle`` (one execution per subscription and period). It
builds the invoice, stores it in S3 and runs the child ``collect-payment``, which charges the card.
A decline starts the grandchild ``dunning``: up to three rounds of "wait up to a day for a
payment (the webhook), else remind the customer and charge again". The cycle ends with
``Invoice.paid`` or ``Subscription.past_due``.

The Stripe account is a fake (:data:`stripe`) that checks the API key it is called with, so tests
prove the step used the value set with ``cloud.set_secret``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from datetime import timedelta
from typing import Any

import boto3
import fakes
from appdef import app

from stepbridge import Context, NonRetryableError, Retry, secret

#: Where the Stripe API key lives (an SSM SecureString); the webhook's signing secret lives beside it.
STRIPE_KEY_PARAM = "/acme/stripe/api-key"
STRIPE_WEBHOOK_PARAM = "/acme/stripe/billing-webhook-secret"
#: The bucket invoices are written to (an existing bucket of the account; not created by the stack).
INVOICE_BUCKET = "acme-invoices"
#: Dunning: rounds, and how long each waits for a payment before reminding and charging again.
DUNNING_ROUNDS = 3
DUNNING_WAIT = timedelta(days=1)


class StripeAuthError(NonRetryableError):
    """Stripe rejected the API key (401): retrying cannot help."""


class StripeAccount:
    """A fake Stripe account: charges succeed unless the customer's card is declining."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget charges; accept ``sk_test_billing`` until told otherwise."""
        with self.lock:
            self.api_key = "sk_test_billing"
            self.declining: dict[str, int] = {}  # customer -> declines left
            self.charges: list[dict[str, Any]] = []

    def charge(self, api_key: str, api_base: str, charge: dict[str, Any]) -> dict[str, Any]:
        """``POST {api_base}/charges`` with ``Authorization: Bearer {api_key}``."""
        with self.lock:
            if api_key != self.api_key:
                raise StripeAuthError(f"invalid API key provided to {api_base}")
            record = {
                "id": f"ch_{len(self.charges) + 1}",
                "customer": charge["customerId"],
                "amount": charge["amountCents"],
                "currency": charge["currency"],
                "key_sha256": hashlib.sha256(api_key.encode()).hexdigest(),
                "api_base": api_base,
            }
            left = self.declining.get(charge["customerId"], 0)
            if left:
                self.declining[charge["customerId"]] = left - 1
                record["status"] = "declined"
                self.charges.append(record)
                raise fakes.PaymentDeclined(f"card of {charge['customerId']} was declined")
            record["status"] = "succeeded"
            self.charges.append(record)
            return {"chargeId": record["id"], "amountCents": record["amount"]}


stripe = StripeAccount()


# ---- declared steps -------------------------------------------------------------------------------


@app.step(
    timeout=30,
    retry=Retry(max_attempts=3, backoff="exponential", initial_delay=1.0),
    secrets={"STRIPE_API_KEY": STRIPE_KEY_PARAM},
    environment={"STRIPE_API_BASE": "https://api.stripe.com/v1"},
    reserved_concurrency=10,
)
def charge_card(charge: dict[str, Any]) -> dict[str, Any]:
    """Charge a subscription's card with Stripe (key from SSM; its role may read that parameter only)."""
    return stripe.charge(secret("STRIPE_API_KEY"), os.environ["STRIPE_API_BASE"], charge)


@app.step(
    timeout=30,
    policies=[{"S3WritePolicy": {"BucketName": INVOICE_BUCKET}}],
    environment={"INVOICE_BUCKET": INVOICE_BUCKET},
)
def store_invoice(invoice: dict[str, Any]) -> dict[str, Any]:
    """Write the invoice as JSON to ``s3://$INVOICE_BUCKET/invoices/<subscription>/<period>.json``."""
    bucket = os.environ["INVOICE_BUCKET"]
    key = f"invoices/{invoice['subscriptionId']}/{invoice['period']}.json"
    boto3.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(invoice, sort_keys=True).encode(), ContentType="application/json"
    )
    return {"bucket": bucket, "key": key}


# ---- workflows ------------------------------------------------------------------------------------


def _invoice(sub: dict[str, Any]) -> dict[str, Any]:
    tax = round(sub["amountCents"] * 0.2)
    return {
        "invoiceId": f"inv-{sub['subscriptionId']}-{sub['period']}",
        "subscriptionId": sub["subscriptionId"],
        "customerId": sub["customerId"],
        "period": sub["period"],
        "plan": sub["plan"],
        "netCents": sub["amountCents"],
        "taxCents": tax,
        "amountCents": sub["amountCents"] + tax,
        "currency": sub.get("currency", "eur"),
    }


@app.workflow("dunning")
async def dunning(ctx: Context, invoice: dict[str, Any]) -> dict[str, Any]:
    """The grandchild: wait for a payment (webhook), else remind and charge again; three rounds."""
    for round_ in range(1, DUNNING_ROUNDS + 1):
        paid = await ctx.wait_for(
            "Billing.payment_received",
            match={"subscriptionId": invoice["subscriptionId"]},
            timeout=DUNNING_WAIT,
            default=None,
        )
        if paid is not None:
            return {"paid": True, "via": "webhook", "round": round_}
        try:
            charge = await ctx.step(f"dunning-charge-{round_}", charge_card, invoice)
            return {"paid": True, "via": "retry", "round": round_, "chargeId": charge["chargeId"]}
        except fakes.PaymentDeclined:
            await ctx.step(
                f"remind-{round_}",
                fakes.email.send,
                f"{invoice['customerId']}@customers.example",
                "payment-failed",
                {"invoiceId": invoice["invoiceId"], "round": round_},
            )
    return {"paid": False, "rounds": DUNNING_ROUNDS}


@app.workflow("collect-payment")
async def collect_payment(ctx: Context, invoice: dict[str, Any]) -> dict[str, Any]:
    """The child: charge once; on a decline, hand over to ``dunning`` (a child of this child)."""
    try:
        charge = await ctx.step("charge-card", charge_card, invoice)
        return {"paid": True, "via": "charge", "chargeId": charge["chargeId"]}
    except fakes.PaymentDeclined:
        return dict(await ctx.child(dunning, invoice))


@app.workflow("billing-cycle")
async def billing_cycle(ctx: Context, subscription: dict[str, Any]) -> dict[str, Any]:
    """One renewal of one subscription: invoice, store, collect (child), announce the outcome."""
    invoice = await ctx.step("build-invoice", _invoice, subscription)
    stored = await ctx.step("store-invoice", store_invoice, invoice)
    payment = await ctx.child(collect_payment, invoice)
    if payment["paid"]:
        await ctx.send("Invoice.paid", {"invoiceId": invoice["invoiceId"], "subscriptionId": invoice["subscriptionId"],
                                        "amountCents": invoice["amountCents"], "via": payment["via"]})
    else:
        await ctx.send("Subscription.past_due", {"subscriptionId": invoice["subscriptionId"],
                                                 "invoiceId": invoice["invoiceId"]})
    return {"invoice": invoice, "stored": stored, "payment": payment}


@app.workflow("billing-payment-received")
async def payment_received(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Stripe's ``invoice.payment_succeeded``: tell a waiting dunning loop that the customer paid."""
    obj = data["object"]
    detail = {"subscriptionId": obj["subscription"], "amountCents": obj["amount_paid"]}
    await ctx.send("Billing.payment_received", detail)
    return detail


# Paid plans only ("pro-monthly", "team-yearly" ...), and only a positive amount: free plans never bill.
app.on(
    "Subscription.renewal_due",
    billing_cycle,
    filter={"plan": [{"prefix": "pro-"}, {"prefix": "team-"}], "amountCents": [{"numeric": [">", 0]}]},
    name="billing-renewal",
)
app.webhook(
    "/webhooks/stripe-billing",
    provider="stripe",
    secret_param=STRIPE_WEBHOOK_PARAM,
    route={"invoice.payment_succeeded": payment_received},
)
