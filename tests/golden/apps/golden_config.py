"""Per-function deployment settings: runtime, architecture and tags of the App; the orchestrator's and two
declared steps' policies, secrets, environment, reserved concurrency and layers; one plain step."""

from stepbridge import secret
from stepbridge.api.app import App

app = App(
    "billing",
    runtime="python3.13",
    architecture="x86_64",
    tags={"team": "payments", "cost-center": "42"},
    environment={"LOG_FORMAT": "json"},
    secrets={"AUDIT_KEY": "/billing/audit-key"},
    reserved_concurrency=20,
)


@app.step(
    timeout=30,
    secrets={
        "STRIPE_KEY": "/billing/stripe/api-key",
        "BANK_TOKEN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:billing/bank-AbC123",
    },
    environment={"STRIPE_API_BASE": "https://api.stripe.com/v1"},
    reserved_concurrency=10,
    layers=["arn:aws:lambda:eu-west-1:123456789012:layer:crypto:7"],
)
def charge(invoice: dict) -> dict:
    return {"key": secret("STRIPE_KEY")[:3], "amount": invoice["amount"]}


@app.step(
    policies=[
        {"S3WritePolicy": {"BucketName": "billing-invoices"}},
        {"Effect": "Allow", "Action": ["ses:SendEmail"], "Resource": "*",
         "Condition": {"StringEquals": {"ses:FromAddress": "billing@acme.example"}}},
    ],
)
def store_invoice(invoice: dict) -> str:
    return f"invoices/{invoice['id']}.json"


@app.step
def audit(invoice: dict) -> str:
    return invoice["id"]


@app.workflow("bill")
async def bill(ctx, invoice: dict) -> dict:
    key = await ctx.step("store-invoice", store_invoice, invoice)
    payment = await ctx.step("charge", charge, invoice)
    await ctx.step("audit", audit, invoice)
    return {"key": key, "payment": payment}
