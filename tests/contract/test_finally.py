from __future__ import annotations

from datetime import timedelta

from stepbridge import App, Context
from stepbridge.local import LocalCloud


def test_finally_cleanup_step_runs_after_the_sleep_not_at_suspension():
    """Plain-Python try/finally in a workflow: the cleanup step must run when the try block ends."""
    ev = []
    app = App("f")

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            await ctx.sleep(timedelta(minutes=1))
            ev.append("after-sleep")
        finally:
            await ctx.step("cleanup", lambda: ev.append("cleanup"))
        return "ok"

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        assert ev == [], f"cleanup ran while the workflow was only suspended: {ev}"
        cloud.advance(timedelta(minutes=2))
        assert h.result() == "ok"
        assert ev == ["after-sleep", "cleanup"]


def test_finally_after_declared_step():
    ev = []
    app = App("f")

    @app.step
    def work() -> int:
        ev.append("work")
        return 1

    @app.workflow("w")
    async def w(ctx: Context) -> int:
        try:
            return await ctx.step("work", work)
        finally:
            await ctx.step("cleanup", lambda: ev.append("cleanup"))

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w").result() == 1
        assert ev == ["work", "cleanup"], ev
