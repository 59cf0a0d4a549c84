"""The step cache (``cache_ttl``): shared across workflows by canonical-JSON arguments, failures not cached."""

from __future__ import annotations

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud


def test_step_cache_shared_across_workflows_and_canonical_json():
    app = App("c")
    calls = []

    def lookup(q):
        calls.append(q)
        return {"n": len(calls)}

    @app.workflow("a")
    async def a(ctx: Context, q: dict) -> dict:
        return await ctx.step("lookup-company", lookup, q, cache_ttl=3600)

    @app.workflow("b")
    async def b(ctx: Context, q: dict) -> dict:
        return await ctx.step("lookup-company", lookup, q, cache_ttl=3600)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        assert c.start("a", {"x": 1, "y": 2}).result() == {"n": 1}
        assert c.start("b", {"y": 2, "x": 1}).result() == {"n": 1}
        assert len(calls) == 1


def test_step_cache_failure_not_cached():
    app = App("c")
    calls = []

    def f():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("x")
        return "ok"

    @app.workflow("a")
    async def a(ctx: Context) -> str:
        try:
            return await ctx.step("s", f, cache_ttl=3600, retry=Retry(max_attempts=1))
        except RuntimeError:
            return "failed"

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        assert c.start("a").result() == "failed"
        assert c.start("a").result() == "ok"
