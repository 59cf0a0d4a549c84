"""A declared step that crashes or never reports is caught by its deadline timer."""

from __future__ import annotations

from datetime import timedelta

from stepbridge import App, Context, Retry, StepTimeout
from stepbridge.local import Crash, LocalCloud


def test_declared_step_crash_caught_by_deadline():
    app = App("d")
    calls = []

    @app.step(timeout=10, retry=Retry(max_attempts=2, jitter=False))
    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise Crash()
        return "ok"

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return await ctx.step("f", flaky)

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        assert h.status == "RUNNING"
        cloud.advance(timedelta(minutes=5))
        assert h.result() == "ok" and len(calls) == 2


def test_declared_step_never_reports_steptimeout():
    app = App("d")

    @app.step(timeout=10)
    def dies() -> str:
        raise Crash()

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            return await ctx.step("f", dies, retry=Retry(max_attempts=1))
        except StepTimeout:
            return "timeout"

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        cloud.advance(timedelta(minutes=5))
        assert h.result() == "timeout"
