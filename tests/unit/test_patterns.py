"""Circuit breaker and bulkhead: state shared through the store, decisions journaled."""

from __future__ import annotations

from typing import Any

from stepbridge import App, CircuitOpenError, Context
from stepbridge.local import LocalCloud
from stepbridge.patterns import Bulkhead, CircuitBreaker, with_retry


def test_breaker_opens_after_threshold_then_half_opens_after_cooldown() -> None:
    app = App("t")
    breaker = CircuitBreaker("payments", threshold=2, cooldown=60)
    health = {"up": False, "calls": 0}

    def call_api() -> str:
        health["calls"] += 1
        if not health["up"]:
            raise ConnectionError("down")
        return "ok"

    @app.workflow("guarded")
    async def guarded(ctx: Context) -> str:
        try:
            return str(await breaker.call(ctx, "call-api", call_api))
        except CircuitOpenError:
            return "open"
        except ConnectionError:
            return "failed"

    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        results = [client.start("guarded").result() for _ in range(4)]
        assert results == ["failed", "failed", "open", "open"]
        assert health["calls"] == 2  # the open breaker did not call the API
        assert breaker.state(cloud.store)["state"] == "open"
        cloud.advance(61)
        health["up"] = True
        assert client.start("guarded").result() == "ok"  # half-open trial succeeds
        assert breaker.state(cloud.store)["state"] == "closed"


def test_half_open_failure_reopens() -> None:
    app = App("t")
    breaker = CircuitBreaker("svc", threshold=1, cooldown=10)

    def fail() -> None:
        raise ConnectionError("still down")

    @app.workflow("g")
    async def g(ctx: Context) -> str:
        try:
            await breaker.call(ctx, "svc-call", fail)
        except CircuitOpenError:
            return "open"
        except ConnectionError:
            return "failed"
        return "ok"

    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        assert client.start("g").result() == "failed"
        assert client.start("g").result() == "open"
        cloud.advance(11)
        assert client.start("g").result() == "failed"  # the half-open trial fails
        assert breaker.state(cloud.store)["state"] == "open"


def test_bulkhead_limits_concurrent_holders_across_executions() -> None:
    app = App("t")
    bulkhead = Bulkhead("reports", max_concurrent=2, poll=1)
    peak = {"now": 0, "max": 0}

    @app.step(timeout=30)
    def generate(n: int) -> int:
        return n

    @app.workflow("report")
    async def report(ctx: Context, n: int) -> Any:
        return await bulkhead.call(ctx, "generate", generate, n)

    with LocalCloud(app, backend="memory", eager=False) as cloud:
        client = cloud.client()
        handles = [client.start("report", i) for i in range(5)]
        for _ in range(100):
            cloud.run_until_idle()
            holders = bulkhead.holders(cloud.store)
            peak["max"] = max(peak["max"], len(holders))
            if all(client.describe(h.execution_id).status == "SUCCEEDED" for h in handles):
                break
            cloud.advance(1)
        assert [h.result() for h in handles] == [0, 1, 2, 3, 4]
        assert peak["max"] <= 2
        assert bulkhead.holders(cloud.store) == {}


def test_with_retry_helper_uses_backoff() -> None:
    app = App("t")
    n = {"calls": 0}

    def flaky() -> str:
        n["calls"] += 1
        if n["calls"] < 3:
            raise TimeoutError("slow")
        return "ok"

    @app.workflow("r")
    async def r(ctx: Context) -> str:
        return str(await with_retry(ctx, "flaky", flaky, max_attempts=3, backoff="linear", initial_delay=2))

    with LocalCloud(app, backend="memory") as cloud:
        start = cloud.now()
        assert cloud.client().start("r").result() == "ok"
        elapsed = (cloud.now() - start).total_seconds()
        assert 1.5 <= elapsed <= 6.0  # linear 2 s then 4 s, jittered down to at least half
