"""Sync step functions run in a worker thread under LocalCloud as in AWS; step errors come back as their own type."""

from __future__ import annotations

import asyncio
import threading

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime.replay import error_dict, rebuild_error


async def _five() -> int:
    await asyncio.sleep(0)
    return 5


def thread_app(seen: dict[str, int]) -> App:
    app = App("threads")

    def inline_sync() -> int:
        seen["inline"] = threading.get_ident()
        return asyncio.run(_five())  # its own event loop: only possible off the workflow's loop thread

    @app.step(timeout=30)
    def declared_sync() -> int:
        seen["declared"] = threading.get_ident()
        return asyncio.run(_five())

    @app.workflow("both")
    async def both(ctx: Context) -> int:
        seen["workflow"] = threading.get_ident()
        a = await ctx.step("inline", inline_sync)
        b = await ctx.step("declared", declared_sync)
        await ctx.sleep(60)  # virtual time still jumps: the thread did not move the clock
        return int(a + b)

    return app


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_sync_step_functions_run_in_a_worker_thread(backend: str) -> None:
    seen: dict[str, int] = {}
    with LocalCloud(thread_app(seen), backend=backend) as cloud:
        started = cloud.now()
        assert cloud.client().start("both").result() == 10
        assert seen["inline"] != seen["workflow"] and seen["declared"] != seen["workflow"]
        assert (cloud.now() - started).total_seconds() == pytest.approx(60, abs=1)


class Custom(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)


@pytest.mark.parametrize(
    "exc",
    [KeyError("missing"), ValueError("bad value"), Custom(7, "why"), LookupError()],
    ids=["KeyError", "ValueError", "two-args", "no-args"],
)
def test_a_recorded_error_is_rebuilt_as_its_own_type(exc: Exception) -> None:
    rebuilt = rebuild_error(error_dict(exc), "op")
    assert type(rebuilt) is type(exc) and str(rebuilt) == str(exc) and rebuilt.args == exc.args


def test_a_key_error_in_a_step_reaches_the_workflow_as_a_key_error() -> None:
    app = App("errors")

    def lookup() -> int:
        return {"a": 1}["missing"]

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            await ctx.step("lookup", lookup)
        except KeyError as exc:
            return f"no key {exc.args[0]}"
        return "found"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w").result() == "no key missing"
