"""Step delivery semantics: at-least-once by default, at-most-once on request, idempotent side effects.

* default: a step whose attempt died after its side effect (before its result was journaled) runs
  again - the idempotency key is the same on every attempt;
* ``@app.step(at_most_once=True)`` / ``ctx.step(..., at_most_once=True)``: never runs twice; a
  duplicate invoke does nothing, a never-started invoke is dispatched again, a started attempt that
  died fails the step with ``StepInterrupted``;
* ``stepbridge.idempotency``: Powertools' idempotency utility on the app's table turns an
  at-least-once step's side effect into an exactly-once one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from stepbridge import App, Context, Retry, StepInterrupted, step_context
from stepbridge.errors import WorkflowDefinitionError
from stepbridge.local import LocalCloud
from stepbridge.local.faults import Fault, FaultPlan

RUNS: Counter[str] = Counter()
KEYS: list[str] = []


def semantics_app(step_reply_window: float = 1.0) -> App:
    app = App("semantics", step_reply_window=step_reply_window)

    @app.step(timeout=10, retry=Retry(max_attempts=3, backoff="fixed", initial_delay=1, jitter=False))
    def charge(amount: int) -> dict[str, Any]:
        RUNS["charge"] += 1
        KEYS.append(step_context().idempotency_key)
        return {"charged": amount}

    @app.step(timeout=10, at_most_once=True)
    def launch(name: str) -> str:
        RUNS["launch"] += 1
        return f"launched {name}"

    @app.workflow("pay")
    async def pay(ctx: Context, amount: int) -> Any:
        return await ctx.step("charge", charge, amount)

    @app.workflow("launch")
    async def launch_wf(ctx: Context, name: str) -> Any:
        try:
            return await ctx.step("launch", launch, name)
        except StepInterrupted as exc:
            await ctx.step("check-launch-pad", lambda: "checked")  # the workflow decides what to do
            return f"interrupted: {exc}"

    def fire(name: str) -> str:
        RUNS["fire"] += 1
        return f"fired {name}"

    @app.workflow("fire-once")
    async def fire_once(ctx: Context, name: str) -> Any:
        return await ctx.step("fire", fire, name, at_most_once=True)

    @app.workflow("fire-with-retries")
    async def fire_with_retries(ctx: Context, name: str) -> Any:
        return await ctx.step("fire", fire, name, at_most_once=True, retry=Retry(max_attempts=2))

    return app


def run(
    workflow: str, payload: Any, *faults: Fault, backend: str = "memory", step_reply_window: float = 1.0
) -> tuple[LocalCloud, Any]:
    """``step_reply_window=0``: declared steps are invoked asynchronously (runtime/stepreply.py)."""
    RUNS.clear()
    KEYS.clear()
    app = semantics_app(step_reply_window)
    with LocalCloud(app, backend=backend, faults=FaultPlan(script=list(faults))) as cloud:
        client = cloud.client()
        handle = client.start(workflow, payload)
        cloud.run_until_complete(handle.execution_id)
        desc = client.describe(handle.execution_id)
        history = [e.detail_type for e in client.history(handle.execution_id)]
        return cloud, (desc, history)


def test_default_steps_are_at_least_once_with_a_stable_idempotency_key() -> None:
    """The Lambda timed out after charging: the deadline retries the step, which runs a second time."""
    _, (desc, history) = run("pay", 7, Fault("step.timeout"))
    assert desc.result == {"charged": 7}
    assert RUNS["charge"] == 2
    assert len(set(KEYS)) == 1 and KEYS[0] == f"{desc.execution_id}:charge"
    assert history.count("Step.completed") == 1  # journaled once, though it ran twice


def test_at_most_once_step_ignores_a_duplicate_invoke() -> None:
    cloud, (desc, history) = run("launch", "rocket", Fault("step.duplicate"), step_reply_window=0)
    assert cloud.faults is not None and cloud.faults.injected["step.duplicate"] == 1  # (an asynchronous invoke's)
    assert desc.result == "launched rocket"
    assert RUNS["launch"] == 1
    assert history.count("Step.started") == 1


def test_at_most_once_step_that_died_after_starting_is_not_run_again() -> None:
    _, (desc, history) = run("launch", "rocket", Fault("step.timeout"))
    assert RUNS["launch"] == 1
    assert desc.status == "SUCCEEDED"
    assert str(desc.result).startswith("interrupted: step 'launch' is at_most_once and started")
    assert "Step.failed" in history and history.count("Step.dispatched") == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault("crash.before_write", target="step", method="append_journal", when=lambda m, a: a[1].kind == "started"),
        Fault("throttle.lambda", target="orchestrator", method="invoke_step"),
    ],
    ids=["worker-died-before-starting", "invoke-throttled"],
)
def test_at_most_once_step_that_never_started_is_dispatched_again(fault: Fault) -> None:
    cloud, (desc, history) = run("launch", "rocket", fault, step_reply_window=0)
    assert cloud.faults is not None and sum(cloud.faults.injected.values()) == 1
    assert desc.result == "launched rocket"
    assert RUNS["launch"] == 1
    assert history.count("Step.dispatched") == 2 and history.count("Step.started") == 1


def test_a_throttled_synchronous_invoke_is_sent_asynchronously_and_the_step_runs_once() -> None:
    """Lambda refused to start the step answered in-process (reserved concurrency): it goes to the async queue."""
    throttled = Fault("throttle.lambda", target="orchestrator", method="call_step")
    cloud, (desc, history) = run("launch", "rocket", throttled)
    assert cloud.faults is not None and cloud.faults.injected["throttle.lambda"] == 1
    assert desc.result == "launched rocket"
    assert RUNS["launch"] == 1
    assert history.count("Step.dispatched") == 1 and history.count("Step.started") == 1


def test_inline_at_most_once_step_is_not_rerun_after_a_crash() -> None:
    """The orchestrator died after running the function, before journaling its result."""
    crash = Fault(
        "crash.before_write", target="orchestrator", method="append_journal", when=lambda m, a: a[1].kind == "result"
    )
    _, (desc, _) = run("fire-once", "x", crash)
    assert RUNS["fire"] == 1
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.StepInterrupted"
    _, (desc, _) = run("fire-once", "x")
    assert desc.result == "fired x" and RUNS["fire"] == 1


def test_at_most_once_refuses_retries() -> None:
    app = App("bad")
    with pytest.raises(WorkflowDefinitionError, match="never retried"):

        @app.step(at_most_once=True, retry=Retry(max_attempts=3))
        def boom() -> None: ...

    _, (desc, _) = run("fire-with-retries", "x")
    assert desc.status == "FAILED" and "never retried" in desc.error["message"]
    assert RUNS["fire"] == 0


# ---- Powertools idempotency on the app's table ---------------------------------------------------------

EFFECTS: list[str] = []


def idempotent_app() -> App:
    from stepbridge.idempotency import idempotent

    app = App("idem")

    @idempotent(data_keyword_argument="key")
    def send_invoice(*, key: str, amount: int) -> dict[str, Any]:
        EFFECTS.append(key)
        return {"invoice": f"inv-{len(EFFECTS)}", "amount": amount}

    @app.step(timeout=10, retry=Retry(max_attempts=3, backoff="fixed", initial_delay=1, jitter=False))
    def invoice(amount: int) -> dict[str, Any]:
        RUNS["invoice"] += 1
        return send_invoice(key=step_context().idempotency_key, amount=amount)

    @app.workflow("bill")
    async def bill(ctx: Context, amount: int) -> Any:
        first = await ctx.step("invoice", invoice, amount)
        again = await ctx.step("invoice-copy", invoice, amount)  # another step: another key
        return {"first": first, "again": again}

    return app


def test_powertools_idempotency_on_the_app_table_makes_a_rerun_step_effect_once() -> None:
    EFFECTS.clear()
    RUNS.clear()
    plan = FaultPlan(script=[Fault("step.timeout")])  # the first attempt times out after sending the invoice
    with LocalCloud(idempotent_app(), faults=plan) as cloud:  # moto: a real DynamoDB table
        client = cloud.client()
        handle = client.start("bill", 30)
        cloud.run_until_complete(handle.execution_id)
        assert client.describe(handle.execution_id).result == {
            "first": {"invoice": "inv-1", "amount": 30},
            "again": {"invoice": "inv-2", "amount": 30},
        }
        assert RUNS["invoice"] == 3  # the first step ran twice (at-least-once) ...
        keys = [f"{handle.execution_id}:invoice", f"{handle.execution_id}:invoice-copy"]
        assert keys == EFFECTS  # ... its effect once

        # The records share the single table without disturbing it: own partition, the table's TTL attribute.
        ddb = cloud.resources.client("dynamodb")
        items = ddb.scan(TableName=cloud.resources.config.table)["Items"]
        records = [i for i in items if i["pk"]["S"].startswith("IDEMPOTENCY#")]
        assert len(records) == 2
        assert {r["pk"]["S"] for r in records} == {"IDEMPOTENCY#stepbridge"}
        assert all(r["status"]["S"] == "COMPLETED" and "ttl" in r for r in records)
        assert [r.execution_id for r in client.list()] == [handle.execution_id]


def test_idempotency_helper_needs_a_table() -> None:
    import os

    from stepbridge.config import ENV_TABLE
    from stepbridge.idempotency import persistence_layer

    saved = os.environ.pop(ENV_TABLE, None)
    try:
        with pytest.raises(RuntimeError, match="STEPBRIDGE_TABLE"):
            persistence_layer()
    finally:
        if saved is not None:
            os.environ[ENV_TABLE] = saved
