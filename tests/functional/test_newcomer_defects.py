"""Defects a newcomer found (issue 12, "Smaller defects found by that same newcomer"), each on LocalCloud.

What they pin: a declared step's attempt is journaled before its final outcome and before its retry timer;
sync inline steps that call ``time.sleep`` honour their timeout on the virtual clock (and ``time.sleep``
outside a step stays real); a rejected first event leaves no state machine instance; ``mock_step`` refuses
unknown names and accepts names built at run time; ``client.list`` hides the state machines' internal
executions; metrics are per LocalCloud; ``result()`` fires recurring schedules it fast-forwards past; the
graph and Mermaid drawings of compensations and defaulted waits; a sync declared step sleeping past its
Lambda timeout is lost as in AWS.

Every test here was written first, failed against the code of that day, and passes with its fix.
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, Retry, State, StateMachine, StepTimeout, Transition
from stepbridge.compiler.graph import mermaid
from stepbridge.local import LocalCloud
from stepbridge.local.cloud import DEFAULT_START
from stepbridge.operator.report import mermaid_path
from stepbridge.runtime.steps import DEADLINE_GRACE_SECONDS


class Declined(Exception):
    """A final failure (listed as non-retryable)."""


def _failing_app() -> App:
    app = App("defects")

    @app.step(retry=Retry(max_attempts=3, non_retryable=[Declined], jitter=False))
    def charge(amount: int) -> int:
        if amount < 0:
            raise Declined("card declined")
        raise ConnectionError("flaky")

    @app.workflow("pay")
    async def pay(ctx: Context, amount: int) -> int:
        return await ctx.step("charge", charge, amount)

    return app


def _step_facts(client: Any, execution_id: str) -> list[str]:
    return [
        f"{e['detail_type']}#{e['detail'].get('attempt', '')}"
        for e in client.history(execution_id)
        if e["detail_type"].startswith("Step.")
    ]


@pytest.mark.parametrize("backend", ["moto", "memory"])
def test_a_final_declared_step_failure_records_the_attempt_before_the_step(backend: str) -> None:
    # In AWS the step's Lambda writes its failed attempt, then the orchestrator (woken by it) fails the step.
    with LocalCloud(_failing_app(), backend=backend) as cloud:
        client = cloud.client()
        client.start("pay", -1, execution_id="declined")
        assert _step_facts(client, "declined") == ["Step.dispatched#1", "Step.attempt_failed#1", "Step.failed#"]


def test_retried_attempts_are_recorded_before_their_retry_is_scheduled() -> None:
    with LocalCloud(_failing_app(), backend="memory") as cloud:
        client = cloud.client()
        with pytest.raises(Exception, match="flaky"):
            client.start("pay", 1, execution_id="flaky").result()
        assert _step_facts(client, "flaky") == [
            "Step.dispatched#1",
            "Step.attempt_failed#1",
            "Step.retry_scheduled#1",
            "Step.dispatched#2",
            "Step.attempt_failed#2",
            "Step.retry_scheduled#2",
            "Step.dispatched#3",
            "Step.attempt_failed#3",
            "Step.failed#",
        ]


# ---- a sync inline step's timeout ---------------------------------------------------------------------


def _sleepy_app(seconds: float, timeout: float) -> App:
    app = App("sleepy")

    def slow() -> str:
        time.sleep(seconds)  # virtual under LocalCloud: returns at once, counts toward the step's time
        return "done"

    @app.workflow("slow")
    async def slow_wf(ctx: Context) -> str:
        try:
            return await ctx.step("slow", slow, timeout=timeout, retry=Retry(max_attempts=1))
        except StepTimeout as exc:
            return f"timed out: {exc}"

    return app


def test_a_sync_inline_step_sleeping_past_its_timeout_times_out_without_sleeping() -> None:
    started = time.perf_counter()
    with LocalCloud(_sleepy_app(3, 1), backend="memory") as cloud:
        result = cloud.client().start("slow").result()
    assert result == "timed out: step 'slow' timed out after 1 s"
    assert time.perf_counter() - started < 2.5  # the 3 s sleep took no real time


def test_a_sync_inline_step_sleeping_within_its_timeout_returns_its_value() -> None:
    with LocalCloud(_sleepy_app(0.5, 1), backend="memory") as cloud:
        assert cloud.client().start("slow").result() == "done"


def test_time_sleep_outside_a_step_still_sleeps_for_real() -> None:
    with LocalCloud(_sleepy_app(0.5, 1), backend="memory") as cloud:
        cloud.client().start("slow").result()
        started = time.perf_counter()
        time.sleep(0.02)
        assert time.perf_counter() - started >= 0.02


# ---- machine_state after a rejected first event ---------------------------------------------------------


def test_machine_state_is_none_after_a_rejected_first_event_and_the_rejection_is_emitted() -> None:
    machine = StateMachine(
        "door",
        initial="closed",
        states={"closed": State(on={"open": Transition("open")}), "open": State(on={"close": Transition("closed")})},
    )
    app = App("doors")
    app.state_machine(machine, events={"Door.opened": "open", "Door.closed": "close"}, key="detail.doorId")
    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        client.send_event("Door.closed", {"doorId": "d-1"})  # no transition from the initial state
        assert client.machine_state("door", "d-1") is None
        assert [e.detail_type for e in cloud.events if e.detail_type.startswith("StateMachine.")] == [
            "StateMachine.rejected"
        ]
        client.send_event("Door.opened", {"doorId": "d-1"})
        state = client.machine_state("door", "d-1")
        assert state is not None and state["state"] == "open"


# ---- mock_step of an unknown name --------------------------------------------------------------------


def test_mock_step_of_an_unknown_name_raises_and_names_the_known_steps() -> None:
    with LocalCloud(_failing_app(), backend="memory") as cloud:
        with pytest.raises(ValueError) as info:
            cloud.mock_step("chrage", 1)
        message = str(info.value)
        assert "chrage" in message and "'charge'" in message
        assert cloud.mock_step("charge", 5).call_count == 0  # known names still work
        assert cloud.client().start("pay", 1).result() == 5


def test_mock_step_accepts_names_built_at_run_time() -> None:
    app = App("dynamic")

    @app.workflow("fan")
    async def fan(ctx: Context, ids: list[str]) -> list[str]:
        return [await ctx.step(f"send-{i}", str.upper, i) for i in ids]

    with LocalCloud(app, backend="memory") as cloud:
        cloud.mock_step("send-b", "mocked")
        assert cloud.client().start("fan", ["a", "b"]).result() == ["A", "mocked"]
        with pytest.raises(ValueError, match="'send-…'"):
            cloud.mock_step("sned-a", "x")


# ---- client.list hides state-machine executions -------------------------------------------------------


def test_client_list_hides_internal_state_machine_executions_unless_asked() -> None:
    machine = StateMachine("lamp", initial="off", states={"off": State(on={"on": Transition("on")}), "on": State()})
    app = App("lamps")
    app.state_machine(machine, events={"Lamp.on": "on"}, key="detail.lampId")

    @app.workflow("hello")
    async def hello(ctx: Context) -> str:
        return "hi"

    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        client.send_event("Lamp.on", {"lampId": "l-1"})
        client.start("hello").result()
        assert [d.workflow for d in client.list()] == ["hello"]
        every = [d.workflow for d in client.list(include_internal=True)]
        assert sorted(every) == ["hello", "stepbridge.sm.lamp"]
        assert [d.workflow for d in client.list(workflow="stepbridge.sm.lamp")] == ["stepbridge.sm.lamp"]


# ---- metrics belong to their cloud --------------------------------------------------------------------


def test_metrics_are_recorded_per_local_cloud() -> None:
    app = App("measured")

    @app.workflow("count")
    async def count(ctx: Context, n: int) -> int:
        ctx.metric("Counted", n)
        return n

    with LocalCloud(app, backend="memory") as first:
        first.client().start("count", 1).result()
    with LocalCloud(app, backend="memory") as second:
        second.client().start("count", 2).result()
    assert [m["value"] for m in first.metrics if m["name"] == "Counted"] == [1]
    assert [m["value"] for m in second.metrics if m["name"] == "Counted"] == [2]


# ---- h.result() and recurring schedules ---------------------------------------------------------------


def test_result_fires_recurring_schedules_that_fall_due_while_it_fast_forwards() -> None:
    app = App("ticks")

    @app.workflow("tick")
    async def tick(ctx: Context, _: Any = None) -> str:
        return "tick"

    @app.workflow("long")
    async def long(ctx: Context) -> str:
        await ctx.sleep(timedelta(hours=3, minutes=30))
        return "slept"

    app.every("hourly", workflow=tick)
    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        assert client.start("long").result() == "slept"
        # 08:00 -> 11:30 of virtual time: the hourly schedule fired at 09:00, 10:00 and 11:00 on the way.
        assert len(client.list(workflow="tick")) == 3


# ---- diagrams ----------------------------------------------------------------------------------------


def _saga_app() -> App:
    app = App("sagas")

    def book(x: str) -> str:
        return x

    def cancel(x: str) -> None:
        return None

    @app.workflow("trip")
    async def trip(ctx: Context) -> str:
        async with ctx.saga() as saga:
            flight = await ctx.step("book-flight", book, "f")
            saga.compensate(cancel, flight)
            hotel = await ctx.step("book-hotel", book, "h")
            saga.compensate(cancel, hotel)
        return hotel

    return app


def _edges(diagram: str) -> list[tuple[str, str, str]]:
    """(source, arrow with its label, target) of every edge."""
    edge = re.compile(r"^\s*(\S+)\s+(-->|-\.->)(\|[^|]*\|)?\s+(\S+)$")
    return [(m[1], m[2] + (m[3] or ""), m[4]) for m in map(edge.match, diagram.splitlines()) if m]


def _labels(diagram: str) -> dict[str, str]:
    """Node id -> label, for nodes drawn as ``id["label"]`` (and the other bracket shapes)."""
    node = re.compile(r'^\s*([A-Za-z]\w*)[\[\(/{>]+"(.*)"[\]\)/}]+$')
    return {m[1]: m[2] for m in map(node.match, diagram.splitlines()) if m}


def test_graph_draws_saga_compensations_off_the_success_path() -> None:
    diagram = mermaid(_saga_app(), "trip")
    labels = _labels(diagram)
    by_label = {v: k for k, v in labels.items()}
    flight, hotel = by_label["book-flight"], by_label["book-hotel"]
    compensations = [k for k, v in labels.items() if v.startswith("compensate")]
    assert len(compensations) == 2
    edges = _edges(diagram)
    solid = {(a, b) for a, arrow, b in edges if arrow.startswith("-->")}
    assert (flight, hotel) in solid and (hotel, "finish") in solid  # success: book, book, end
    for node in compensations:
        assert all(arrow.startswith("-.->") for a, arrow, b in edges if node in (a, b)), node
    # compensations run in reverse: the hotel's first, then the flight's, then the failure
    first, second = sorted(compensations, key=lambda n: int(n[1:]))
    assert labels[first] == "compensate: cancel(hotel)" and labels[second] == "compensate: cancel(flight)"
    assert any(b == first and "on failure" in arrow for _, arrow, b in edges)
    assert any(a == second and b == "fail" for a, _, b in edges)


def test_run_mermaid_draws_a_defaulted_wait_as_an_ordinary_step() -> None:
    app = App("waits")

    @app.workflow("maybe")
    async def maybe(ctx: Context) -> str:
        answer = await ctx.wait_for("Answer.given", timeout=timedelta(hours=1), default=None)
        return "none" if answer is None else "some"

    @app.workflow("must")
    async def must(ctx: Context) -> str:
        await ctx.wait_for("Answer.given", timeout=timedelta(hours=1))
        return "some"

    with LocalCloud(app, backend="memory") as cloud:
        client = cloud.client()
        assert client.start("maybe", execution_id="maybe").result() == "none"
        defaulted = mermaid_path(client.history("maybe"), client.describe("maybe"))
        with pytest.raises(Exception, match="timed out"):
            client.start("must", execution_id="must").result()
        raised = mermaid_path(client.history("must"), client.describe("must"))
    assert "-.->|error|" not in defaulted and re.search(r"class (\w+,)*n1(,\w+)* ok", defaulted)
    assert "-.->|error|" in raised and re.search(r"class (\w+,)*n1(,\w+)* failed", raised)


def test_a_declared_sync_step_sleeping_past_its_lambda_timeout_is_lost_as_in_aws() -> None:
    app = App("sleepy-lambda")

    @app.step(timeout=2, retry=Retry(max_attempts=1))
    def slow_lambda() -> str:
        time.sleep(5)  # Lambda stops the function at 2 s; it never reports
        return "done"

    @app.workflow("slow")
    async def slow(ctx: Context) -> str:
        try:
            return await ctx.step("slow-lambda", slow_lambda)
        except StepTimeout as exc:
            return f"timed out: {exc}"

    started = time.perf_counter()
    with LocalCloud(app, backend="memory") as cloud:
        result = cloud.client().start("slow").result()
        waited = cloud.now() - DEFAULT_START
    assert waited >= timedelta(seconds=2 + DEADLINE_GRACE_SECONDS)  # noticed by the deadline timer, in virtual time
    assert result.startswith("timed out: step 'slow-lambda' did not report within its 2 s timeout"), result
    assert time.perf_counter() - started < 4
