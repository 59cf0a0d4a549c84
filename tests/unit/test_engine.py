"""Engine semantics on the in-memory backend: replay, retries, timers, waits, children, errors."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from stepbridge import App, Context, Retry, StepTimeout, WaitTimeout
from stepbridge.errors import ExecutionAlreadyExists, ExecutionFailedError, UnknownWorkflowError
from stepbridge.local import Crash, LocalCloud


def cloud_for(app: App, **kw: Any) -> LocalCloud:
    return LocalCloud(app, backend="memory", **kw)


def test_sequential_steps_return_results_and_journal_each_once() -> None:
    app = App("t")
    calls: list[str] = []

    def a() -> int:
        calls.append("a")
        return 1

    @app.workflow("seq")
    async def seq(ctx: Context, x: int) -> dict[str, int]:
        one = await ctx.step("a", a)
        two = await ctx.step("b", lambda: one + x)
        return {"one": one, "two": two}

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("seq", 5)
        assert h.result() == {"one": 1, "two": 6}
        names = [e.detail["name"] for e in client.history(h.execution_id) if e.detail_type == "Step.completed"]
        assert names == ["a", "b"]
        assert calls == ["a"]


def test_crash_between_steps_resumes_without_rerunning_first() -> None:
    app = App("t")
    counts = {"first": 0, "second": 0}

    def first() -> str:
        counts["first"] += 1
        return "done"

    def second() -> str:
        counts["second"] += 1
        if counts["second"] == 1:
            raise Crash()  # the orchestrator container dies mid-invocation
        return "ok"

    @app.workflow("crashy")
    async def crashy(ctx: Context) -> list[str]:
        return [await ctx.step("first", first), await ctx.step("second", second)]

    with cloud_for(app) as cloud:
        h = cloud.client().start("crashy")
        assert h.result() == ["done", "ok"]
        assert counts == {"first": 1, "second": 2}
        assert cloud.crashes["orchestrator"] == 1


def test_retry_backoff_is_measured_on_the_virtual_clock() -> None:
    app = App("t")
    attempts: list[Any] = []

    @app.workflow("flaky")
    async def flaky(ctx: Context) -> str:
        def call() -> str:
            attempts.append(None)
            if len(attempts) < 4:
                raise ConnectionError("try again")
            return "ok"

        return await ctx.step(
            "call", call, retry=Retry(max_attempts=4, backoff="exponential", initial_delay=1, jitter=False)
        )

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("flaky")
        assert h.result() == "ok"
        delays = [e.detail["delay"] for e in client.history(h.execution_id) if e.detail_type == "Step.attempt_failed"]
        assert delays == [1.0, 2.0, 4.0]
        assert (cloud.now() - cloud.clock.now()).total_seconds() == 0
        assert len(attempts) == 4


def test_retry_exhausted_fails_with_original_error_type() -> None:
    app = App("t")

    @app.workflow("bad")
    async def bad(ctx: Context) -> None:
        def boom() -> None:
            raise ValueError("no luck")

        try:
            await ctx.step("boom", boom, retry=Retry(max_attempts=2, jitter=False))
        except ValueError as exc:
            raise RuntimeError(f"caught {exc}") from exc

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("bad")
        with pytest.raises(ExecutionFailedError) as info:
            h.result()
        assert "caught no luck" in info.value.error["message"]
        assert client.describe(h.execution_id).status == "FAILED"


def test_non_retryable_filter_stops_retries() -> None:
    app = App("t")
    n = {"calls": 0}

    @app.workflow("nr")
    async def nr(ctx: Context) -> None:
        def boom() -> None:
            n["calls"] += 1
            raise KeyError("x")

        await ctx.step("boom", boom, retry=Retry(max_attempts=5, non_retryable=(KeyError,)))

    with cloud_for(app) as cloud:
        h = cloud.client().start("nr")
        with pytest.raises(ExecutionFailedError):
            h.result()
        assert n["calls"] == 1


def test_inline_step_timeout_raises_step_timeout_in_virtual_time() -> None:
    import asyncio

    app = App("t")

    @app.workflow("slow")
    async def slow(ctx: Context) -> str:
        async def forever() -> str:
            await asyncio.sleep(3600)
            return "late"

        try:
            return str(await ctx.step("slow-op", forever, timeout=30, retry=Retry(max_attempts=1)))
        except StepTimeout as exc:
            return f"timeout: {exc}"

    with cloud_for(app) as cloud:
        result = cloud.client().start("slow").result()
        assert result.startswith("timeout: step 'slow-op' timed out after 30")


def test_sleep_is_durable_and_advances_virtual_time() -> None:
    app = App("t")

    @app.workflow("sleeper")
    async def sleeper(ctx: Context) -> str:
        before = ctx.now()
        await ctx.sleep(timedelta(hours=2))
        return str(ctx.now() - before)

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("sleeper")
        assert client.describe(h.execution_id).status == "RUNNING"
        cloud.advance(timedelta(hours=1))
        assert client.describe(h.execution_id).status == "RUNNING"
        cloud.advance(timedelta(hours=1))
        assert client.describe(h.execution_id).status == "SUCCEEDED"
        assert client.describe(h.execution_id).result == "2:00:00"


def test_wait_for_by_match_where_and_lookback() -> None:
    app = App("t")

    @app.workflow("waiter")
    async def waiter(ctx: Context, key: str) -> list[Any]:
        await ctx.sleep(60)
        first = await ctx.wait_for("Thing.happened", match={"key": key}, timeout=3600)
        second = await ctx.wait_for("Thing.happened", where=lambda d: d.get("n", 0) > 5, timeout=3600)
        return [first["n"], second["n"]]

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("waiter", "k1")
        client.send_event("Thing.happened", {"key": "other", "n": 1})
        client.send_event("Thing.happened", {"key": "k1", "n": 2})  # arrives before the wait: look-back
        cloud.advance(60)
        assert client.describe(h.execution_id).status == "RUNNING"
        client.send_event("Thing.happened", {"key": "k1", "n": 9})
        assert h.result() == [2, 9]


def test_wait_timeout_raises_and_default_returns() -> None:
    app = App("t")

    @app.workflow("w")
    async def w(ctx: Context) -> Any:
        got = await ctx.wait_for("Never", timeout=timedelta(hours=48), default=None)
        try:
            await ctx.wait_for("Never", timeout=10)
        except WaitTimeout:
            return {"got": got, "raised": True}
        return {"got": got, "raised": False}

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("w")
        cloud.advance(timedelta(hours=47))
        assert client.describe(h.execution_id).status == "RUNNING"
        assert h.result() == {"got": None, "raised": True}


def test_each_event_satisfies_one_wait() -> None:
    app = App("t")

    @app.workflow("two")
    async def two(ctx: Context) -> list[int]:
        a = await ctx.wait_for("E", timeout=100)
        b = await ctx.wait_for("E", timeout=100, default={"n": -1})
        return [a["n"], b["n"]]

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("two")
        client.send_event("E", {"n": 1})
        assert h.result() == [1, -1]


def test_gather_parallel_and_map_with_concurrency() -> None:
    app = App("t")

    @app.step(timeout=10)
    def double(x: int) -> int:
        return x * 2

    @app.workflow("par")
    async def par(ctx: Context) -> dict[str, Any]:
        a, b = await ctx.gather(ctx.step("a", lambda: 1), ctx.step("b", double, 21))
        mapped = await ctx.map("d", list(range(25)), double, concurrency=10)
        return {"a": a, "b": b, "mapped": mapped}

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("par")
        out = h.result()
        assert out == {"a": 1, "b": 42, "mapped": [x * 2 for x in range(25)]}
        dispatched = [e for e in client.history(h.execution_id) if e.detail_type == "Step.dispatched"]
        assert len(dispatched) == 26


def test_map_never_exceeds_concurrency_of_outstanding_declared_steps() -> None:
    app = App("t")

    @app.step(timeout=10)
    def work(x: int) -> int:
        return x

    @app.workflow("m")
    async def m(ctx: Context) -> list[int]:
        return list(await ctx.map("w", list(range(30)), work, concurrency=10))

    with cloud_for(app, eager=False) as cloud:
        h = cloud.client().start("m")
        peak = 0
        for _ in range(200):
            if not cloud._drain_queue() and not cloud._step_queue:
                break
            peak = max(peak, len(cloud._step_queue))
            while cloud._step_queue:
                from stepbridge.handlers import step as step_handler

                step_handler.handle(cloud._step_queue.popleft().to_dict(), cloud.env)
        assert 0 < peak <= 10
        assert h.result() == list(range(30))


def test_child_workflow_result_and_failure() -> None:
    app = App("t")

    @app.workflow("child-ok")
    async def child_ok(ctx: Context, n: int) -> int:
        return n + 1

    @app.workflow("child-bad")
    async def child_bad(ctx: Context, n: int) -> int:
        raise ValueError(f"bad {n}")

    @app.workflow("parent")
    async def parent(ctx: Context) -> dict[str, Any]:
        handle = await ctx.start_child("child-ok", 1)
        value = await handle.result()
        direct = await ctx.child(child_ok, 10)
        try:
            await ctx.child("child-bad", 3)
        except Exception as exc:
            return {"value": value, "direct": direct, "child_id": handle.execution_id, "err": str(exc)}
        return {}

    with cloud_for(app) as cloud:
        client = cloud.client()
        out = client.start("parent", execution_id="p1").result()
        assert out["value"] == 2 and out["direct"] == 11
        assert "bad 3" in out["err"]
        assert client.describe(out["child_id"]).parent_id == "p1"


def test_saga_compensates_in_reverse_order() -> None:
    app = App("t")
    log: list[str] = []

    @app.workflow("trip")
    async def trip(ctx: Context) -> None:
        async with ctx.saga() as saga:
            await ctx.step("book-flight", lambda: log.append("flight"))
            saga.compensate(lambda: log.append("cancel-flight"), name="cancel-flight")
            await ctx.step("book-hotel", lambda: log.append("hotel"))
            saga.compensate(lambda: log.append("cancel-hotel"), name="cancel-hotel")

            def fail() -> None:
                raise RuntimeError("car unavailable")

            await ctx.step("book-car", fail, retry=Retry(max_attempts=1))

    with cloud_for(app) as cloud:
        h = cloud.client().start("trip")
        with pytest.raises(ExecutionFailedError, match="car unavailable"):
            h.result()
        assert log == ["flight", "hotel", "cancel-hotel", "cancel-flight"]


def test_nondeterminism_names_both_steps() -> None:
    app = App("t")
    state = {"version": 1}

    @app.workflow("changing")
    async def changing(ctx: Context) -> None:
        name = "old-step" if state["version"] == 1 else "new-step"
        await ctx.step(name, lambda: 1)
        await ctx.sleep(10)

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("changing")
        state["version"] = 2  # a deploy changed the code under the running execution
        cloud.redeploy()  # (its orchestrator containers start cold: nothing parked runs the old code)
        cloud.advance(10)
        desc = client.describe(h.execution_id)
        assert desc.status == "FAILED"
        assert "old-step" in desc.error["message"] and "new-step" in desc.error["message"]


def test_duplicate_step_name_is_a_clear_error() -> None:
    app = App("t")

    @app.workflow("dup")
    async def dup(ctx: Context) -> None:
        await ctx.step("same", lambda: 1)
        with contextlib.suppress(Exception):  # even swallowed, the execution fails
            await ctx.step("same", lambda: 2)

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("dup")
        desc = client.describe(h.execution_id)
        assert desc.status == "FAILED"
        assert "used the step name 'same' twice" in desc.error["message"]


class Order(BaseModel):
    id: str
    total: float


def test_invalid_input_fails_with_validation_message_without_retry() -> None:
    app = App("t")
    runs = {"n": 0}

    @app.workflow("typed")
    async def typed(ctx: Context, order: Order) -> float:
        runs["n"] += 1
        return order.total

    with cloud_for(app) as cloud:
        client = cloud.client()
        assert client.start("typed", {"id": "o1", "total": "12.5"}).result() == 12.5
        h = client.start("typed", {"id": "o2"})
        desc = client.describe(h.execution_id)
        assert desc.status == "FAILED"
        assert "invalid input for workflow 'typed'" in desc.error["message"] and "total" in desc.error["message"]
        assert runs["n"] == 1


def test_unserialisable_step_result_names_the_step() -> None:
    app = App("t")

    @app.workflow("ser")
    async def ser(ctx: Context) -> None:
        await ctx.step("make-object", lambda: object())

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("ser")
        desc = client.describe(h.execution_id)
        assert desc.status == "FAILED"
        assert "make-object" in desc.error["message"] and "JSON" in desc.error["message"]


def test_start_is_idempotent_and_rejects_other_input() -> None:
    app = App("t")

    @app.workflow("w")
    async def w(ctx: Context, x: int) -> int:
        return x

    with cloud_for(app) as cloud:
        client = cloud.client()
        first = client.start("w", 1, execution_id="same")
        second = client.start("w", 1, execution_id="same")
        assert first.execution_id == second.execution_id and second.created is False
        assert len(client.list()) == 1
        with pytest.raises(ExecutionAlreadyExists):
            client.start("w", 2, execution_id="same")
        with pytest.raises(UnknownWorkflowError, match="unknown workflow 'nope'"):
            client.start("nope")


def test_replay_safe_now_uuid_random_are_stable() -> None:
    app = App("t")
    seen: list[Any] = []

    @app.workflow("ids")
    async def ids(ctx: Context) -> None:
        seen.append((ctx.now(), ctx.uuid(), ctx.random()))
        await ctx.sleep(5)

    with cloud_for(app, sticky=False) as cloud:  # (the wake-up replays from the top: what this test is about)
        h = cloud.client().start("ids")
        h.result()
        assert len(seen) == 2 and seen[0] == seen[1]


def test_cancel_sleeping_execution_cancels_children_and_timers() -> None:
    app = App("t")

    @app.workflow("kid")
    async def kid(ctx: Context) -> None:
        await ctx.sleep(timedelta(days=1))

    @app.workflow("mom")
    async def mom(ctx: Context) -> None:
        handle = await ctx.start_child("kid", None)
        await handle.result()

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("mom", execution_id="mom-1")
        kid_id = "mom-1.child:kid"
        assert client.describe(kid_id).status == "RUNNING"
        client.cancel("mom-1")
        assert client.describe("mom-1").status == "CANCELLED"
        assert client.describe(kid_id).status == "CANCELLED"
        assert [t for t in cloud.timers.pending() if t.schedule is None] == []
        with pytest.raises(ExecutionFailedError):
            h.result()


def test_cancel_with_compensate_runs_saga() -> None:
    app = App("t")
    log: list[str] = []

    @app.workflow("s")
    async def s(ctx: Context) -> None:
        async with ctx.saga() as saga:
            await ctx.step("reserve", lambda: log.append("reserve"))
            saga.compensate(lambda: log.append("release"), name="release")
            await ctx.wait_for("Never", timeout=timedelta(days=5))

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("s")
        client.cancel(h.execution_id, compensate=True)
        assert client.describe(h.execution_id).status == "CANCELLED"
        assert log == ["reserve", "release"]


def test_deferred_start_is_scheduled_then_runs_or_cancels() -> None:
    app = App("t")

    @app.workflow("later")
    async def later(ctx: Context, x: int) -> int:
        return x * 10

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("later", 2, delay=timedelta(hours=1))
        assert client.describe(h.execution_id).status == "SCHEDULED"
        cloud.advance(timedelta(minutes=59))
        assert client.describe(h.execution_id).status == "SCHEDULED"
        cloud.advance(timedelta(minutes=1))
        assert client.describe(h.execution_id).result == 20
        h2 = client.start("later", 3, at=cloud.now() + timedelta(days=1))
        client.cancel(h2.execution_id)
        cloud.advance(timedelta(days=2))
        assert client.describe(h2.execution_id).status == "CANCELLED"


def test_step_cache_hits_across_executions_and_expires() -> None:
    app = App("t")
    runs = {"n": 0}

    def expensive(x: int) -> int:
        runs["n"] += 1
        return x * x

    @app.workflow("cached")
    async def cached(ctx: Context, x: int) -> int:
        return int(await ctx.step("square", expensive, x, cache_ttl=3600))

    with cloud_for(app) as cloud:
        client = cloud.client()
        assert client.start("cached", 4).result() == 16
        assert client.start("cached", 4).result() == 16
        assert client.start("cached", 5).result() == 25
        assert runs["n"] == 2
        cloud.advance(3601)
        assert client.start("cached", 4).result() == 16
        assert runs["n"] == 3


def test_progress_is_emitted_once_and_described() -> None:
    app = App("t")

    @app.workflow("tracked")
    async def tracked(ctx: Context) -> None:
        await ctx.progress(step=1, total=2, message="half")
        await ctx.sleep(1)
        await ctx.progress(step=2, total=2)

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("tracked")
        h.result()
        progress = [e.detail for e in cloud.events if e.detail_type == "Workflow.progress"]
        assert [(p["step"], p["total"]) for p in progress] == [(1, 2), (2, 2)]
        assert client.describe(h.execution_id).progress == {"step": 2, "total": 2, "message": None}


def test_step_context_gives_a_stable_idempotency_key_across_attempts() -> None:
    from stepbridge import step_context

    app = App("t")
    keys: list[tuple[str, int]] = []

    @app.step(timeout=10, retry=Retry(max_attempts=3, jitter=False))
    def charge(amount: int) -> str:
        info = step_context()
        keys.append((info.idempotency_key, info.attempt))
        if info.attempt < 2:
            raise ConnectionError("gateway hiccup")
        return "charged"

    @app.workflow("pay")
    async def pay(ctx: Context) -> list[str]:
        inline_key = await ctx.step("inline", lambda: step_context().idempotency_key)
        return [await ctx.step("charge", charge, 5), inline_key, ctx.idempotency_key]

    with cloud_for(app) as cloud:
        out = cloud.client().start("pay", execution_id="ex-1").result()
        assert out == ["charged", "ex-1:inline", "ex-1"]
        assert keys == [("ex-1:charge", 1), ("ex-1:charge", 2)]


def test_infrastructure_failure_is_retried_not_seen_by_workflow_code() -> None:
    app = App("t")
    seen: list[str] = []

    @app.workflow("robust")
    async def robust(ctx: Context) -> str:
        try:
            await ctx.step("a", lambda: "a")
        except Exception as exc:  # must never see a throttling error
            seen.append(type(exc).__name__)
            return "compensated"
        return "ok"

    with cloud_for(app) as cloud:
        original = cloud.store.append_journal
        failures = {"left": 2}

        def flaky_append(execution_id: str, record: Any) -> bool:
            if failures["left"] > 0:
                failures["left"] -= 1
                raise RuntimeError("ProvisionedThroughputExceededException")
            return bool(original(execution_id, record))

        cloud.store.append_journal = flaky_append  # type: ignore[method-assign]
        assert cloud.client().start("robust").result() == "ok"
        assert seen == [] and failures["left"] == 0


def test_patched_keeps_old_executions_on_the_old_path() -> None:
    app = App("t")
    version = {"new": False}

    @app.workflow("tax")
    async def tax(ctx: Context) -> str:
        await ctx.step("load", lambda: 1)
        await ctx.sleep(10)
        if version["new"] and ctx.patched("tax-v2"):
            return str(await ctx.step("tax-v2", lambda: "v2"))
        return str(await ctx.step("tax", lambda: "v1"))

    with cloud_for(app, eager=True) as cloud:
        client = cloud.client()
        old_done = client.start("tax", execution_id="old")
        old_done.result()  # finished entirely under the old code
        in_flight = client.start("tax", execution_id="flight")  # sleeping under the old code
        version["new"] = True
        cloud.advance(10)
        assert client.describe("flight").result == "v2"  # nothing past the patch was recorded yet
        assert client.start("tax", execution_id="fresh").result() == "v2"
        replayed = client.describe(old_done.execution_id)
        assert replayed.result == "v1" and in_flight.execution_id == "flight"


def test_continue_as_new_starts_a_fresh_generation() -> None:
    app = App("t")

    @app.workflow("counter")
    async def counter(ctx: Context, n: int) -> Any:
        await ctx.step(f"work-{n}", lambda: n)
        if n < 3:
            await ctx.continue_as_new(n + 1)
        return n

    with cloud_for(app) as cloud:
        client = cloud.client()
        first = client.start("counter", 1, execution_id="c")
        assert first.result() == {"continued_as_new": "c~2"}
        assert client.result("c~2") == {"continued_as_new": "c~3"}
        assert client.result("c~3") == 3


def test_per_call_timeout_bounds_a_declared_step_attempt() -> None:
    import asyncio

    app = App("t")

    @app.step(timeout=60)
    async def slow_report(n: int) -> int:
        await asyncio.sleep(45)  # virtual time inside LocalCloud
        return n

    @app.workflow("bounded")
    async def bounded(ctx: Context) -> str:
        try:
            await ctx.step("report", slow_report, 1, timeout=30, retry=Retry(max_attempts=2, jitter=False))
        except StepTimeout as exc:
            return f"timed out: {exc}"
        return "finished"

    @app.workflow("roomy")
    async def roomy(ctx: Context) -> int:
        return int(await ctx.step("report", slow_report, 2))

    with cloud_for(app) as cloud:
        client = cloud.client()
        h = client.start("bounded")
        assert h.result().startswith("timed out: step 'report' timed out after 30")
        attempts = [e for e in client.history(h.execution_id) if e.detail_type == "Step.attempt_failed"]
        assert len(attempts) == 2
        assert client.start("roomy").result() == 2


def test_error_info_is_a_dict_with_message_search_and_mock_step_accepts_python_names() -> None:
    app = App("t")

    @app.step(timeout=10)
    def charge_card(amount: int) -> str:
        return "real"

    @app.workflow("pay")
    async def pay(ctx: Context, amount: int) -> str:
        result = str(await ctx.step("charge", charge_card, amount))
        if amount > 100:
            raise ValueError(f"limit exceeded by {amount - 100}")
        return result

    with cloud_for(app) as cloud:
        mock = cloud.mock_step("charge_card", lambda amount: f"fake {amount}")
        client = cloud.client()
        assert client.start("pay", 5).result() == "fake 5"
        failed = client.start("pay", 150)
        error = client.describe(failed.execution_id).error
        assert error is not None and error["type"] == "builtins.ValueError"
        assert "limit exceeded" in error and str(error) == "ValueError: limit exceeded by 50"
        assert mock.calls == [(5,), (150,)]


def test_a_reported_step_disarms_its_deadline_timer() -> None:
    app = App("t")

    @app.step(timeout=30)
    def quick() -> str:
        return "done"

    @app.workflow("w")
    async def w(ctx: Context) -> str:
        result = str(await ctx.step("quick", quick))
        await ctx.wait_for("Never", timeout=timedelta(days=1), default=None)
        return result

    with cloud_for(app) as cloud:
        h = cloud.client().start("w")
        pending = [t for t in cloud.timers.pending() if t.schedule is None]
        assert len(pending) == 1  # only the wait's timeout; the step's deadline is gone
        assert pending[0].at == cloud.now() + timedelta(days=1)
        assert h.result() is not None
