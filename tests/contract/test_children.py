"""Child workflows: the handle's fields, and cancelling a parent cancels its children."""

from __future__ import annotations

from stepbridge import App, Context
from stepbridge.local import LocalCloud


def test_child_handle_fields():
    app = App("c")

    @app.workflow("kid")
    async def kid(ctx: Context, x: dict) -> dict:
        return x

    @app.workflow("par")
    async def par(ctx: Context) -> dict:
        h = await ctx.start_child(kid, {"a": 1})
        return {"id": h.execution_id, "input": h.input, "res": await h.result()}

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        r = c.start("par").result()
        assert r["input"] == {"a": 1} and r["res"] == {"a": 1}
        assert c.describe(r["id"]).status == "SUCCEEDED"


def test_gather_children_cancel_parent_cancels_all():
    app = App("g")

    @app.workflow("kid")
    async def kid(ctx: Context, i: int) -> None:
        await ctx.wait_for("Never")

    @app.workflow("par")
    async def par(ctx: Context) -> None:
        await ctx.gather(ctx.child(kid, 1), ctx.child(kid, 2))

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("par")
        assert len(c.list(workflow="kid", status="RUNNING")) == 2
        c.cancel(h.execution_id)
        assert len(c.list(workflow="kid", status="CANCELLED")) == 2
