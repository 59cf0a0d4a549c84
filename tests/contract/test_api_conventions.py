"""Conventions of the API: durations as seconds or timedelta, unique step names, idempotent
starts by id and clear errors for unknown names."""

from __future__ import annotations

from datetime import timedelta

import pytest

from stepbridge import App, Context
from stepbridge.errors import (
    ExecutionAlreadyExists,
    ExecutionNotFound,
    UnknownWorkflowError,
)
from stepbridge.local import LocalCloud


def test_duplicate_step_name():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context) -> None:
        await ctx.step("a", lambda: 1)
        await ctx.step("a", lambda: 2)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("w")
        d = c.describe(h.execution_id)
        assert d.status == "FAILED" and "DuplicateStep" in d.error["type"]


def test_start_conflict_and_unknown():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context, x: int) -> int:
        return x

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        c.start("w", 1, execution_id="x1")
        with pytest.raises(ExecutionAlreadyExists):
            c.start("w", 2, execution_id="x1")
        with pytest.raises(UnknownWorkflowError):
            c.start("nope", 1)
        with pytest.raises(ExecutionNotFound):
            c.describe("nope")
        h = c.start("w", 1, execution_id="x1")
        assert h.created is False and h.result() == 1


def test_durations_accept_seconds_and_timedelta():
    app = App("d")

    @app.workflow("w")
    async def w(ctx: Context) -> list:
        a = await ctx.wait_for("X", timeout=60, default="t1")
        b = await ctx.wait_for("X", timeout=timedelta(seconds=60), default="t2")
        await ctx.sleep(30)
        await ctx.sleep(timedelta(seconds=30))
        c = await ctx.step("s", lambda: 1, timeout=timedelta(seconds=5))
        return [a, b, c]

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        cloud.advance(179)
        assert h.status == "RUNNING"
        cloud.advance(1)
        assert h.result() == ["t1", "t2", 1]
