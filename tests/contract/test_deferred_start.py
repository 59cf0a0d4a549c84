"""Deferred starts (``client.start(at=/delay=)``): naive datetimes, SCHEDULED listing, cancel before start."""

from __future__ import annotations

from datetime import datetime, timedelta

from stepbridge import App, Context
from stepbridge.local import LocalCloud


def test_deferred_start_naive_at_and_list_scheduled():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return ctx.now().isoformat()

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        at = (cloud.now() + timedelta(hours=2)).replace(tzinfo=None)
        h = c.start("w", at=at)
        assert [d.execution_id for d in c.list(status="SCHEDULED")] == [h.execution_id]
        cloud.advance(timedelta(hours=2))
        assert datetime.fromisoformat(h.result()) >= cloud.now() - timedelta(seconds=1)


def test_cancel_scheduled_never_runs():
    app = App("g")
    ran = []

    @app.workflow("w")
    async def w(ctx: Context) -> None:
        await ctx.step("s", lambda: ran.append(1))

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w", delay=timedelta(minutes=5))
        d = h.cancel()
        assert d.status == "CANCELLED"
        cloud.advance(timedelta(hours=1))
        assert ran == [] and h.status == "CANCELLED"
