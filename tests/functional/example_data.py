"""Sample inputs and small query helpers shared by the functional tests of the example app."""

from __future__ import annotations

from typing import Any

CUSTOMER = {"id": "c-1", "name": "Ann Example", "email": "ann@example.com"}


def order(order_id: str = "o-1", lines: list[tuple[str, int, float]] | None = None, **extra: Any) -> dict[str, Any]:
    """An order (camelCase, as events carry it); by default 2 Widgets and 1 Gadget = 109.97 (the seed's)."""
    lines = lines if lines is not None else [("product-1", 2, 29.99), ("product-2", 1, 49.99)]
    items = [{"productId": p, "quantity": q, "price": price} for p, q, price in lines]
    return {
        "orderId": order_id,
        "customer": dict(CUSTOMER),
        "items": items,
        "total": round(sum(q * price for _, q, price in lines), 2),
        **extra,
    }


#: An expense over the manager's limit (the expense-approval workflow asks the manager, then the VP).
EXPENSE = {
    "id": "exp-7",
    "amount": 2500,
    "employee": "eve@acme.example",
    "manager": "mia@acme.example",
    "vp": "victor@acme.example",
    "description": "Conference travel",
}

LEAD = {"id": "lead-1", "name": "Bob Builder", "email": "bob@builder.io", "domain": "builder.io"}


def step_names(client: Any, execution_id: str, kind: str = "Step.completed") -> list[str]:
    """Names of the journal entries of one kind (``Step.completed``, ``Step.failed`` ...)."""
    return [e.detail["name"] for e in client.history(execution_id) if e.detail_type == kind]


def journal(client: Any, execution_id: str, kind: str, name: str) -> list[dict[str, Any]]:
    """Details of the journal entries of one kind for one step."""
    return [e.detail for e in client.history(execution_id) if e.detail_type == kind and e.detail.get("name") == name]


def emitted(cloud: Any, detail_type: str) -> list[dict[str, Any]]:
    """Details of the events put on the bus with that type, oldest first."""
    return [e.detail for e in cloud.events if e.detail_type == detail_type]


def executions(client: Any, workflow: str, status: str | None = None) -> list[Any]:
    """Executions of a workflow (optionally in one status)."""
    return client.list(workflow=workflow, status=status)


def only(items: list[Any]) -> Any:
    """The single element of ``items`` (fails loudly otherwise)."""
    assert len(items) == 1, f"expected exactly one, got {len(items)}: {items!r}"
    return items[0]
