"""Two leftovers of the issue-13 soak work: which instant a timer is set for, and how long a timer
lost to a crash right after its record waits.

1. A replay that adopts a racing twin's failed-attempt record (the twin wrote it first, with its own
   clock) must arm the retry timer for the instant *recorded* - the one every later replay and the
   sweeper read - not for the instant it computed itself.
2. A container that dies right after writing a sleep's (or a dispatch's) record, before setting its
   timer, leaves nothing to wake the execution but the sweeper: it is woken within the documented
   recovery bound (grace + one sweep interval + one interval for the schedule's alignment).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from clockskew import MinuteBehindTwin

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.local.faults import Fault, FaultPlan
from stepbridge.runtime.replay import timer_name


def test_a_replay_that_adopted_a_racing_twins_attempt_record_arms_the_retry_for_the_recorded_instant() -> None:
    app = App("raced")
    calls: list[int] = []

    @app.workflow("flaky")
    async def flaky(ctx: Context) -> str:
        def once_failing() -> str:
            calls.append(1)
            if len(calls) <= 2:
                raise RuntimeError("fails")
            return "ok"

        return str(await ctx.step("x", once_failing, retry=Retry(max_attempts=5, jitter=False)))

    twin = MinuteBehindTwin("x#a1")
    with LocalCloud(app, backend="memory", faults=FaultPlan(script=[twin.fault])) as cloud:
        skewed = twin.install(cloud)
        cloud.eager = False
        h = cloud.client().start("flaky")
        cloud._drain_queue()
        assert cloud.faults is not None and cloud.faults.injected["queue.visibility_expired"] == 1
        recorded = next(r for r in cloud.store.load_journal(h.execution_id) if r.key == "x#a1")
        retry_at = datetime.fromisoformat(str(recorded.data["retry_at"]))
        (timer,) = [t for t in cloud.timers.pending() if t.name == timer_name(h.execution_id, "x#a1")]
        # the twin (a minute behind) recorded the retry; the replay that adopted its record armed the
        # timer last: for the recorded instant, not its own a minute later
        assert timer.at == retry_at
        skewed.offset = timedelta(0)
        cloud.eager = True
        assert h.result() == "ok"


def sleepy_app() -> App:
    app = App("sleepy")

    @app.step(timeout=10)
    def work() -> str:
        return "worked"

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        await ctx.sleep(600)
        return "awake"

    @app.workflow("job")
    async def job(ctx: Context) -> str:
        return str(await ctx.step("work", work))

    return app


#: The sweeper's recovery bound for a few executions (docs/RELIABILITY.md, "Recovery bound"): a lost
#: wake-up is acted on within grace (2 min) + one interval (5 min) + one interval for the alignment of
#: the sweeper's schedule (5 min) of its due instant.
RECOVERY_BOUND = timedelta(minutes=2 + 5 + 5)


@pytest.mark.parametrize(
    ("workflow", "kind", "due_after"),
    [("nap", "timer", timedelta(seconds=600)), ("job", "dispatch", timedelta(seconds=10 + 30))],
)
def test_a_crash_right_after_a_timed_record_is_recovered_by_the_sweeper_within_its_bound(
    workflow: str, kind: str, due_after: timedelta
) -> None:
    """The crash kills the container after the sleep's (the dispatch's) record and before its timer (its
    invoke): nothing is armed, and the redelivered message replays, finds the record and suspends on it.
    The sweeper, on its 5-minute schedule, wakes the execution within the recovery bound of the instant
    the timer (the step's deadline) stood for."""
    crash = Fault("crash.after_write", target="orchestrator", method="append_journal",
                  when=lambda m, a: a[1].kind == kind, nth=1)
    with LocalCloud(sleepy_app(), backend="memory", faults=FaultPlan(script=[crash])) as cloud:
        client = cloud.client()
        h = client.start(workflow)
        assert cloud.faults is not None and cloud.faults.injected["crash.after_write"] == 1
        recorded = next(r for r in cloud.store.load_journal(h.execution_id) if r.kind == kind)
        due = datetime.fromisoformat(str(recorded.at)) + due_after
        assert not [t for t in cloud.timers.pending() if t.schedule is None]  # nothing armed
        # The sweeper runs every 5 minutes, as its schedule does.
        finished_at = None
        while cloud.now() <= due + RECOVERY_BOUND:
            cloud.advance(timedelta(minutes=5))
            cloud.sweep()
            if client.describe(h.execution_id).status == "SUCCEEDED":
                finished_at = cloud.now()
                break
        assert finished_at is not None, f"still {client.describe(h.execution_id).status} past the recovery bound"
        assert finished_at <= due + RECOVERY_BOUND
        assert client.describe(h.execution_id).result == ("awake" if workflow == "nap" else "worked")
