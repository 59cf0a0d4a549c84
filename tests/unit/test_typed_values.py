"""Typed values (issue 14, item 5): values round-trip as the types the step or workflow annotates, stored as
readable JSON; a serde= hook covers other types. Memory backend; the moto run is parametrized too."""

from __future__ import annotations

import dataclasses
import enum
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pydantic
import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud

app = App("typed")
SEEN: dict[str, Any] = {}


class Tier(enum.Enum):
    GOLD = "gold"
    SILVER = "silver"


class Customer(pydantic.BaseModel):
    id: uuid.UUID
    tier: Tier
    since: date


@dataclasses.dataclass
class Invoice:
    number: int
    total: Decimal
    issued: datetime
    pdf: bytes
    customer: Customer


CUSTOMER = Customer(id=uuid.UUID("12345678-1234-5678-1234-567812345678"), tier=Tier.GOLD, since=date(2024, 2, 29))
INVOICE = Invoice(7, Decimal("19.90"), datetime(2026, 12, 4, 9, 30, tzinfo=UTC), b"\x00\xffPDF", CUSTOMER)


@app.step(timeout=10)
def make_invoices(n: int) -> list[Invoice]:
    return [dataclasses.replace(INVOICE, number=INVOICE.number + i) for i in range(n)]


@app.step(timeout=10)
def totals(invoices: list[Invoice]) -> dict[str, Decimal]:
    SEEN["declared-arg"] = invoices
    return {str(i.number): i.total for i in invoices}


def inline_blob() -> bytes:
    return bytes(range(256))


@app.workflow("typed-flow")
async def typed_flow(ctx: Context, customer: Customer) -> dict[str, Any]:
    SEEN["input"] = customer
    invoices = await ctx.step("make", make_invoices, 2)
    SEEN["declared-result"] = invoices
    sums = await ctx.step("totals", totals, invoices)
    SEEN["sums"] = sums
    raw = await ctx.step("blob", inline_blob)
    SEEN["inline-bytes"] = raw
    stamp = await ctx.step("stamp", lambda: datetime(2026, 1, 1, tzinfo=UTC))
    SEEN["untyped-inline"] = stamp
    return {"count": len(invoices), "sum": str(sum(sums.values())), "blob": len(raw)}


class Money:
    def __init__(self, cents: int, currency: str) -> None:
        self.cents, self.currency = cents, currency

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and (other.cents, other.currency) == (self.cents, self.currency)


class MoneySerde:
    def encode(self, value: Any) -> Any:
        return {"money": f"{value.cents} {value.currency}"} if isinstance(value, Money) else NotImplemented

    def decode(self, data: Any, tp: Any) -> Any:
        if tp is Money:
            cents, currency = data["money"].split()
            return Money(int(cents), currency)
        return NotImplemented


@app.step(timeout=10, serde=MoneySerde())
def price(sku: str) -> Money:
    return Money(1999, "EUR")


@app.workflow("money", serde=MoneySerde())
async def money(ctx: Context, budget: Money) -> Money:
    SEEN["budget"] = budget
    cost = await ctx.step("price", price, "sku-1")
    SEEN["cost"] = cost
    return Money(budget.cents - cost.cents, budget.currency)


@pytest.fixture(params=["memory", "moto"])
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    SEEN.clear()
    with LocalCloud(app, backend=request.param) as c:
        yield c


def test_models_dataclasses_and_scalars_round_trip_as_their_annotated_types(cloud: LocalCloud) -> None:
    h = cloud.client().start("typed-flow", CUSTOMER)
    assert h.result() == {"count": 2, "sum": "39.80", "blob": 256}
    assert SEEN["input"] == CUSTOMER and isinstance(SEEN["input"].id, uuid.UUID)
    assert SEEN["declared-result"] == [INVOICE, dataclasses.replace(INVOICE, number=8)]
    assert SEEN["declared-arg"] == SEEN["declared-result"]  # a declared step's argument, decoded in its Lambda
    assert SEEN["declared-result"][0].pdf == b"\x00\xffPDF"  # bytes that are not UTF-8
    assert SEEN["sums"] == {"7": Decimal("19.90"), "8": Decimal("19.90")}
    assert SEEN["inline-bytes"] == bytes(range(256))
    assert SEEN["untyped-inline"] == "2026-01-01T00:00:00Z"  # a lambda has no annotation: the JSON text


def test_stored_values_are_readable_json(cloud: LocalCloud) -> None:
    h = cloud.client().start("typed-flow", CUSTOMER)
    h.result()
    journal = cloud.store.load_journal(h.execution_id)
    made = next(r for r in journal if r.op == "make" and r.kind == "result").data["result"]
    assert made[0] == {
        "number": 7, "total": "19.90", "issued": "2026-12-04T09:30:00Z", "pdf": "AP9QREY=",
        "customer": {"id": "12345678-1234-5678-1234-567812345678", "tier": "gold", "since": "2024-02-29"},
    }
    json.dumps(made)  # plain JSON all the way down


def test_a_serde_hook_stores_and_rebuilds_other_types(cloud: LocalCloud) -> None:
    h = cloud.client().start("money", Money(5000, "EUR"))
    cloud.run_until_complete(h.execution_id)
    assert SEEN["budget"] == Money(5000, "EUR") and SEEN["cost"] == Money(1999, "EUR")
    header = cloud.store.get_execution(h.execution_id)
    assert header.input == {"money": "5000 EUR"} and header.result == {"money": "3001 EUR"}
    journal = cloud.store.load_journal(h.execution_id)
    assert next(r for r in journal if r.op == "price" and r.kind == "result").data["result"] == {"money": "1999 EUR"}


def test_a_serde_without_encode_and_decode_is_refused() -> None:
    from stepbridge import WorkflowDefinitionError

    with pytest.raises(WorkflowDefinitionError, match=r"serde= needs an object with encode\(value\) and decode"):
        App("bad", serde=object())
