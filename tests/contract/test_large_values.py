"""A step result over the journal's item limit fails clearly (or is offloaded)."""

from __future__ import annotations

from stepbridge import App, Context
from stepbridge.local import LocalCloud


def test_large_result_fails_clearly_or_offloads():
    app = App("c")

    @app.workflow("a")
    async def a(ctx: Context) -> int:
        r = await ctx.step("big", lambda: "x" * 500_000)
        return len(r)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        h = c.start("a")
        d = c.describe(h.execution_id)
        if d.status == "FAILED":
            assert "PayloadTooLarge" in d.error["type"] or "large" in d.error["message"].lower()
        else:
            assert h.result() == 500_000
