"""Fake integrations for the example app, recording everything they do.

The seed's workflows talk to email, a database, inventory, payments, shipping, a calendar,
reporting, a search index, Salesforce, an external API, storage and a CRM. Here each is a
small in-memory service whose every effect lands in one registry, ``world``; tests assert
on it (``fakes.world.emails``, ``fakes.world.payments`` ...) and call ``reset()`` first.

``knobs`` force the unhappy paths: a declined card, a flaky gateway or API failing the next
N calls, a slow operation, an unreachable CRM, invalid email addresses. Stock levels live in
``world.products`` (``product-3`` starts out of stock).

Business errors (a declined card, an empty shelf) derive from ``NonRetryableError``: retrying
cannot fix them, so the engine fails the step at once. Transient errors are plain exceptions
and follow the step's retry policy. All error classes take a single message, so the engine
can rebuild them in the workflow (``except PaymentDeclined`` works across Lambdas).

Services are idempotent where the real ones would be given an idempotency key (a charge per
order, a shipment per order, a row per id): a step may run more than once (at-least-once
delivery), and the fakes behave like well-designed APIs do.

In AWS each Lambda has its own copy of this module, so the registry is per process: it is a
stand-in for real services, not a store.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from stepbridge.errors import NonRetryableError

# ---- errors -----------------------------------------------------------------------------------


class BusinessError(NonRetryableError):
    """A final answer from a service; retrying the same request cannot succeed."""


class PaymentDeclined(BusinessError):
    """The card was declined."""


class InsufficientInventory(BusinessError):
    """Not enough stock to reserve."""


class UnknownProduct(BusinessError):
    """The product id is not in the catalogue."""


class PaymentGatewayError(Exception):
    """A transient payment gateway failure (retried)."""


class ExternalAPIError(Exception):
    """The external API failed (retried)."""


class RiskyOperationError(Exception):
    """The risky operation failed."""


class StorageError(Exception):
    """Uploading to storage failed (transient)."""


class SalesforceError(Exception):
    """Salesforce answered with a 5xx (transient)."""


class CRMUnavailable(Exception):
    """The CRM is down."""


# ---- knobs and the registry -------------------------------------------------------------------


@dataclass
class Knobs:
    """Switches tests flip to force failures; ``reset()`` puts them back to "everything works"."""

    decline_payments: bool = False  # every charge is declined (PaymentDeclined, not retried)
    payment_gateway_failures: int = 0  # the next N charges fail with PaymentGatewayError
    external_api_failures: int = 0  # the next N external API calls fail with ExternalAPIError
    risky_fails: bool = False  # risky_operation always fails
    upload_failures: int = 0  # the next N uploads fail with StorageError
    salesforce_failures: int = 0  # the next N Salesforce calls fail with SalesforceError
    slow_operation_seconds: float = 0.0  # how long slow_operation takes (virtual seconds under LocalCloud)
    crm_down: bool = False  # every CRM call fails with CRMUnavailable
    invalid_emails: set[str] = field(default_factory=set)  # addresses email verification rejects

    def reset(self) -> None:
        """Back to defaults, in place (modules keep their reference)."""
        self.__dict__.update(Knobs().__dict__)


#: The catalogue every reset starts from: product id -> name, stock, reserved, price.
CATALOGUE: dict[str, dict[str, Any]] = {
    "product-1": {"name": "Widget", "inventory": 10, "reserved": 0, "price": 29.99},
    "product-2": {"name": "Gadget", "inventory": 5, "reserved": 0, "price": 49.99},
    "product-3": {"name": "Limited Edition Print", "inventory": 0, "reserved": 0, "price": 120.00},
}

#: Marketing contacts by segment (``email-campaign`` reads them).
PEOPLE: list[dict[str, Any]] = [
    {"id": "p-1", "name": "Ada Lovelace", "email": "ada@example.com", "segment": "newsletter"},
    {"id": "p-2", "name": "Alan Turing", "email": "alan@example.com", "segment": "newsletter"},
    {"id": "p-3", "name": "Grace Hopper", "email": "grace@example.com", "segment": "newsletter"},
    {"id": "p-4", "name": "Edsger Dijkstra", "email": "edsger@example.com", "segment": "vip"},
]

#: Who approves what (the approval template asks this).
APPROVERS: dict[str, list[str]] = {
    "Invoice": ["finance@acme.example"],
    "Expense": ["controller@acme.example"],
    "Purchase": ["procurement@acme.example", "finance@acme.example"],
}

#: Reviewers by (document type, department); ``("*", "*")`` is the fallback.
REVIEWERS: dict[tuple[str, str], list[dict[str, str]]] = {
    ("contract", "legal"): [
        {"id": "r-legal", "name": "Lee Gal", "email": "legal@acme.example"},
        {"id": "r-cfo", "name": "Cee Foe", "email": "cfo@acme.example"},
    ],
    ("*", "*"): [{"id": "r-editor", "name": "Ed Itor", "email": "editor@acme.example"}],
}


class World:
    """Everything the fake services did, plus the knobs. One instance: ``fakes.world``."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.knobs = Knobs()
        self.reset()

    def reset(self) -> None:
        """Forget every effect, restore the catalogue and the knobs (in place)."""
        with self.lock:
            self.knobs.reset()
            self.calls: Counter[str] = Counter()  # attempts per service method, e.g. "payments.charge"
            self.emails: list[dict[str, Any]] = []
            self.tables: dict[str, dict[str, dict[str, Any]]] = {
                "people": {p["id"]: dict(p) for p in PEOPLE},
            }
            self.products: dict[str, dict[str, Any]] = copy.deepcopy(CATALOGUE)
            self.reservations: list[dict[str, Any]] = []
            self.releases: list[dict[str, Any]] = []
            self.payments: list[dict[str, Any]] = []
            self.refunds: list[dict[str, Any]] = []
            self.shipments: list[dict[str, Any]] = []
            self.backorders: list[dict[str, Any]] = []
            self.meetings: list[dict[str, Any]] = []
            self.reports: list[dict[str, Any]] = []
            self.notifications: list[dict[str, Any]] = []
            self.uploads: list[dict[str, Any]] = []
            self.search_index: dict[str, dict[str, Any]] = {}
            self.index_updates: list[dict[str, Any]] = []
            self.salesforce_calls: list[dict[str, Any]] = []
            self.crm_calls: list[str] = []
            self.ai_calls: list[dict[str, Any]] = []
            self.error_log: list[dict[str, Any]] = []
            self.machine_log: list[dict[str, Any]] = []  # state machine hooks, in the order they ran
            self.renders: list[dict[str, Any]] = []
            self.calculations: list[Any] = []
            self.purchased_carts: set[str] = set()
            self.in_flight: Counter[str] = Counter()
            self.max_in_flight: Counter[str] = Counter()
            self.ai_model: Any = None  # None = ai.DeterministicModel; tests may plug their own
            self._seq = 0

    def next_id(self, prefix: str) -> str:
        """A readable, increasing id such as ``pay-0001``."""
        with self.lock:
            self._seq += 1
            return f"{prefix}-{self._seq:04d}"

    def count(self, name: str) -> None:
        """Count one call of service method ``name``."""
        with self.lock:
            self.calls[name] += 1

    def table(self, name: str) -> dict[str, dict[str, Any]]:
        """A table by name (created empty on first use)."""
        with self.lock:
            return self.tables.setdefault(name, {})

    def emails_to(self, address: str, template: str | None = None) -> list[dict[str, Any]]:
        """Emails sent to ``address`` (optionally of one template)."""
        return [e for e in self.emails if e["to"] == address and (template is None or e["template"] == template)]

    def emails_with(self, template: str) -> list[dict[str, Any]]:
        """Emails sent with ``template``."""
        return [e for e in self.emails if e["template"] == template]


world = World()
knobs = world.knobs


def reset() -> None:
    """Empty the registry and restore defaults (call before each test)."""
    world.reset()


def _take_failure(knob: str) -> bool:
    """Consume one forced failure from a counter knob; True when this call must fail."""
    with world.lock:
        left = getattr(knobs, knob)
        if left > 0:
            setattr(knobs, knob, left - 1)
            return True
        return False


def _track(name: str) -> _InFlight:
    return _InFlight(name)


class _InFlight:
    """Counts concurrent calls of one operation (for concurrency-limit assertions)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __enter__(self) -> None:
        with world.lock:
            world.in_flight[self.name] += 1
            world.max_in_flight[self.name] = max(world.max_in_flight[self.name], world.in_flight[self.name])

    def __exit__(self, *exc: object) -> None:
        with world.lock:
            world.in_flight[self.name] -= 1


# ---- email ------------------------------------------------------------------------------------


class EmailService:
    """``send.Email`` and address verification."""

    def send(self, to: str, template: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send one templated email; returns the message record."""
        world.count("email.send")
        message = {"id": world.next_id("msg"), "to": to, "template": template, "data": data or {}}
        with world.lock:
            world.emails.append(message)
        return message

    def verify(self, address: str) -> dict[str, Any]:
        """Is the address deliverable? (syntax plus ``knobs.invalid_emails``)."""
        world.count("email.verify")
        local, _, domain = address.partition("@")
        if not local or "." not in domain:
            return {"email": address, "valid": False, "reason": "malformed address"}
        if address in knobs.invalid_emails:
            return {"email": address, "valid": False, "reason": "mailbox does not exist"}
        return {"email": address, "valid": True, "reason": None}


# ---- database -----------------------------------------------------------------------------------


class Database:
    """A tiny document database: tables of rows keyed by ``id``."""

    def insert(self, table: str, row: dict[str, Any]) -> dict[str, Any]:
        """Insert ``row`` (it must have an ``id``); inserting the same id again returns the stored row."""
        world.count(f"db.insert.{table}")
        with world.lock:
            rows = world.table(table)
            if row["id"] not in rows:
                rows[row["id"]] = dict(row)
            return dict(rows[row["id"]])

    def get(self, table: str, row_id: str) -> dict[str, Any] | None:
        """One row, or None."""
        with world.lock:
            row = world.table(table).get(row_id)
            return dict(row) if row else None

    def upsert(self, table: str, row_id: str, **values: Any) -> dict[str, Any]:
        """Merge ``values`` into row ``row_id`` (creating it)."""
        world.count(f"db.upsert.{table}")
        with world.lock:
            row = world.table(table).setdefault(row_id, {"id": row_id})
            row.update(values)
            return dict(row)

    def query(self, table: str, **where: Any) -> list[dict[str, Any]]:
        """Rows whose fields equal ``where``, in insertion order."""
        with world.lock:
            return [dict(r) for r in world.table(table).values() if all(r.get(k) == v for k, v in where.items())]

    def delete_where(self, table: str, predicate: Callable[[dict[str, Any]], bool]) -> int:
        """Delete the rows ``predicate`` accepts; returns how many."""
        world.count(f"db.delete.{table}")
        with world.lock:
            rows = world.table(table)
            doomed = [k for k, r in rows.items() if predicate(r)]
            for k in doomed:
                del rows[k]
            return len(doomed)


class Directory:
    """Who approves and who reviews."""

    def approvers(self, entity: str) -> list[str]:
        """Approver addresses for an entity type (``Invoice``, ``Expense`` ...)."""
        return list(APPROVERS.get(entity, ["approvals@acme.example"]))

    def reviewers(self, doc_type: str, department: str) -> list[dict[str, str]]:
        """Reviewers for a document type in a department."""
        found = REVIEWERS.get((doc_type, department)) or REVIEWERS[("*", "*")]
        return [dict(r) for r in found]


# ---- commerce ---------------------------------------------------------------------------------


def _items(items: Iterable[Any]) -> list[dict[str, Any]]:
    """Order lines as ``{"productId", "quantity"}`` dicts, whatever form they came in."""
    out = []
    for it in items:
        if hasattr(it, "model_dump"):
            it = it.model_dump(mode="json", by_alias=True)
        out.append({"productId": it.get("productId", it.get("product_id")), "quantity": int(it["quantity"])})
    return out


class Inventory:
    """Stock levels (``world.products``), reservations and releases."""

    def level(self, product_id: str) -> int:
        """Units on the shelf (not counting reservations)."""
        return int(world.products[product_id]["inventory"])

    def check(self, items: Iterable[Any]) -> dict[str, Any]:
        """Is every line in stock? Lists the shortages."""
        world.count("inventory.check")
        shortages = []
        with world.lock:
            for it in _items(items):
                product = world.products.get(it["productId"])
                have = product["inventory"] if product else 0
                if have < it["quantity"]:
                    shortages.append({"productId": it["productId"], "wanted": it["quantity"], "available": have})
        return {"available": not shortages, "shortages": shortages}

    def reserve(self, items: Iterable[Any]) -> dict[str, Any]:
        """Reserve every line or nothing; returns ``{"id", "items"}`` (the handle ``release`` takes)."""
        world.count("inventory.reserve")
        lines = _items(items)
        with world.lock:
            for it in lines:
                self._check_stock(it["productId"], it["quantity"])
            for it in lines:
                self._move(it["productId"], it["quantity"])
            reservation = {"id": world.next_id("res"), "items": lines}
            world.reservations.append(reservation)
        return reservation

    def reserve_item(self, product_id: str, quantity: int, at: str) -> dict[str, Any]:
        """Reserve one line (the ``reserve-inventory`` child workflow's step)."""
        world.count("inventory.reserve_item")
        with world.lock:
            self._check_stock(product_id, quantity)
            self._move(product_id, quantity)
            reservation = {"productId": product_id, "quantity": quantity, "reservedAt": at}
            world.reservations.append(reservation)
        return reservation

    def release(self, reservation: dict[str, Any]) -> dict[str, Any]:
        """Put a reservation (from ``reserve``, or a list of ``reserve_item`` lines) back on the shelf."""
        world.count("inventory.release")
        lines = reservation.get("items", []) if isinstance(reservation, dict) else list(reservation)
        with world.lock:
            for it in _items(lines):
                self._move(it["productId"], -it["quantity"])
            record = {"reservation": reservation, "items": _items(lines)}
            world.releases.append(record)
        return record

    def _check_stock(self, product_id: str, quantity: int) -> None:
        product = world.products.get(product_id)
        if product is None:
            raise UnknownProduct(f"Unknown product {product_id}")
        if product["inventory"] < quantity:
            raise InsufficientInventory(f"Insufficient inventory for {product['name']}")

    def _move(self, product_id: str, quantity: int) -> None:
        product = world.products[product_id]
        product["inventory"] -= quantity
        product["reserved"] += quantity


class Payments:
    """A payment gateway; charges are idempotent per order (like an idempotency key)."""

    def charge(self, order_id: str, amount: float, customer_email: str | None = None) -> dict[str, Any]:
        """Charge ``amount`` for ``order_id``; raises PaymentDeclined or PaymentGatewayError."""
        world.count("payments.charge")
        if _take_failure("payment_gateway_failures"):
            raise PaymentGatewayError("payment gateway timed out")
        if knobs.decline_payments:
            raise PaymentDeclined(f"Payment failed: card declined for order {order_id}")
        with world.lock:
            for p in world.payments:
                if p["orderId"] == order_id and p["status"] == "succeeded":
                    return dict(p)
            payment = {"id": world.next_id("pay"), "orderId": order_id, "amount": round(float(amount), 2),
                       "status": "succeeded", "customerEmail": customer_email}
            world.payments.append(payment)
        return dict(payment)

    def refund(self, payment_id: str, reason: str = "") -> dict[str, Any]:
        """Refund a payment (idempotent)."""
        world.count("payments.refund")
        with world.lock:
            for r in world.refunds:
                if r["paymentId"] == payment_id:
                    return dict(r)
            payment = next((p for p in world.payments if p["id"] == payment_id), None)
            if payment is None:
                raise BusinessError(f"No payment {payment_id} to refund")
            payment["status"] = "refunded"
            refund = {"id": world.next_id("ref"), "paymentId": payment_id, "orderId": payment["orderId"],
                      "amount": payment["amount"], "reason": reason}
            world.refunds.append(refund)
        return dict(refund)

    def for_order(self, order_id: str) -> dict[str, Any] | None:
        """The payment of an order, if any."""
        with world.lock:
            return next((dict(p) for p in world.payments if p["orderId"] == order_id), None)

    def record_external(self, intent: dict[str, Any]) -> dict[str, Any]:
        """Record a payment confirmed by the provider (Stripe webhook), once per intent id."""
        world.count("payments.record_external")
        with world.lock:
            for p in world.payments:
                if p["id"] == intent["id"]:
                    return dict(p)
            payment = {"id": intent["id"], "orderId": (intent.get("metadata") or {}).get("orderId"),
                       "amount": intent.get("amount", 0) / 100, "status": "succeeded", "source": "stripe"}
            world.payments.append(payment)
        return dict(payment)


class Shipping:
    """Shipments and backorders (one of each per order at most)."""

    def create(self, order_id: str, items: Iterable[Any], payment_id: str | None = None) -> dict[str, Any]:
        """Create the shipment of an order (idempotent per order)."""
        world.count("shipping.create")
        with world.lock:
            for s in world.shipments:
                if s["orderId"] == order_id:
                    return dict(s)
            shipment = {"id": world.next_id("shp"), "orderId": order_id, "status": "pending",
                        "items": _items(items), "paymentId": payment_id}
            world.shipments.append(shipment)
        return dict(shipment)

    def backorder(self, order_id: str, items: Iterable[Any]) -> dict[str, Any]:
        """Put an order on backorder (idempotent per order)."""
        world.count("shipping.backorder")
        with world.lock:
            for b in world.backorders:
                if b["orderId"] == order_id:
                    return dict(b)
            backorder = {"id": world.next_id("bko"), "orderId": order_id, "items": _items(items)}
            world.backorders.append(backorder)
        return dict(backorder)


class Carts:
    """Whether a cart was bought after all (cart reminders check before nagging)."""

    def status(self, cart_id: str) -> str:
        """``"purchased"`` or ``"abandoned"``."""
        return "purchased" if cart_id in world.purchased_carts else "abandoned"

    def mark_purchased(self, cart_id: str) -> None:
        """The customer came back and checked out."""
        with world.lock:
            world.purchased_carts.add(cart_id)


# ---- calendar, notifications, reports, storage --------------------------------------------------


class Calendar:
    """``send.Meeting.schedule``."""

    def schedule(self, attendees: list[str], duration: int, subject: str) -> dict[str, Any]:
        """Book a meeting."""
        world.count("calendar.schedule")
        meeting = {"id": world.next_id("mtg"), "attendees": list(attendees), "duration": duration, "subject": subject}
        with world.lock:
            world.meetings.append(meeting)
        return meeting


class Notifier:
    """In-app / chat notifications and the error log."""

    def notify(self, channel: str, message: str, **data: Any) -> dict[str, Any]:
        """Post a notification."""
        world.count("notify")
        note = {"channel": channel, "message": message, **data}
        with world.lock:
            world.notifications.append(note)
        return note

    def log_error(self, error: str, data: Any) -> dict[str, Any]:
        """``send.Error.log``."""
        world.count("error.log")
        entry = {"error": error, "data": data}
        with world.lock:
            world.error_log.append(entry)
        return entry

    def machine(self, machine: str, hook: str, state: str, key: str | None) -> None:
        """Record a state machine hook running (the seed's ``console.log`` lines)."""
        with world.lock:
            world.machine_log.append({"machine": machine, "hook": hook, "state": state, "key": key})


class Reports:
    """Generated reports."""

    def publish(self, kind: str, data: dict[str, Any]) -> dict[str, Any]:
        """Store a report."""
        world.count(f"reports.{kind}")
        report = {"id": world.next_id("rpt"), "kind": kind, **data}
        with world.lock:
            world.reports.append(report)
        return report

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """Reports of one kind."""
        return [r for r in world.reports if r["kind"] == kind]


class Storage:
    """An object store (``uploadToStorage``)."""

    def upload(self, key: str, payload: Any) -> dict[str, Any]:
        """Upload; the next ``knobs.upload_failures`` calls fail."""
        world.count("storage.upload")
        if _take_failure("upload_failures"):
            raise StorageError(f"upload of {key} failed: connection reset")
        obj = {"key": key, "url": f"s3://acme-results/{key}", "size": len(repr(payload))}
        with world.lock:
            world.uploads.append(obj)
        return obj


class Search:
    """The search index."""

    def update_index(self, entity_id: str, document: dict[str, Any]) -> dict[str, Any]:
        """(Re)index one entity."""
        world.count("search.update_index")
        with world.lock:
            world.search_index[entity_id] = dict(document)
            world.index_updates.append({"entityId": entity_id, **document})
        return {"entityId": entity_id, "indexed": True}


# ---- external systems -----------------------------------------------------------------------


class Salesforce:
    """The Salesforce REST API (``fetch('https://api.salesforce.com/leads', ...)``)."""

    base_url = "https://api.salesforce.com"

    def post(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        """POST a JSON body; records the request; the next ``knobs.salesforce_failures`` calls fail."""
        world.count("salesforce.post")
        call = {"method": "POST", "url": f"{self.base_url}{path}", "headers": dict(headers), "body": body}
        with world.lock:
            world.salesforce_calls.append(call)
        if _take_failure("salesforce_failures"):
            raise SalesforceError("Salesforce returned 503 Service Unavailable")
        if not headers.get("Authorization", "").startswith("Bearer "):
            raise BusinessError("Salesforce returned 401: missing bearer token")
        digest = hashlib.sha256(repr(sorted(body.items())).encode()).hexdigest()[:12]
        return {"status": 201, "id": f"00Q{digest}", "success": True}


class ExternalAPI:
    """``externalAPI.call`` (fails ``knobs.external_api_failures`` times, then answers)."""

    def call(self, data: dict[str, Any]) -> dict[str, Any]:
        """Call the API."""
        world.count("external_api.call")
        if _take_failure("external_api_failures"):
            raise ExternalAPIError("external API returned 503")
        return {"ok": True, "echo": data, "attempt": world.calls["external_api.call"]}


class CRM:
    """A CRM behind a circuit breaker."""

    def fetch_account(self, account_id: str) -> dict[str, Any]:
        """Fetch an account; fails while ``knobs.crm_down``."""
        world.count("crm.fetch_account")
        with world.lock:
            world.crm_calls.append(account_id)
        if knobs.crm_down:
            raise CRMUnavailable("CRM is not answering")
        return {"id": account_id, "name": f"Account {account_id}", "tier": "gold"}


class Enrichment:
    """Lead enrichment lookups (company database, social networks)."""

    def lookup_company(self, domain: str) -> dict[str, Any]:
        """Company facts for a web domain."""
        world.count("enrichment.lookup_company")
        name = domain.split(".")[0].replace("-", " ").title()
        return {"domain": domain, "name": name, "employees": 10 * (len(domain) % 7 + 1)}

    def find_social(self, name: str) -> list[dict[str, str]]:
        """Social profiles for a person."""
        world.count("enrichment.find_social")
        handle = name.lower().replace(" ", "")
        return [{"network": "linkedin", "url": f"https://linkedin.example/in/{handle}"},
                {"network": "github", "url": f"https://github.example/{handle}"}]


# ---- compute ---------------------------------------------------------------------------------


class Compute:
    """Operations for the error, performance and caching examples."""

    def risky(self, data: dict[str, Any]) -> dict[str, Any]:
        """``riskyOperation``: fails while ``knobs.risky_fails``."""
        world.count("compute.risky")
        if knobs.risky_fails:
            raise RiskyOperationError("risky operation blew up")
        return {"source": "primary", "value": data}

    def fallback(self, data: dict[str, Any]) -> dict[str, Any]:
        """``fallbackOperation``: always works, gives a degraded answer."""
        world.count("compute.fallback")
        return {"source": "fallback", "value": data}

    async def slow(self, data: dict[str, Any]) -> dict[str, Any]:
        """``slowOperation``: takes ``knobs.slow_operation_seconds`` (awaited, so LocalCloud's
        virtual-time loop makes a 45-second operation instant yet still past a 30 s timeout)."""
        world.count("compute.slow")
        if knobs.slow_operation_seconds:
            await asyncio.sleep(knobs.slow_operation_seconds)
        return {"done": True, "input": data}

    def process_dataset(self, dataset_id: str, records: list[dict[str, Any]]) -> dict[str, Any]:
        """``processLargeDataset``."""
        world.count("compute.process_dataset")
        checksum = hashlib.sha256(repr(records).encode()).hexdigest()[:16]
        return {"datasetId": dataset_id, "rows": len(records), "checksum": checksum}

    def complex_calculation(self, data: dict[str, Any]) -> dict[str, Any]:
        """An expensive, pure computation (counted, so tests see cache hits)."""
        world.count("compute.complex_calculation")
        with world.lock:
            world.calculations.append(data)
        digest = hashlib.sha256(repr(sorted(data.items())).encode()).hexdigest()
        return {"input": data, "score": int(digest[:8], 16) % 1000}

    def operation(self, data: dict[str, Any], n: int) -> dict[str, Any]:
        """One unit of work (``operation1`` ... or ``operation(data, i)``)."""
        world.count("compute.operation")
        return {"op": n, "value": f"{data.get('id', 'data')}:{n}"}

    async def operation_async(self, data: dict[str, Any], n: int) -> dict[str, Any]:
        """The same unit of work, as a coroutine that yields once (concurrency is tracked)."""
        with _track("compute.operation"):
            await asyncio.sleep(0)
            return self.operation(data, n)

    def render_report(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A heavy renderer protected by a bulkhead (concurrency is tracked)."""
        world.count("compute.render_report")
        with _track("compute.render_report"):
            report = {"id": world.next_id("pdf"), "title": spec.get("title", "report"), "pages": 3}
            with world.lock:
                world.renders.append(report)
            return report


# ---- the service singletons the workflows use ---------------------------------------------------

email = EmailService()
db = Database()
directory = Directory()
inventory = Inventory()
payments = Payments()
shipping = Shipping()
carts = Carts()
calendar = Calendar()
notifier = Notifier()
reports = Reports()
storage = Storage()
search = Search()
salesforce = Salesforce()
external_api = ExternalAPI()
crm = CRM()
enrichment = Enrichment()
compute = Compute()
