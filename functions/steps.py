"""Declared steps: operations that run in their own Lambda function.

A declared step (``@app.step``) gets its own function in the compiled template, with its own
timeout, memory, IAM role and retry policy; ``ctx.step("op-name", charge_payment, request)``
dispatches it and the workflow suspends until the result is journaled. Use one when the
operation needs more time or memory than the orchestrator, different permissions, or a
retry policy that every caller should share. Everything else in this app is an inline step
(a plain function or lambda passed to ``ctx.step``), which runs inside the orchestrator.

Arguments and results travel as JSON and are rebuilt from the annotations, so ``request``
arrives as a ``PaymentRequest`` and callers get a ``Payment`` back.
"""

from __future__ import annotations

from typing import Any

import ai
import fakes
from appdef import app
from models import BlogPost, Order, Payment, PaymentRequest, Shipment

from stepbridge import Retry


@app.step(timeout=30, memory=256, retry=Retry(max_attempts=3, backoff="exponential", initial_delay=1.0))
def charge_payment(request: PaymentRequest) -> Payment:
    """Charge the customer. Gateway hiccups are retried (3 attempts: now, +1 s, +2 s, with jitter);
    a decline (``PaymentDeclined``, a non-retryable business error) fails the step at once.
    The gateway is idempotent per order, so a retried attempt never charges twice."""
    return Payment.model_validate(fakes.payments.charge(request.order_id, request.amount, request.customer_email))


@app.step(timeout=60, memory=256)
def create_shipment(order: Order, payment_id: str | None = None) -> Shipment:
    """Create the shipment of an order with the carrier (idempotent per order)."""
    return Shipment.model_validate(fakes.shipping.create(order.order_id, order.items, payment_id))


@app.step(timeout=20, memory=128, retry=Retry(max_attempts=5, backoff="exponential", initial_delay=2.0))
def send_email(to: str, template: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Send a templated email; the mail API throttles, so it gets 5 attempts."""
    return fakes.email.send(to, template, data or {})


@app.step(timeout=120, memory=512, retry=Retry(max_attempts=2, backoff="exponential", initial_delay=5.0))
def generate_content(model: str, prompt: str, context: dict[str, Any] | None = None) -> BlogPost:
    """Ask an AI model for a ``BlogPost`` (slow and memory-hungry: its own Lambda, 2 minutes)."""
    return ai.generate(model=model, prompt=prompt, schema=BlogPost, context=context)


@app.step(timeout=300, memory=1024)
def process_dataset(dataset_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """``processLargeDataset``: minutes of work, so its own Lambda (5 minutes, 1 GB), not the orchestrator."""
    return fakes.compute.process_dataset(dataset_id, records)


@app.step(timeout=600, memory=512, retry=Retry(max_attempts=5, backoff="exponential", initial_delay=2.0))
def upload_results(key: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``uploadToStorage``: up to 10 minutes per attempt; failed uploads are retried durably."""
    return fakes.storage.upload(key, payload)
