"""What an execution leaves for observers: sent events in its history, metrics to Powertools."""

from __future__ import annotations

from stepbridge import App, Context
from stepbridge.local import LocalCloud


def test_history_has_sent_events():
    app = App("h")

    @app.workflow("w")
    async def w(ctx: Context) -> None:
        await ctx.send("Order.confirmed", {"a": 1})

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        h.result()
        hist = c.history(h.execution_id)
        sent = [e for e in hist if e.detail_type == "Order.confirmed"]
        assert sent and sent[0].detail == {"a": 1}
        assert hist[-1].detail_type == "Workflow.completed"


def test_metric_goes_to_powertools():
    """LocalCloud disables Powertools EMF output and records metrics in observability.recorded_metrics."""
    from stepbridge.runtime import observability

    app = App("m")

    @app.workflow("measured")
    async def measured(ctx: Context) -> int:
        ctx.metric("OrdersProcessed", 3, unit="Count")
        return 1

    with LocalCloud(app, backend="memory") as cloud:
        cloud.client().start("measured").result()
    assert any(m["name"] == "OrdersProcessed" and m["value"] == 3 for m in observability.recorded_metrics)
