"""Domain models of the example application (pydantic), shared by workflows, steps and tests.

Every model serializes with camelCase keys (``order_id`` <-> ``"orderId"``) because that is
what the seed's events carry (``orderId``, ``expenseId``, ``documentId``, ``entityId``) and
what trigger keys such as ``detail.orderId`` look up. Python code uses snake_case attributes;
inputs are accepted in either spelling.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class Model(BaseModel):
    """Base of all models: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    def wire(self) -> dict[str, Any]:
        """The JSON-ready dict (camelCase keys) this model travels as."""
        return self.model_dump(mode="json", by_alias=True)


class StrictModel(Model):
    """A model that rejects unknown fields, so it cannot be mistaken for a bigger one in a union."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


# ---- people ---------------------------------------------------------------------------------


class Customer(Model):
    """A customer (the seed's ``Person``); ``Customer.registered`` / ``User.*`` events carry one."""

    id: str
    name: str
    email: str
    company: str | None = None


class Person(Model):
    """A contact in the marketing database (email campaign recipients)."""

    id: str
    name: str
    email: str
    segment: str


class Lead(Model):
    """A sales lead to enrich and push to the CRM."""

    id: str
    name: str
    email: str
    domain: str


class NewUser(Model):
    """Input of the ``database`` workflow: a user to create (the id is assigned by the workflow)."""

    name: str
    email: str


# ---- commerce ---------------------------------------------------------------------------------


class OrderItem(Model):
    """One line of an order or cart."""

    product_id: str
    quantity: int = Field(gt=0)
    price: float = 0.0


class Order(Model):
    """An order; ``Order.*`` events carry it (``detail.orderId`` keys the state machine)."""

    order_id: str
    customer: Customer
    items: list[OrderItem]
    total: float


class PaymentRequest(StrictModel):
    """A charge of ``amount`` for an order (what ``charge-payment`` takes)."""

    order_id: str
    amount: float
    customer_email: str | None = None


class Payment(Model):
    """A successful charge."""

    id: str
    order_id: str
    amount: float
    status: Literal["succeeded", "refunded"] = "succeeded"


class Reservation(Model):
    """Stock held for one order line by the ``reserve-inventory`` child workflow."""

    product_id: str
    quantity: int
    reserved_at: datetime


class Shipment(Model):
    """A shipment created for an order."""

    id: str
    order_id: str
    status: str = "pending"
    items: list[OrderItem] = Field(default_factory=list)
    payment_id: str | None = None


class FulfillmentRequest(StrictModel):
    """What ``ecommerce-order`` hands to ``fulfill-order``: stock already reserved, payment taken."""

    order: Order
    inventory: list[Reservation]
    payment: dict[str, Any]


class Cart(Model):
    """A shopping cart (``Cart.abandoned`` events carry one)."""

    id: str
    customer_email: str
    items: list[OrderItem] = Field(default_factory=list)
    total: float = 0.0


class CartReminder(Model):
    """Input of ``cart-reminder``: which cart, and which reminder this is (1, 2 ...)."""

    cart: Cart
    attempt: int = 1


class RefundRequest(Model):
    """Input of the manually triggered ``process-refund`` workflow."""

    order_id: str
    reason: str = "customer request"


class Campaign(Model):
    """An email campaign to one segment."""

    id: str
    segment: str
    template: str


# ---- approvals and reviews ---------------------------------------------------------------------


class Expense(Model):
    """An expense claim; over 1000 it also needs the VP."""

    id: str
    amount: float = Field(ge=0)
    employee: str
    manager: str
    vp: str
    description: str = ""


class ApprovalItem(Model):
    """Anything that goes through a templated approval (invoice, purchase ...)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    id: str
    amount: float | None = None
    description: str = ""


class Document(Model):
    """A document to review."""

    id: str
    title: str
    type: str
    department: str


class Reviewer(Model):
    """Someone assigned to review a document."""

    id: str
    name: str
    email: str


# ---- data, content and misc --------------------------------------------------------------------


class Dataset(Model):
    """Input of ``long-running``: a dataset to process and upload."""

    id: str
    records: list[dict[str, Any]] = Field(default_factory=list)
    notify: str = "data-team@acme.example"


class BlogPost(Model):
    """The schema the AI steps fill in."""

    title: str
    summary: str
    body: str
    tags: list[str] = Field(default_factory=list)


class ContentRequest(Model):
    """Input of ``ai-content``."""

    topic: str


class EntityUpdate(Model):
    """``Entity.updated`` detail: which entity changed (and anything else the producer sends)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")

    entity_id: str
    version: int | None = None


class ScheduledRun(Model):
    """Input of scheduled workflows: ``{"scheduled_time": ISO-8601}`` (absent when started by hand)."""

    scheduled_time: datetime | None = Field(default=None, alias="scheduled_time")
