"""Recovery: the sweeper wakes executions whose wake-up was lost; dead letters can be redriven."""

from __future__ import annotations

from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud


def sleeper_app() -> App:
    # Declared steps are invoked asynchronously (not answered in-process: runtime/stepreply.py),
    # so a test can hold one in flight.
    app = App("rec", step_reply_window=0)

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        await ctx.sleep(60)
        return "awake"

    @app.step(timeout=10)
    def work() -> str:
        return "worked"

    @app.workflow("job")
    async def job(ctx: Context) -> str:
        return str(await ctx.step("work", work))

    return app


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_lost_timer_is_recovered_by_the_sweeper(backend: str) -> None:
    with LocalCloud(sleeper_app(), backend=backend) as cloud:
        client = cloud.client()
        h = client.start("nap")
        (timer,) = [t for t in cloud.timers.pending() if t.schedule is None]
        cloud.timers.cancel(timer.name)  # the Scheduler delivery is lost
        cloud.advance(120)
        assert client.describe(h.execution_id).status == "RUNNING"
        assert cloud.sweep() == []  # within the grace period nothing is touched
        cloud.advance(120)
        assert cloud.sweep() == [h.execution_id]
        assert client.describe(h.execution_id).result == "awake"


def test_lost_step_invocation_times_out_and_is_retried() -> None:
    with LocalCloud(sleeper_app(), backend="memory") as cloud:
        client = cloud.client()
        cloud.eager = False
        h = client.start("job")
        cloud._drain_queue()
        assert len(cloud._step_queue) == 1
        cloud._step_queue.clear()  # the async invoke is lost (or the Lambda died silently)
        cloud.eager = True
        assert h.result() == "worked"
        history = [e.detail_type for e in client.history(h.execution_id)]
        assert history.count("Step.dispatched") == 2 and "Step.attempt_failed" in history


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_dead_lettered_messages_can_be_redriven(backend: str) -> None:
    with LocalCloud(sleeper_app(), backend=backend) as cloud:
        client = cloud.client()
        broken = {"on": True}

        def failing(original: Any) -> Any:
            def load(execution_id: str) -> Any:
                if broken["on"]:
                    raise RuntimeError("table unavailable")
                return original(execution_id)

            return load

        # every journal read fails (a cold wake-up reads it with the header: load_execution)
        cloud.store.load_journal = failing(cloud.store.load_journal)  # type: ignore[method-assign]
        cloud.store.load_execution = failing(cloud.store.load_execution)  # type: ignore[method-assign]
        h = client.start("job")
        assert client.describe(h.execution_id).status == "RUNNING"
        letters = cloud.dead_letters()
        assert [m["execution_id"] for m in letters] == [h.execution_id]
        broken["on"] = False
        assert cloud.redrive() == 1
        assert client.describe(h.execution_id).result == "worked"


# ---- regressions found by fault injection (tests/unit/test_faults.py, tests/soak) -------------------
#
# Each test injects the one fault that used to lose or repeat work, and would fail on the runtime
# before its fix (the fix is named in the test's docstring).

from collections import Counter  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402

from stepbridge import Retry  # noqa: E402
from stepbridge.local.faults import Fault, FaultPlan  # noqa: E402
from stepbridge.runtime.records import TERMINAL  # noqa: E402

CALLS: Counter[str] = Counter()


def regression_app() -> App:
    app = App("regress")

    @app.step(timeout=10, retry=Retry(max_attempts=3, backoff="fixed", initial_delay=1, jitter=False))
    def work(n: int) -> int:
        CALLS["work"] += 1
        return n * 10

    @app.workflow("kid")
    async def kid(ctx: Context, n: int) -> int:
        return int(await ctx.step("inc", lambda: n + 1))

    @app.workflow("parent")
    async def parent(ctx: Context, n: int) -> int:
        return int(await ctx.child("kid", n)) * 2

    @app.workflow("declared")
    async def declared(ctx: Context, n: int) -> int:
        return int(await ctx.step("work", work, n))

    @app.workflow("waiter")
    async def waiter(ctx: Context, key: str) -> Any:
        await ctx.send("Waiter.ready", {"key": key})
        return await ctx.wait_for("Waiter.go", match={"key": key})

    @app.workflow("nap-then-wait")
    async def nap_then_wait(ctx: Context) -> Any:
        await ctx.sleep(60)
        return await ctx.wait_for("Never.happens")

    @app.workflow("step-then-wait")
    async def step_then_wait(ctx: Context) -> Any:
        return await ctx.gather(ctx.step("work", work, 1), ctx.wait_for("Never.happens"))

    @app.workflow("progressing")
    async def progressing(ctx: Context) -> str:
        await ctx.progress(1, 2, "half")
        await ctx.sleep(10)
        return "done"

    @app.workflow("greet")
    async def greet(ctx: Context, detail: dict[str, Any]) -> str:
        return str(await ctx.step("greet", lambda: f"hello {detail['name']}"))

    app.on("Greeting.requested", greet)
    app.on("Entity.updated", greet, debounce=timedelta(seconds=5), key="detail.name")
    return app


def run_all(cloud: LocalCloud, hours: float = 2) -> None:
    """Advance minute by minute, sweeping every 5 minutes (the template's schedule), until all are finished."""
    for minute in range(int(hours * 60)):
        if all(r.status in TERMINAL for r in cloud.store.list_executions(limit=100)):
            return
        cloud.advance(timedelta(minutes=1))
        if minute % 5 == 4:
            cloud.sweep()


def only(cloud: LocalCloud, workflow: str) -> Any:
    (rec,) = cloud.store.list_executions(workflow=workflow)
    return rec


def test_trigger_whose_start_wake_up_failed_is_started_by_the_retried_delivery() -> None:
    """Fix: ``start_execution`` re-sends the wake-up when the execution already exists unfinished.

    The router created the execution, then SendMessage was throttled; EventBridge retried the
    delivery, whose start found the execution and returned without waking it: RUNNING forever.
    """
    plan = FaultPlan(script=[Fault("throttle.sqs", target="router", method="wake")])
    with LocalCloud(regression_app(), backend="memory", faults=plan) as cloud:
        cloud.client().send_event("Greeting.requested", {"name": "ada"})
        assert cloud.faults is not None and cloud.faults.injected["throttle.sqs"] == 1
        rec = only(cloud, "greet")
        assert (rec.status, rec.result) == ("SUCCEEDED", "hello ada")


def test_repeating_a_start_whose_first_wake_up_was_lost_starts_it() -> None:
    """Fix: a client retrying ``start`` (same id and input) after its first call died re-sends the wake-up."""
    with LocalCloud(regression_app(), backend="memory") as cloud:
        client = cloud.client()
        from stepbridge.runtime.executions import start_execution

        class NoWake:
            def __init__(self, effects: Any) -> None:
                self._effects = effects

            def now(self) -> Any:
                return self._effects.now()

            def wake(self, message: Any) -> None:
                raise ConnectionError("the client died before sending the wake-up")

        with pytest.raises(ConnectionError):
            start_execution(cloud.store, NoWake(cloud.effects), "declared", 4, execution_id="job-1")
        assert client.describe("job-1").status == "RUNNING"
        handle = client.start("declared", 4, execution_id="job-1")
        assert not handle.created and handle.result() == 40


def test_crash_after_recording_a_child_dispatch_still_starts_the_child() -> None:
    """Fix: ``start_child`` creates and wakes the child before recording the dispatch.

    Recorded first, a crash right after left a dispatch whose child was never created; the
    replay trusted the record and the parent waited forever.
    """

    def child_dispatch(method: str, args: tuple[Any, ...]) -> bool:
        return bool(args[1].type == "child" and args[1].kind == "dispatch")

    plan = FaultPlan(
        script=[Fault("crash.after_write", target="orchestrator", method="append_journal", when=child_dispatch)]
    )
    with LocalCloud(regression_app(), backend="memory", faults=plan) as cloud:
        assert cloud.client().start("parent", 4).result() == 10
        assert cloud.faults is not None and cloud.faults.injected["crash.after_write"] == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault(
            "crash.after_write",
            target="orchestrator",
            method="save_execution",
            when=lambda m, a: a[0].status == "SUCCEEDED" and a[0].parent_id is not None,
        ),
        Fault(
            "throttle.dynamodb",
            target="orchestrator",
            method="append_journal",
            when=lambda m, a: a[1].type == "child" and a[1].kind == "result",
        ),
    ],
    ids=["crash-after-the-child-status", "throttled-notification"],
)
def test_parent_is_notified_however_the_childs_last_invocation_fails(fault: Fault) -> None:
    """Fix: the orchestrator notifies the parent (and tidies up) before writing the terminal status.

    With the status written first, a redelivered message found the child finished and did
    nothing, so the parent never heard of it.
    """
    with LocalCloud(regression_app(), backend="memory", faults=FaultPlan(script=[fault])) as cloud:
        assert cloud.client().start("parent", 4).result() == 10
        assert cloud.faults is not None and sum(cloud.faults.injected.values()) == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault(
            "crash.after_write", target="orchestrator", method="append_journal", when=lambda m, a: a[1].kind == "wait"
        ),
        Fault(
            "crash.before_write",
            target="orchestrator",
            method="put_item",
            when=lambda m, a: a[0].pk.startswith("WAIT#"),
        ),
    ],
    ids=["crash-after-the-wait-record", "crash-before-the-waiter"],
)
def test_a_wait_is_registered_with_the_router_whatever_the_crash(fault: Fault) -> None:
    """Fix: ``wait_for`` puts the router's waiter before recording the wait.

    Recorded first, a crash in between left a recorded wait the router did not know: an event
    sent afterwards matched no waiter and a wait without timeout hung forever.
    """
    with LocalCloud(regression_app(), backend="memory", faults=FaultPlan(script=[fault])) as cloud:
        client = cloud.client()
        handle = client.start("waiter", "k1")
        assert client.describe(handle.execution_id).status == "RUNNING"
        client.send_event("Waiter.go", {"key": "k1", "n": 1})
        assert handle.result() == {"key": "k1", "n": 1}


def test_step_result_whose_wake_up_and_deadline_timer_were_lost_is_swept() -> None:
    """Fix: the sweeper wakes an execution whose journal holds a report no replay has read.

    The step's Lambda journaled its result and died before sending the wake-up; the deadline
    timer that would have noticed was lost too. The old sweeper skipped operations that had a
    result, so the execution stayed RUNNING forever.
    """
    plan = FaultPlan(script=[Fault("crash.after_write", target="step", method="append_journal"), Fault("timer.lost")])
    CALLS.clear()
    with LocalCloud(regression_app(), backend="memory", faults=plan) as cloud:
        handle = cloud.client().start("declared", 2)
        cloud.advance(timedelta(minutes=3))
        assert cloud.client().describe(handle.execution_id).status == "RUNNING"
        run_all(cloud)
        assert cloud.client().describe(handle.execution_id).result == 20
        assert CALLS["work"] == 1  # recovered from the journal, not by running the step again


@pytest.mark.parametrize("workflow", ["nap-then-wait", "step-then-wait"])
def test_sweeper_leaves_executions_that_are_only_waiting_alone(workflow: str) -> None:
    """Fix: a passed sleep (or a consumed step result) is not a reason to wake an execution again.

    The old sweeper treated every sleep as pending forever, so an execution that had once slept
    and then waited for an event was replayed on every sweep.
    """
    with LocalCloud(regression_app(), backend="memory") as cloud:
        handle = cloud.client().start(workflow)
        cloud.advance(timedelta(minutes=10))
        for _ in range(3):
            cloud.advance(timedelta(minutes=5))
            assert cloud.sweep() == []
        assert cloud.client().describe(handle.execution_id).status == "RUNNING"


def test_execution_left_half_replayed_with_its_wake_ups_dead_lettered_is_swept() -> None:
    """Fix: the sweeper wakes a RUNNING execution that waits for nothing (its last replay died half-way).

    Five crashes in a row sent the wake-up to the DLQ after the first record of the replay was
    written; nothing was left pending, so the old sweeper saw nothing to do.
    """
    crashes = [
        Fault(
            "crash.before_write",
            target="orchestrator",
            method="put_item",
            nth=n,
            when=lambda m, a: a[0].pk.startswith("WAIT#"),
        )
        for n in range(1, 6)
    ]
    with LocalCloud(regression_app(), backend="memory", faults=FaultPlan(script=crashes)) as cloud:
        client = cloud.client()
        handle = client.start("waiter", "k2")
        assert [m["execution_id"] for m in cloud.dead_letters()] == [handle.execution_id]
        client.send_event("Waiter.go", {"key": "k2"})
        run_all(cloud)
        assert client.describe(handle.execution_id).result == {"key": "k2"}


def test_execution_created_but_never_woken_is_swept() -> None:
    """Fix: an execution with an empty journal whose start is older than the grace period is woken."""
    with LocalCloud(regression_app(), backend="memory") as cloud:
        from stepbridge.runtime.codec import content_hash
        from stepbridge.runtime.records import RUNNING, ExecutionRecord, iso

        now = iso(cloud.now())
        cloud.store.create_execution(
            ExecutionRecord("orphan", "declared", RUNNING, 3, content_hash(3), created_at=now, started_at=now)
        )
        cloud.advance(timedelta(minutes=1))
        assert cloud.sweep() == []  # within the grace period
        cloud.advance(timedelta(minutes=2))
        assert cloud.sweep() == ["orphan"]
        assert cloud.client().describe("orphan").result == 30


def test_throttled_step_report_is_retried_in_process_not_by_running_the_step_again() -> None:
    """Fix: the step worker retries its journal write and wake-up (with backoff) before giving up.

    Step functions have no asynchronous retries, so a throttled report used to be lost: the
    deadline timer fired a minute later and the step ran a second time.
    """
    plan = FaultPlan(
        script=[
            Fault("throttle.dynamodb", target="step", method="append_journal"),
            Fault("throttle.sqs", target="step", method="wake"),
        ]
    )
    CALLS.clear()
    with LocalCloud(regression_app(), backend="memory", faults=plan) as cloud:
        client = cloud.client()
        handle = client.start("declared", 5)
        assert client.describe(handle.execution_id).result == 50  # finished without waiting for the deadline
        assert CALLS["work"] == 1
        assert "Step.attempt_failed" not in [e.detail_type for e in client.history(handle.execution_id)]


def test_progress_is_stored_on_the_execution_when_the_invocation_dies_after_recording_it() -> None:
    """Fix: ``ctx.progress`` updates the execution header before journaling (the journal made replays skip it)."""
    plan = FaultPlan(
        script=[
            Fault(
                "crash.after_write",
                target="orchestrator",
                method="append_journal",
                when=lambda m, a: a[1].type == "progress",
            )
        ]
    )
    with LocalCloud(regression_app(), backend="memory", faults=plan) as cloud:
        client = cloud.client()
        handle = client.start("progressing")
        assert client.describe(handle.execution_id).progress == {"step": 1, "total": 2, "message": "half"}


def test_debounced_run_is_not_lost_when_the_invocation_dies_after_closing_the_window() -> None:
    """Fix: a closing debounce window starts its run before deleting the window.

    Deleted first, a crash in between lost the run: the redelivered message found no window.
    """
    plan = FaultPlan(
        script=[
            Fault(
                "crash.after_write",
                target="orchestrator",
                method="delete_item",
                when=lambda m, a: a[0].startswith("DEBOUNCE#"),
            )
        ]
    )
    with LocalCloud(regression_app(), backend="memory", faults=plan) as cloud:
        cloud.client().send_event("Entity.updated", {"name": "grace"})
        cloud.advance(10)
        assert cloud.faults is not None and cloud.faults.injected["crash.after_write"] == 1
        assert only(cloud, "greet").result == "hello grace"


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_event_the_router_failed_on_every_receive_lands_in_its_dead_letter_queue_and_is_redriven(backend: str) -> None:
    """The router queue retries a failed event ROUTER_MAX_RECEIVES times, then SQS dead-letters it."""
    from stepbridge.config import ROUTER_MAX_RECEIVES

    throttled = [
        Fault("throttle.dynamodb", target="router", method="put_item", nth=n) for n in range(1, ROUTER_MAX_RECEIVES + 1)
    ]  # the event log write, on every receive
    with LocalCloud(regression_app(), backend=backend, faults=FaultPlan(script=throttled)) as cloud:
        client = cloud.client()
        client.send_event("Greeting.requested", {"name": "lin"})
        # the catch-all delivery failed on every receive; the trigger's own delivery started the run
        (body,) = cloud.router_dead_letters()
        assert body["detail-type"] == "Greeting.requested" and "trigger" not in body  # the raw event, as sent
        assert cloud.router_receives["event"] == ROUTER_MAX_RECEIVES
        assert cloud.store.query_items("EVT#Greeting.requested") == []  # the event log missed it
        assert cloud.redrive() == 1
        assert cloud.router_dead_letters() == []
        assert len(cloud.store.query_items("EVT#Greeting.requested")) == 1
        assert only(cloud, "greet").result == "hello lin"


def test_router_redrive_helper_moves_dead_letters_back_to_the_router_queue() -> None:
    """``stepbridge executions redrive``: bodies go back as they are; a Lambda on-failure record (what the
    router's dead-letter queue held before the router queue) goes back as its ``requestPayload``."""
    import json as _json

    import boto3
    from moto import mock_aws

    from stepbridge.infra.provision import redrive_router_queue

    with LocalCloud(regression_app(), backend="memory"), mock_aws():  # LocalCloud sets dummy credentials
        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="router-dlq")["QueueUrl"]
        queue = sqs.create_queue(QueueName="router")["QueueUrl"]
        for n in range(2):
            sqs.send_message(QueueUrl=dlq, MessageBody=_json.dumps({"detail-type": "X.y", "id": str(n)}))
        old = {"version": "1.0", "requestContext": {"condition": "RetriesExhausted"},
               "requestPayload": {"detail-type": "X.y", "id": "2"}, "responsePayload": {}}
        sqs.send_message(QueueUrl=dlq, MessageBody=_json.dumps(old))
        assert redrive_router_queue(sqs, dlq, queue) == 3
        moved = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        assert sorted(_json.loads(m["Body"])["id"] for m in moved) == ["0", "1", "2"]
        assert all("requestContext" not in _json.loads(m["Body"]) for m in moved)
        assert sqs.receive_message(QueueUrl=dlq).get("Messages", []) == []


# ---- the sweeper and the journal cache's records ------------------------------------------------

from stepbridge.runtime.records import ACK_OP, ANNOUNCE, RUNNING, ExecutionRecord, JournalRecord  # noqa: E402
from stepbridge.runtime.sweeper import stale_since  # noqa: E402


def _rec(key: str, kind: str, at: str, seq: int, **data: Any) -> JournalRecord:
    """A declared step's record, written at 08:``at``."""
    return JournalRecord(key, key.split("#")[0], "step", kind, dict(data), at=f"2026-01-05T08:{at}+00:00", seq=seq)


def test_a_step_failure_recorded_by_a_replay_that_then_died_is_swept() -> None:
    """The replay recorded attempt 1 as timed out, then died before setting the retry timer (its
    message dead-lettered): nothing outstanding will wake the execution, so the sweeper must."""
    header = ExecutionRecord("e1", "wf", RUNNING, started_at="2026-01-05T08:00:00.000000+00:00")
    journal = [
        _rec("charge#d1", "dispatch", "00:00.000000", 1, deadline="2026-01-05T08:01:30.000000+00:00"),
        _rec("charge#a1", "attempt", "01:30.000000", 2, error={"type": "StepTimeout"}),
    ]
    now = datetime(2026, 1, 5, 8, 10, tzinfo=UTC)
    since, idle = stale_since(header, journal, now)
    assert idle and since is not None and since < now - timedelta(minutes=2)
    # with the retry timer recorded, it is waiting again (for the retry), not stale
    journal.append(_rec("charge#r1", "retry", "01:30.000000", 3, retry_at="2026-01-05T08:20:00.000000+00:00"))
    assert stale_since(header, journal, now) == (None, False)


def test_an_announcement_before_a_claim_is_not_progress() -> None:
    """A replay announced a claim in the log and died before making it: the deadline it was handling
    is still unprocessed, so the sweeper wakes the execution."""
    header = ExecutionRecord("e1", "wf", RUNNING, started_at="2026-01-05T08:00:00.000000+00:00")
    journal = [
        _rec("note#d1", "dispatch", "00:00.000000", 1, deadline="2026-01-05T08:01:20.000000+00:00"),
        JournalRecord(
            "$ack#2", ACK_OP, "ack", ANNOUNCE, at="2026-01-05T08:05:00.000000+00:00", seq=2, acks=["note#a1"]
        ),
    ]
    now = datetime(2026, 1, 5, 8, 10, tzinfo=UTC)
    since, _ = stale_since(header, journal, now)
    assert since is not None and since < now - timedelta(minutes=2)
