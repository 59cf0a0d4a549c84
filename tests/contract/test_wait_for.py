"""wait_for matching: ``where`` sees the detail, nested ``match``, each event satisfies one wait;
a cancelled execution's wait is dropped."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stepbridge import App, Context
from stepbridge.errors import (
    ExecutionFailedError,
)
from stepbridge.local import LocalCloud


def test_wait_for_where_receives_detail_only_and_event_reuse_across_waits():
    """Two wait_for with different filters for the same event type, each event once."""
    app = App("w")

    @app.workflow("w")
    async def w(ctx: Context) -> list:
        a, b = await ctx.gather(
            ctx.wait_for("Vote", where=lambda d: d["v"] == "a"),
            ctx.wait_for("Vote", where=lambda d: d["v"] == "b"),
        )
        return [a["v"], b["v"]]

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        c.send_event("Vote", {"v": "b"})
        c.send_event("Vote", {"v": "a"})
        assert h.result() == ["a", "b"]


def test_same_event_two_waits_same_filter_only_one():
    app = App("w")

    @app.workflow("w")
    async def w(ctx: Context) -> list:
        a, b = await ctx.gather(
            ctx.wait_for("Vote", timeout=60, default=None),
            ctx.wait_for("Vote", timeout=60, default=None),
        )
        return [a, b]

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        c.send_event("Vote", {"v": 1})
        cloud.advance(61)
        r = h.result()
        assert sorted([x is None for x in r]) == [False, True]


def test_cancel_stops_waits():
    app = App("c")

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        await ctx.wait_for("E", timeout=timedelta(hours=1))
        return "x"

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        c.cancel(h.execution_id)
        c.send_event("E", {})
        cloud.advance(timedelta(hours=2))
        d = c.describe(h.execution_id)
        assert d.status == "CANCELLED"
        with pytest.raises(ExecutionFailedError):
            h.result()


def test_wait_for_nested_match():
    app = App("w")

    @app.workflow("w")
    async def w(ctx: Context) -> dict:
        return await ctx.wait_for("E", match={"a": {"b": 1}}, timeout=60)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        c.send_event("E", {"a": {"b": 2}})
        c.send_event("E", {"a": {"b": 1, "c": 3}})
        assert h.result() == {"a": {"b": 1, "c": 3}}
