from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from stepbridge import App, State, StateMachine, Transition
from stepbridge.local import LocalCloud

log: list = []


def submit(order):
    log.append(("action-submit", dict(order)))
    return None


def log_pending(ctx):
    log.append(("entry-pending",))


def pay(order, event):
    log.append(("action-pay",))
    return {"paymentId": "p-" + order["orderId"]}


def exit_pending(ctx):
    log.append(("exit-pending",))


def guard_submit(o):
    log.append(("guard-submit",))
    return len(o["items"]) > 0


def complete_entry(ctx, event):
    return {"completedAt": event.time if isinstance(event.time, str) else event.time.isoformat()}


def can_return(order, event):
    t = (
        event.time
        if isinstance(event.time, datetime)
        else datetime.fromisoformat(str(event.time).replace("Z", "+00:00"))
    )
    done = datetime.fromisoformat(order["completedAt"].replace("Z", "+00:00"))
    return (t - done).total_seconds() / 86400 <= 30


def make_machine():
    return StateMachine(
        "order",
        initial="draft",
        context={"source": "web"},
        states={
            "draft": State(on={"submit": Transition("pending", guard=guard_submit, action=submit)}),
            "pending": State(
                entry=log_pending,
                exit=exit_pending,
                on={"pay": Transition("processing", action=pay), "cancel": Transition("cancelled")},
            ),
            "processing": State(on={"fulfill": Transition("completed"), "fail": Transition("failed")}),
            "completed": State(entry=complete_entry, on={"return": Transition("returned", guard=can_return)}),
            "cancelled": State(),
            "failed": State(on={"retry": Transition("processing")}),
            "returned": State(),
        },
    )


def _app():
    app = App("sm")
    app.state_machine(
        make_machine(),
        events={
            "Order.submitted": "submit",
            "Order.paid": "pay",
            "Order.fulfilled": "fulfill",
            "Order.cancelled": "cancel",
            "Order.returned": "return",
        },
        key="detail.orderId",
    )
    return app


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_order_machine_lifecycle(backend):
    log.clear()
    app = _app()
    with LocalCloud(app, backend=backend) as cloud:
        c = cloud.client()
        assert c.machine_state("order", "o1") is None
        c.send_event("Order.submitted", {"orderId": "o1", "items": ["a"]})
        s = c.machine_state("order", "o1")
        assert s["state"] == "pending"
        assert s["context"]["source"] == "web" and s["context"]["items"] == ["a"]
        assert {"state", "context", "version"} <= set(s)
        assert log[0] == ("guard-submit",)
        assert log[1][:1] == ("action-submit",) and log[2] == ("entry-pending",)
        v1 = s["version"]
        log.clear()
        c.send_event("Order.paid", {"orderId": "o1", "amount": 5})
        s = c.machine_state("order", "o1")
        assert s["state"] == "processing" and s["context"]["paymentId"] == "p-o1" and s["context"]["amount"] == 5
        assert log == [("exit-pending",), ("action-pay",)]
        assert s["version"] > v1
        c.send_event("Order.fulfilled", {"orderId": "o1"})
        assert c.machine_state("order", "o1")["state"] == "completed"
        assert "completedAt" in c.machine_state("order", "o1")["context"]
        cloud.advance(timedelta(days=31))
        c.send_event("Order.returned", {"orderId": "o1"})
        s = c.machine_state("order", "o1")
        assert s["state"] == "completed"  # guard false after 30 days
        rej = [e.detail for e in cloud.events if e.detail_type == "StateMachine.rejected"]
        assert len(rej) == 1


def test_guard_false_rejected_unchanged():
    log.clear()
    app = _app()
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("Order.submitted", {"orderId": "o2", "items": []})
        s = c.machine_state("order", "o2")
        # rejected first event: either None or draft-state instance unchanged
        assert s is None or s["state"] == "draft"
        assert any(e.detail_type == "StateMachine.rejected" for e in cloud.events)


def test_no_transition_rejected_and_context_unchanged():
    log.clear()
    app = _app()
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("Order.submitted", {"orderId": "o3", "items": ["x"]})
        before = c.machine_state("order", "o3")
        c.send_event("Order.fulfilled", {"orderId": "o3", "junk": 1})
        after = c.machine_state("order", "o3")
        assert after["state"] == "pending" and after["context"] == before["context"]
        assert after["version"] == before["version"]
        rej = [e.detail for e in cloud.events if e.detail_type == "StateMachine.rejected"]
        assert len(rej) == 1


def test_return_within_30_days_ok():
    log.clear()
    app = _app()
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        for t in ["Order.submitted", "Order.paid", "Order.fulfilled"]:
            c.send_event(t, {"orderId": "o4", "items": ["x"]})
        cloud.advance(timedelta(days=10))
        c.send_event("Order.returned", {"orderId": "o4"})
        assert c.machine_state("order", "o4")["state"] == "returned"


def test_failed_retry_cycle():
    app = _app()
    app.state_machine  # noqa
    m = make_machine()
    app2 = App("sm2")
    app2.state_machine(
        m,
        events={"Order.submitted": "submit", "Order.paid": "pay", "Order.failed": "fail", "Order.retried": "retry"},
        key="detail.orderId",
    )
    with LocalCloud(app2, backend="memory") as cloud:
        c = cloud.client()
        for t in ["Order.submitted", "Order.paid", "Order.failed", "Order.retried"]:
            c.send_event(t, {"orderId": "o5", "items": ["x"]})
        assert c.machine_state("order", "o5")["state"] == "processing"


def test_async_hooks():
    async def act(ctx):
        return {"n": ctx.get("n", 0) + 1}

    m = StateMachine(
        "t",
        initial="a",
        states={"a": State(on={"go": Transition("b", action=act)}), "b": State(on={"go": Transition("a", action=act)})},
    )
    app = App("sm3")
    app.state_machine(m, events={"Go": "go"}, key="detail.id")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        for _ in range(3):
            c.send_event("Go", {"id": "k"})
        s = c.machine_state("t", "k")
        assert s["state"] == "b" and s["context"]["n"] == 3


def test_state_machine_hook_order_and_event_time():
    order = []

    def g(ctx):
        order.append("guard")
        return True

    def ex(ctx):
        order.append("exit")

    def act(ctx, event):
        order.append("action")
        return {"at": event.time if isinstance(event.time, str) else event.time.isoformat(), "dt": event.detail_type}

    def en(ctx):
        order.append("entry")

    m = StateMachine(
        "m",
        initial="a",
        context={"base": 1},
        states={
            "a": State(exit=ex, on={"go": Transition("b", guard=g, action=act)}),
            "b": State(entry=en),
        },
    )
    app = App("sm")
    app.state_machine(m, events={"Go.now": "go"}, key="detail.id")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("Go.now", {"id": "k", "extra": 2})
        assert order == ["guard", "exit", "action", "entry"]
        s = c.machine_state("m", "k")
        assert s["state"] == "b"
        assert s["context"]["base"] == 1 and s["context"]["extra"] == 2 and s["context"]["id"] == "k"
        assert s["context"]["at"].startswith("2026-01-05")


def test_state_machine_detail_merged_before_guard():
    seen = []
    m = StateMachine(
        "m",
        initial="a",
        states={
            "a": State(on={"go": Transition("b", guard=lambda c: seen.append(dict(c)) or c.get("ok") is True)}),
            "b": State(on={"back": Transition("a")}),
        },
    )
    app = App("sm")
    app.state_machine(m, events={"Go": "go", "Back": "back"}, key="detail.id")
    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.send_event("Go", {"id": "k", "ok": True})
        assert c.machine_state("m", "k")["state"] == "b"
        c.send_event("Back", {"id": "k"})
        c.send_event("Go", {"id": "k", "ok": False})
        assert c.machine_state("m", "k")["state"] == "a"
        assert seen[-1]["ok"] is False
