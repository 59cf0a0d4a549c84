"""Fault injection at every durable boundary: one scripted fault per run, every run ends like the fault-free one.

A "kitchen sink" workflow uses every port method (a cached inline step, a declared step, progress,
an event, a sleep, a child, a wait with a look-back). A fault-free run counts the port calls each
handler makes; then, for every call, a run crashes the container just before it (after whatever
side effect came first), just after it (before the next write: the wake-up after a journal
write, the second of two writes), fails it with the service's throttling error, or applies it
and reports a timeout. Each run must end with the same result and journal, every step
journaled once, and nothing left RUNNING.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from stepbridge import App, Context, Retry
from stepbridge.local import Crash, LocalCloud
from stepbridge.local.faults import (
    EFFECT_SERVICES,
    KINDS,
    STORE_METHODS,
    STORE_WRITES,
    Fault,
    FaultInjector,
    FaultPlan,
    throttling_error,
)
from stepbridge.runtime.guard import InfrastructureFailure, guard_store
from stepbridge.runtime.records import TERMINAL

RUNS: Counter[str] = Counter()


def sink_app() -> App:
    app = App("sink")

    @app.step(timeout=10, retry=Retry(max_attempts=5, backoff="fixed", initial_delay=1, jitter=False))
    def work(n: int) -> int:
        RUNS["work"] += 1
        return n * 2

    @app.workflow("kid")
    async def kid(ctx: Context, n: int) -> int:
        return int(await ctx.step("inc", lambda: n + 1))

    def inline(n: int) -> int:
        RUNS["inline"] += 1
        return n + 1

    @app.workflow("sink")
    async def sink(ctx: Context, n: int) -> dict[str, Any]:
        a = await ctx.step("inline", inline, n, cache_ttl=60)
        b = await ctx.step("work", work, n)
        await ctx.progress(1, 2, "half way")
        await ctx.send("Sink.sent", {"n": n})
        await ctx.sleep(30)
        c = await ctx.child("kid", n)
        event = await ctx.wait_for("Sink.go", match={"n": n}, timeout=600, default=None)
        return {"a": a, "b": b, "c": c, "event": event}

    app.on("Sink.start", "sink", input="detail.n")
    return app


def drive(plan: FaultPlan | None, backend: str = "memory") -> tuple[LocalCloud, dict[str, Any]]:
    """Start ``sink`` through its trigger, send the event it waits for, run until it ends (sweeping)."""
    RUNS.clear()
    cloud = LocalCloud(sink_app(), backend=backend, faults=plan)
    with cloud:
        client = cloud.client()
        client.send_event("Sink.start", {"n": 3})
        cloud.advance(60)
        client.send_event("Sink.go", {"n": 3, "ok": True})
        for minute in range(180):
            execs = cloud.store.list_executions(limit=100)
            if execs and all(r.status in TERMINAL for r in execs):
                break
            cloud.advance(timedelta(minutes=1))
            if minute % 5 == 4:
                cloud.sweep()
        out: dict[str, Any] = {}
        for rec in cloud.store.list_executions(limit=100):
            journal = cloud.store.load_journal(rec.execution_id)
            finals = sorted(
                (r.op, r.kind, str(r.data.get("result")))
                for r in journal
                if r.kind in ("result", "error", "timeout") and r.key == r.op
            )
            out[rec.workflow] = {
                "status": rec.status,
                "result": rec.result,
                "progress": rec.progress,
                "finals": finals,
                "final_records": Counter(r.op for r in journal if r.kind in ("result", "error", "timeout")),
            }
        out["events"] = sorted(e.detail_type for e in cloud.events if e.source == "sink")
        out["runs"] = dict(RUNS)
    return cloud, out


@pytest.fixture(scope="module")
def baseline() -> tuple[dict[str, Any], Counter[str]]:
    cloud, out = drive(FaultPlan())  # no faults: only counts the port calls of each handler
    assert out["sink"]["status"] == "SUCCEEDED"
    assert out["sink"]["result"] == {"a": 4, "b": 6, "c": 4, "event": {"n": 3, "ok": True}}
    assert cloud.faults is not None
    return out, Counter(cloud.faults.calls)


def assert_same(out: dict[str, Any], expected: dict[str, Any], where: str) -> None:
    for workflow in ("sink", "kid"):
        got, want = out[workflow], expected[workflow]
        assert got["status"] == want["status"] == "SUCCEEDED", f"{where}: {workflow} ended {got['status']}"
        assert got["result"] == want["result"], where
        assert got["finals"] == want["finals"], f"{where}: {workflow}'s journal differs"
        assert all(n == 1 for n in got["final_records"].values()), f"{where}: a step was journaled twice"
    assert out["sink"]["progress"] == expected["sink"]["progress"], where
    assert set(out["events"]) == set(expected["events"]), f"{where}: an event was lost"
    assert out["runs"].get("work", 0) >= 1 and out["runs"].get("inline", 0) >= 1


def boundaries(calls: Counter[str], *, writes_only: bool) -> list[tuple[str, str, int]]:
    out = []
    for key, count in sorted(calls.items()):
        target, method = key.split(".")
        is_write = method in STORE_WRITES or method in EFFECT_SERVICES
        if writes_only and not is_write:
            continue
        out += [(target, method, n) for n in range(1, count + 1)]
    return out


@pytest.mark.parametrize("kind", ["crash.before_write", "crash.after_write", "ambiguous.write"])
def test_a_fault_at_every_write_of_every_handler_changes_nothing(
    baseline: tuple[dict[str, Any], Counter[str]], kind: str
) -> None:
    expected, calls = baseline
    points = boundaries(calls, writes_only=True)
    targets = {t for t, _, _ in points}
    assert {"orchestrator", "step", "router"} <= targets
    assert len(points) > 30
    failures = []
    for target, method, nth in points:
        plan = FaultPlan(script=[Fault(kind, target=target, method=method, nth=nth)])
        cloud, out = drive(plan)
        assert cloud.faults is not None and cloud.faults.injected[kind] == 1, (target, method, nth)
        try:
            assert_same(out, expected, f"{kind} at {target}.{method} #{nth}")
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    assert failures == []


def test_a_throttled_call_of_every_port_method_is_retried(baseline: tuple[dict[str, Any], Counter[str]]) -> None:
    """Every Store/Effects method each handler calls, throttled on its first call (reads included)."""
    expected, calls = baseline
    failures = []
    for key in sorted(calls):
        target, method = key.split(".")
        service = "throttle.dynamodb" if method in STORE_METHODS else EFFECT_SERVICES[method]
        plan = FaultPlan(script=[Fault(service, target=target, method=method)])
        cloud, out = drive(plan)
        assert cloud.faults is not None and sum(cloud.faults.injected.values()) == 1, key
        try:
            assert_same(out, expected, f"{service} at {key}")
        except AssertionError as exc:
            failures.append(str(exc).splitlines()[0])
    assert failures == []


@pytest.mark.parametrize(
    "kind", ["queue.duplicate", "queue.reorder", "step.duplicate", "step.timeout", "event.duplicate", "timer.lost"]
)
def test_delivery_faults_change_nothing(baseline: tuple[dict[str, Any], Counter[str]], kind: str) -> None:
    expected, _ = baseline
    for nth in (1, 2, 3):
        _, out = drive(FaultPlan(script=[Fault(kind, nth=nth)]))
        assert_same(out, expected, f"{kind} #{nth}")


def test_random_faults_on_moto(baseline: tuple[dict[str, Any], Counter[str]]) -> None:
    expected, _ = baseline
    cloud, out = drive(FaultPlan.uniform(seed=3, rate=0.05), backend="moto")
    assert cloud.faults is not None and sum(cloud.faults.injected.values()) > 5
    assert_same(out, expected, "random faults on moto")


# ---- the plan and the injector ----------------------------------------------------------------------


def test_plan_rejects_unknown_kinds_and_bad_rates() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        FaultPlan(rates={"crash.sometimes": 0.1})
    with pytest.raises(ValueError, match="rate"):
        FaultPlan(rates={"timer.lost": 1.5})
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")
    assert set(FaultPlan.uniform(1, 0.01, crash_after_write=0.2).rates) == set(KINDS)
    assert FaultPlan.uniform(1, 0.01, crash_after_write=0.2).rates["crash.after_write"] == 0.2


def test_throttling_errors_look_like_botocore_and_become_infrastructure_failures() -> None:
    err = throttling_error("throttle.dynamodb", "append_journal")
    assert isinstance(err, ClientError)
    assert err.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert err.operation_name == "PutItem"
    assert throttling_error("throttle.lambda", "invoke_step").response["Error"]["Code"] == "TooManyRequestsException"
    assert throttling_error("throttle.sqs", "wake").response["Error"]["Code"] == "RequestThrottled"

    class Store:
        def get_item(self, pk: str, sk: str) -> None:
            return None

    injector = FaultInjector(FaultPlan(script=[Fault("throttle.dynamodb", method="get_item")]))
    guarded = guard_store(injector.wrap_store(Store()))
    with injector.invocation("orchestrator"), pytest.raises(InfrastructureFailure) as info:
        guarded.get_item("a", "b")
    assert isinstance(info.value.cause, ClientError)
    with injector.invocation("orchestrator"):
        assert guarded.get_item("a", "b") is None  # only the first call was scripted


def test_outside_handler_invocations_nothing_is_injected() -> None:
    class Store:
        def get_item(self, pk: str, sk: str) -> str:
            return "ok"

    injector = FaultInjector(FaultPlan(rates={"throttle.dynamodb": 0.99}))
    assert injector.wrap_store(Store()).get_item("a", "b") == "ok"  # the client's view is never faulted
    with injector.invocation("orchestrator"), injector.paused():
        assert injector.wrap_store(Store()).get_item("a", "b") == "ok"
    with injector.invocation("orchestrator"), pytest.raises((ClientError, Crash)):
        for _ in range(100):
            injector.wrap_store(Store()).get_item("a", "b")
