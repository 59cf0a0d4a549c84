"""Declared steps answered in-process (runtime/stepreply.py): a lone declared step is invoked synchronously and the
orchestrator goes on with its answer; everything else (a gather, a slow step, a lost answer) goes through the queue."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest

from stepbridge import App, Context
from stepbridge.errors import WorkflowDefinitionError
from stepbridge.handlers import orchestrator as orchestrator_handler
from stepbridge.local import LocalCloud
from stepbridge.local.faults import Fault, FaultPlan

T = TypeVar("T")
RUNS: list[str] = []
CLOCK: dict[str, Any] = {}


def reply_app(window: float = 1.0) -> App:
    app = App("reply", step_reply_window=window)

    @app.step(timeout=60)
    def add(x: int) -> int:
        RUNS.append(f"add {x}")
        return x + 1

    @app.step(timeout=60)
    def slow(x: int) -> int:
        RUNS.append(f"slow {x}")
        cloud = CLOCK["cloud"]
        cloud.clock.set(cloud.clock.now() + timedelta(seconds=5))  # the step takes 5 s (virtual)
        return x * 10

    @app.step(timeout=60)
    def cancel_me(x: int) -> int:
        RUNS.append(f"cancel_me {x}")
        CLOCK["cloud"].client().cancel(CLOCK["execution_id"])
        return x

    @app.workflow("seq")
    async def seq(ctx: Context, n: int) -> int:
        for i in range(3):
            n = await ctx.step(f"add-{i}", add, n)
        return n

    @app.workflow("slow-then-add")
    async def slow_then_add(ctx: Context, n: int) -> int:
        n = await ctx.step("slow", slow, n)
        return await ctx.step("add", add, n)

    @app.workflow("fan")
    async def fan(ctx: Context, n: int) -> list[int]:
        return list(await ctx.gather(*[ctx.step(f"f{i}", add, i) for i in range(n)]))

    @app.workflow("window-of-two")
    async def window_of_two(ctx: Context, n: int) -> list[int]:
        return list(await ctx.map("m", range(n), add, concurrency=2))

    @app.workflow("step-beside-a-sleep")
    async def step_beside_a_sleep(ctx: Context, n: int) -> int:
        async def nap() -> int:
            await ctx.sleep(timedelta(minutes=5))
            return 0

        got = await ctx.gather(ctx.step("add", add, n), nap())
        return int(got[0]) + int(got[1])

    @app.workflow("cancelled-in-step")
    async def cancelled_in_step(ctx: Context, n: int) -> int:
        n = await ctx.step("cancel-me", cancel_me, n)
        return await ctx.step("add", add, n)

    return app


def spy(monkeypatch: pytest.MonkeyPatch, handler: Any, note: Callable[[dict[str, Any]], T]) -> list[T]:
    """What ``note`` says of each event the handler module's ``handle`` gets (one per Lambda invocation)."""
    seen: list[T] = []
    original = handler.handle

    def recorded(event: dict[str, Any], *args: Any) -> dict[str, Any]:
        seen.append(note(event))
        return original(event, *args)

    monkeypatch.setattr(handler, "handle", recorded)
    RUNS.clear()
    return seen


@pytest.fixture
def invocations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of records of each orchestrator Lambda invocation (an SQS batch)."""
    return spy(monkeypatch, orchestrator_handler, lambda event: len(event.get("Records", [])))


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_sequence_of_declared_steps_runs_in_one_orchestrator_invocation(backend: str, invocations: list[int]) -> None:
    with LocalCloud(reply_app(), backend=backend) as cloud:
        client = cloud.client()
        handle = client.start("seq", 1)
        assert handle.result() == 4
        history = [e.detail_type for e in client.history(handle.execution_id)]
    assert RUNS == ["add 1", "add 2", "add 3"]
    assert invocations == [1]  # the start's wake-up only: each step answered, none woke it through the queue
    assert cloud.calls["lambda.Invoke"] == 3
    assert history.count("Step.dispatched") == 3 and history.count("Step.completed") == 3
    assert history[-1] == "Workflow.completed"


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_steps_of_a_gather_are_invoked_asynchronously_and_wake_the_orchestrator(
    backend: str, invocations: list[int]
) -> None:
    with LocalCloud(reply_app(), backend=backend) as cloud:
        handle = cloud.client().start("fan", 3)
        assert handle.result() == [1, 2, 3]
    assert sorted(RUNS) == ["add 0", "add 1", "add 2"]
    assert len(invocations) >= 2  # the start, then the steps' wake-ups through the queue


def test_a_step_that_outlasts_the_window_wakes_the_orchestrator_through_the_queue(invocations: list[int]) -> None:
    with LocalCloud(reply_app(window=2.0), backend="memory") as cloud:
        CLOCK["cloud"] = cloud
        handle = cloud.client().start("slow-then-add", 2)
        assert handle.result() == 21
        timers = [t for t in cloud.timers.pending() if t.schedule is None]
    assert RUNS == ["slow 2", "add 20"]
    # start + the slow step's wake-up; the quick step after it was answered in that second invocation
    assert invocations == [1, 1]
    assert timers == []  # both steps' deadline timers were deleted (by the slow step, then by the orchestrator)


def test_an_answer_lost_on_its_way_back_is_recovered_at_the_step_deadline() -> None:
    """The step ran and recorded its result; the orchestrator never got the answer (its read timed out)."""
    lost = Fault("ambiguous.write", target="orchestrator", method="call_step")
    RUNS.clear()
    with LocalCloud(reply_app(), backend="memory", faults=FaultPlan(script=[lost])) as cloud:
        client = cloud.client()
        started = cloud.now()
        handle = client.start("seq", 1)
        cloud.run_until_idle()
        assert client.describe(handle.execution_id).status == "RUNNING"  # waiting for the deadline timer
        assert RUNS == ["add 1"]
        assert cloud.run_until_complete(handle.execution_id) is not None
        desc = client.describe(handle.execution_id)
        assert cloud.faults is not None and cloud.faults.injected["ambiguous.write"] == 1
    assert desc.status == "SUCCEEDED" and desc.result == 4
    assert RUNS == ["add 1", "add 2", "add 3"]  # the first step was not run again: its result was in the journal
    assert cloud.now() - started >= timedelta(seconds=60)  # recovered at the first step's deadline


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_cancel_requested_while_a_step_answers_ends_the_execution_after_it(
    backend: str, invocations: list[int]
) -> None:
    with LocalCloud(reply_app(), backend=backend) as cloud:
        CLOCK["cloud"] = cloud
        client = cloud.client()
        CLOCK["execution_id"] = "to-cancel"  # (the step may run before start() returns)
        handle = client.start("cancelled-in-step", 5, execution_id="to-cancel")
        cloud.run_until_complete(handle.execution_id)
        desc = client.describe(handle.execution_id)
        history = client.history(handle.execution_id)
    assert desc.status == "CANCELLED"
    assert RUNS == ["cancel_me 5"]  # the step after it never ran
    assert "Step.attempt_failed" not in [e.detail_type for e in history]


def test_the_window_can_be_turned_off(invocations: list[int]) -> None:
    with LocalCloud(reply_app(window=0), backend="memory") as cloud:
        assert cloud.client().start("seq", 1).result() == 4
    assert invocations == [1, 1, 1, 1]  # the start and one wake-up per step, through the queue


@pytest.mark.parametrize("bad", [-1, 61, "1s", True])
def test_a_bad_window_is_refused_naming_the_app(bad: Any) -> None:
    with pytest.raises(WorkflowDefinitionError, match="reply"):
        App("bad-window", step_reply_window=bad)


def test_a_held_invoke_that_fails_after_the_replay_closes_the_parked_workflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first step invoke is sent at the replay's end; when that send fails (throttled), the invocation fails as
    it did when the invoke was made inside the replay, and the workflow it parked is closed, not dropped."""
    from stepbridge.runtime import sticky

    if not sticky.STICKY_DEFAULT:
        pytest.skip("sticky executions off (STEPBRIDGE_STICKY=0): no workflow is parked")
    made: list[Any] = []
    original_init = sticky.Parked.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(sticky.Parked, "__init__", init)
    throttled = Fault("throttle.lambda", target="orchestrator", method="invoke_step")
    RUNS.clear()
    with LocalCloud(reply_app(window=0), backend="memory", faults=FaultPlan(script=[throttled])) as cloud:
        assert cloud.client().start("seq", 1).result() == 4
        assert cloud.faults is not None and cloud.faults.injected["throttle.lambda"] == 1
        assert made and made[0].closed  # the first invocation's parked workflow, abandoned with it
    assert RUNS == ["add 1", "add 2", "add 3"]


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each step invocation: whether it was a synchronous one (its event has ``reply_by``)."""
    from stepbridge.handlers import step as step_handler

    return spy(monkeypatch, step_handler, lambda event: bool(event.get("reply_by")))


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_step_dispatched_while_others_are_outstanding_is_not_waited_for(backend: str, asked: list[bool]) -> None:
    """A map refilling its window dispatches one step per report while the other is still out: waiting for it
    would hold the other's report in the queue behind it, so those invokes are asynchronous. (The last item may
    be dispatched alone, when the two reports before it came in one wake-up: then it is waited for.)"""
    with LocalCloud(reply_app(), backend=backend) as cloud:
        assert cloud.client().start("window-of-two", 5).result() == [1, 2, 3, 4, 5]
    assert len(asked) == 5 and not any(asked[:4])


def test_a_step_beside_a_pending_sleep_is_not_waited_for(asked: list[bool]) -> None:
    with LocalCloud(reply_app(), backend="memory") as cloud:
        handle = cloud.client().start("step-beside-a-sleep", 1)
        cloud.advance(timedelta(minutes=6))
        assert handle.result() == 2
    assert asked == [False]


def test_each_step_of_a_sequence_is_invoked_synchronously(asked: list[bool]) -> None:
    with LocalCloud(reply_app(), backend="memory") as cloud:
        assert cloud.client().start("seq", 1).result() == 4
    assert asked == [True, True, True]
