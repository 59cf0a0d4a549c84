"""Sync step functions run in a worker thread, inline or declared, and may call ``asyncio.run``."""

from __future__ import annotations

import threading

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud


def test_sync_step_runs_in_worker_thread():
    app = App("t")
    seen = {}

    def sync_fn():
        seen["step"] = threading.get_ident()
        return 1

    @app.workflow("a")
    async def a(ctx: Context) -> int:
        seen["wf"] = threading.get_ident()
        return await ctx.step("s", sync_fn)

    with LocalCloud(app, backend="memory") as cloud:
        cloud.client().start("a").result()
        assert seen["step"] != seen["wf"]


def test_sync_step_may_use_asyncio_run_inline():
    """A sync step run 'in a worker thread' can call asyncio.run (common wrapper for async clients)."""
    import asyncio

    app = App("t")

    async def fetch():
        return 5

    def sync_fn():
        return asyncio.run(fetch())

    @app.workflow("a")
    async def a(ctx: Context) -> int:
        return await ctx.step("s", sync_fn, retry=Retry(max_attempts=1))

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("a").result() == 5


def test_sync_declared_step_may_use_asyncio_run():
    import asyncio

    app = App("t")

    async def fetch():
        return 6

    @app.step(retry=Retry(max_attempts=1))
    def sync_declared() -> int:
        return asyncio.run(fetch())

    @app.workflow("a")
    async def a(ctx: Context) -> int:
        return await ctx.step("s", sync_declared)

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("a").result() == 6
