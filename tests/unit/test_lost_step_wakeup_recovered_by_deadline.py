"""A step report whose wake-up was lost is recovered by the step's deadline timer, with or without a warm
journal copy, and the step does not run again.

Without the cache, the deadline replay reads the whole journal, finds the result and moves on.
With a warm copy it does not see the result (nothing announced it) and records a timeout."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import pytest
from test_journal_cache import trickle

from stepbridge import App, Context, Retry
from stepbridge.handlers import step as step_handler
from stepbridge.local import LocalCloud
from stepbridge.local.cloud import Crash
from stepbridge.runtime.records import StepInvocation


def lost_wake_app(calls: list[int]) -> App:
    app = App("lostwake")

    @app.step(timeout=30, retry=Retry(max_attempts=3, backoff="fixed", initial_delay=1))
    def work(i: int) -> int:
        calls.append(i)
        return i * 10

    @app.workflow("one")
    async def one(ctx: Context, n: int) -> int:
        return await ctx.step("w", work, n)

    return app


class _CrashOnWake:
    """Effects whose ``wake`` kills the container (the step Lambda died after writing its report)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def wake(self, message: Any) -> None:
        raise Crash()  # the step container died after its journal write

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _run(cloud: LocalCloud, execution_id: str, *, lose_first_wake: bool) -> None:
    lost = False

    def run_step(cloud: LocalCloud, inv: StepInvocation) -> None:
        nonlocal lost
        env = cloud.env
        if lose_first_wake and not lost:
            env = dataclasses.replace(cloud.env, effects=_CrashOnWake(cloud.env.effects))
            lost = True
        with contextlib.suppress(Crash):
            step_handler.handle(inv.to_dict(), env, cloud._lambda_context(inv))

    trickle(cloud, execution_id, run_step, limit=500)


@pytest.mark.parametrize("cached", [False, True])
def test_a_lost_step_wake_up_is_recovered_by_the_deadline_without_running_the_step_again(cached: bool) -> None:
    calls: list[int] = []
    with LocalCloud(lost_wake_app(calls), backend="memory") as cloud:
        if not cached:
            cloud.env.journal_cache = None
        client = cloud.client()
        cloud.eager = False
        h = client.start("one", 4)
        _run(cloud, h.execution_id, lose_first_wake=True)
        d = client.describe(h.execution_id)
        assert d.status == "SUCCEEDED" and d.result == 40
        keys = sorted(r.key for r in cloud.store.load_journal(h.execution_id) if not r.op.startswith("$"))
        # A full-journal replay at the deadline finds the result: no timeout, no second run.
        assert (keys, calls) == (["w", "w#d1"], [4])
