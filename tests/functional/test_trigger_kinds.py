"""Every trigger kind on LocalCloud (moto): events, several events, filters, input JMESPath,
debounce, recurring schedules, deferred starts and state machines."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, State, StateMachine, Transition
from stepbridge.local import LocalCloud


def make_app() -> App:
    app = App("trig")

    @app.workflow("greet")
    async def greet(ctx: Context, user: dict[str, Any]) -> str:
        return f"hello {user['name']}"

    @app.workflow("big-orders")
    async def big_orders(ctx: Context, items: list[str]) -> Any:
        return items

    @app.workflow("index")
    async def index(ctx: Context, entity: dict[str, Any]) -> Any:
        return entity

    @app.workflow("report")
    async def report(ctx: Context, data: dict[str, Any]) -> Any:
        return data["scheduled_time"]

    @app.workflow("cleanup")
    async def cleanup(ctx: Context, data: dict[str, Any]) -> Any:
        return data["scheduled_time"]

    app.on(["User.registered", "User.verified"], greet)
    app.on("Order.created", big_orders, filter={"total": [{"numeric": [">", 100]}]}, input="detail.items")
    app.on("Entity.updated", index, debounce=timedelta(seconds=5), key="detail.entityId")
    app.every("daily", at="09:00", workflow=report, timezone="UTC")
    app.schedule("weekly-cleanup", "0 2 * * 0", cleanup)
    return app


@pytest.fixture
def cloud() -> Any:
    with LocalCloud(make_app()) as c:
        yield c


def test_event_trigger_starts_once_per_event_even_if_redelivered(cloud: LocalCloud) -> None:
    client = cloud.client()
    client.send_event("User.registered", {"name": "ada"})
    client.send_event("User.verified", {"name": "bob"})
    runs = client.list(workflow="greet")
    assert sorted(r.result for r in runs) == ["hello ada", "hello bob"]
    # a redelivery of the same EventBridge event (same id) starts nothing new
    first = cloud.events[0]
    from stepbridge.handlers import router

    envelope = {"id": first.id, "detail-type": first.detail_type, "source": first.source, "detail": first.detail}
    router.handle({"trigger": cloud.app.triggers[0].name, "event": envelope}, cloud.env)
    cloud.run_until_idle()
    assert len(client.list(workflow="greet")) == 2


def test_content_filter_and_input_expression(cloud: LocalCloud) -> None:
    client = cloud.client()
    client.send_event("Order.created", {"total": 50, "items": ["small"]})
    client.send_event("Order.created", {"total": 500, "items": ["tv", "sofa"]})
    runs = client.list(workflow="big-orders")
    assert [r.result for r in runs] == [["tv", "sofa"]]


def test_debounce_trailing_edge_per_key(cloud: LocalCloud) -> None:
    client = cloud.client()
    for n in range(5):
        client.send_event("Entity.updated", {"entityId": "e1", "n": n})
        cloud.advance(2)  # each event inside the 5 s window resets the timer
    client.send_event("Entity.updated", {"entityId": "e2", "n": 100})
    assert client.list(workflow="index") == []
    cloud.advance(6)
    runs = client.list(workflow="index")
    assert sorted((r.result["entityId"], r.result["n"]) for r in runs) == [("e1", 4), ("e2", 100)]


def test_schedules_fire_on_the_virtual_clock_for_a_week(cloud: LocalCloud) -> None:
    client = cloud.client()
    start = cloud.now()  # Monday 2026-01-05 08:00 UTC
    cloud.advance(timedelta(days=7))
    daily = sorted(r.result for r in client.list(workflow="report"))
    assert len(daily) == 7
    assert daily[0].startswith("2026-01-05T09:00:00")
    weekly = [r.result for r in client.list(workflow="cleanup")]
    assert len(weekly) == 1 and weekly[0].startswith("2026-01-11T02:00:00")
    assert cloud.now() == start + timedelta(days=7)


def test_state_machine_transitions_guards_and_rejections() -> None:
    app = App("sm")
    log: list[str] = []
    machine = StateMachine(
        "order",
        initial="draft",
        context={"items": []},
        states={
            "draft": State(on={"submit": Transition("pending", guard=lambda o: len(o["items"]) > 0)}),
            "pending": State(
                entry=lambda o: log.append("pending"),
                on={"pay": Transition("paid", action=lambda o, e: {"paymentId": e.detail["paymentId"]})},
            ),
            "paid": State(),
        },
    )
    app.state_machine(machine, events={"Order.submitted": "submit", "Order.paid": "pay"}, key="detail.orderId")
    with LocalCloud(app) as cloud:
        client = cloud.client()
        client.send_event("Order.submitted", {"orderId": "o1", "items": []})  # guard false
        assert client.machine_state("order", "o1") is None
        rejected = [e.detail for e in cloud.events if e.detail_type == "StateMachine.rejected"]
        assert rejected and "guard" in rejected[0]["reason"]
        client.send_event("Order.submitted", {"orderId": "o1", "items": ["x"]})
        client.send_event("Order.paid", {"orderId": "o1", "paymentId": "p9"})
        state = client.machine_state("order", "o1")
        assert state is not None
        assert state["state"] == "paid" and state["context"]["paymentId"] == "p9"
        assert log == ["pending"]
        client.send_event("Order.submitted", {"orderId": "o1", "items": ["y"]})  # no transition from paid
        again = client.machine_state("order", "o1")
        assert again is not None and again["version"] == state["version"] and again["state"] == "paid"
