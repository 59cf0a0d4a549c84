from __future__ import annotations

from datetime import timedelta

import pytest

from stepbridge import App, Context, Retry
from stepbridge.errors import NonRetryableError
from stepbridge.local import LocalCloud


class Transient(Exception):
    pass


class Permanent(Exception):
    pass


def _flaky(counter, fails, exc=RuntimeError):
    def fn():
        counter.append(1)
        if len(counter) <= fails:
            raise exc("boom")
        return "ok"

    return fn


def test_retry_n_attempts_total():
    app = App("r")
    calls = []

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return await ctx.step("s", _flaky(calls, 10), retry=Retry(max_attempts=4, jitter=False))

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        cloud.advance(timedelta(minutes=5))
        assert h.status == "FAILED"
        assert len(calls) == 4


def test_default_retry_three_attempts_exponential_from_1s():
    app = App("r")
    calls = []

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return await ctx.step("s", _flaky(calls, 10))

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        assert len(calls) == 1
        cloud.advance(0.4)
        assert len(calls) == 1
        cloud.advance(1)  # jitter in [0.5,1]
        assert len(calls) == 2
        cloud.advance(2)
        assert len(calls) == 3
        cloud.advance(60)
        assert len(calls) == 3
        assert h.status == "FAILED"


def test_default_retry_declared_step():
    app = App("r")
    calls = []

    @app.step
    def bad() -> None:
        calls.append(1)
        raise RuntimeError("x")

    @app.workflow("w")
    async def w(ctx: Context) -> None:
        await ctx.step("s", bad)

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        cloud.advance(60)
        assert h.status == "FAILED" and len(calls) == 3


@pytest.mark.parametrize(
    "backoff,expected",
    [
        ("exponential", [1, 2, 4, 8, 16, 30, 30]),
        ("linear", [1, 2, 3, 4, 5, 6, 7]),
        ("fixed", [1, 1, 1, 1, 1, 1, 1]),
    ],
)
def test_backoff_formulas(backoff, expected):
    r = Retry(max_attempts=8, backoff=backoff, initial_delay=1.0, jitter=False)
    assert [r.base_delay(k) for k in range(1, 8)] == expected


def test_retry_defaults():
    r = Retry()
    assert r.max_attempts == 3 and r.backoff == "exponential" and r.initial_delay == 1.0
    assert r.max_delay == 30 and r.jitter is True


def test_max_delay_cap():
    r = Retry(max_attempts=10, initial_delay=10, max_delay=15, jitter=False)
    assert r.base_delay(3) == 15


def test_retry_timedelta_durations():
    r = Retry(initial_delay=timedelta(seconds=2), max_delay=timedelta(seconds=5), jitter=False)
    assert r.base_delay(1) == 2 and r.base_delay(3) == 5


def test_durable_backoff_timing_no_jitter():
    app = App("r")
    calls = []

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        return await ctx.step(
            "s", _flaky(calls, 2), retry=Retry(max_attempts=3, backoff="linear", initial_delay=10, jitter=False)
        )

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        cloud.advance(9.9)
        assert len(calls) == 1
        cloud.advance(0.1)
        assert len(calls) == 2
        cloud.advance(19.9)
        assert len(calls) == 2
        cloud.advance(0.1)
        assert len(calls) == 3
        assert h.result() == "ok"


def test_retry_on_filter():
    app = App("r")
    calls = []

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            return await ctx.step("s", _flaky(calls, 5, Permanent), retry=Retry(max_attempts=5, retry_on=(Transient,)))
        except Permanent:
            return "permanent"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w").result() == "permanent"
        assert len(calls) == 1


def test_non_retryable_filter():
    app = App("r")
    calls = []

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            return await ctx.step(
                "s", _flaky(calls, 5, Permanent), retry=Retry(max_attempts=5, non_retryable=(Permanent,))
            )
        except Permanent:
            return "permanent"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w").result() == "permanent"
        assert len(calls) == 1


def test_non_retryable_error():
    app = App("r")
    calls = []

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        try:
            return await ctx.step("s", _flaky(calls, 5, NonRetryableError))
        except NonRetryableError:
            return "nr"

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("w").result() == "nr"
        assert len(calls) == 1


def test_declared_step_retry_default_from_decorator():
    app = App("r")
    calls = []

    @app.step(retry=Retry(max_attempts=5, jitter=False))
    def bad() -> None:
        calls.append(1)
        raise RuntimeError("x")

    @app.workflow("w")
    async def w(ctx: Context) -> None:
        await ctx.step("s", bad)

    with LocalCloud(app, backend="memory") as cloud:
        h = cloud.client().start("w")
        cloud.advance(600)
        assert h.status == "FAILED" and len(calls) == 5


def test_step_cache_ttl_shared_and_expires():
    app = App("c")
    calls = []

    def expensive(x):
        calls.append(x)
        return x * 2

    @app.workflow("w")
    async def w(ctx: Context, x: int) -> int:
        return await ctx.step("expensive", expensive, x, cache_ttl=3600)

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        assert c.start("w", 2).result() == 4
        assert c.start("w", 2).result() == 4
        assert calls == [2]
        assert c.start("w", 3).result() == 6
        assert calls == [2, 3]
        cloud.advance(timedelta(seconds=3601))
        assert c.start("w", 2).result() == 4
        assert calls == [2, 3, 2]


def test_step_cache_key_explicit():
    app = App("c")
    calls = []

    def expensive(x):
        calls.append(x)
        return x * 2

    @app.workflow("w")
    async def w(ctx: Context, x: int) -> int:
        return await ctx.step("expensive", expensive, x, cache_ttl=timedelta(hours=1), cache_key="k")

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        assert c.start("w", 2).result() == 4
        assert c.start("w", 3).result() == 4
        assert calls == [2]


def test_workflow_cache_ttl():
    app = App("c")
    calls = []

    @app.workflow("expensive-operation", cache_ttl=3600)
    async def w(ctx: Context, inp: dict) -> int:
        return await ctx.step("expensive", lambda: calls.append(1) or len(calls))

    with LocalCloud(app, backend="memory") as cloud:
        c = cloud.client()
        assert c.start("expensive-operation", {"a": 1, "b": 2}).result() == 1
        h = c.start("expensive-operation", {"b": 2, "a": 1})
        assert h.result() == 1
        assert c.describe(h.execution_id).status == "SUCCEEDED"
        assert calls == [1]
        cloud.advance(3601)
        assert c.start("expensive-operation", {"a": 1, "b": 2}).result() == 2
