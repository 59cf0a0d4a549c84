"""The declared steps one orchestrator invocation dispatches share a deadline timer (runtime/stepcover.py).

Issue 17: a 1,000-way gather made 1,000 CreateSchedule and 1,000 DeleteSchedule calls, one deadline timer
per step. Now the first dispatch of an invocation keeps its own timer (a sequential workflow makes the same
calls as before) and the later ones share one; a step that never reports is still timed out at its own
deadline (the shared timer, when it fires, is set again at the next outstanding deadline), and a step that
reports late is handled as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from test_local_cloud_calls import counting

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.runtime import keys
from stepbridge.runtime.records import JournalRecord, StepInvocation, parse_iso
from stepbridge.runtime.stepcover import COVER, COVERED, CoverPlan, next_cover, pending_covers
from stepbridge.runtime.vocabulary import Kind, OpType

N = 20


def fan_app() -> App:
    app = App("cover")

    @app.step(timeout=10, retry=Retry(max_attempts=2, backoff="fixed", initial_delay=1))
    def quick(i: int) -> int:
        return i * 2

    @app.step(timeout=100, retry=Retry(max_attempts=2, backoff="fixed", initial_delay=1))
    def slow(i: int) -> int:
        return i * 3

    @app.workflow("fan")
    async def fan(ctx: Context, n: int) -> int:
        values = await ctx.gather(*[ctx.step(f"q-{i}", quick, i) for i in range(n)])
        return sum(values)

    @app.workflow("mixed")
    async def mixed(ctx: Context) -> list[int]:
        return list(await ctx.gather(ctx.step("a", quick, 1), ctx.step("b", quick, 2), ctx.step("c", slow, 3)))

    @app.workflow("sequence")
    async def sequence(ctx: Context, n: int) -> int:
        total = 0
        for i in range(n):
            total += await ctx.step(f"s-{i}", quick, i)
        return total

    return app


def _scheduler_calls(calls: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in calls.items() if k.startswith("Scheduler.")}


def _schedules(cloud: LocalCloud) -> list[str]:
    scheduler = cloud._aws_effects.scheduler
    group = cloud.resources.config.schedule_group
    return [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]


def test_a_gather_of_declared_steps_sets_two_deadline_timers_not_one_per_step_on_moto() -> None:
    with LocalCloud(fan_app()) as cloud:
        client = cloud.client()
        assert client.start("sequence", 1).result() == 0  # warm: the clients exist
        with counting(cloud) as calls:
            assert client.start("fan", N, execution_id="f").result() == sum(2 * i for i in range(N))
        # The first dispatch's own timer (deleted by its step's report) and the one the 19 others share
        # (deleted by the orchestrator when the execution ends): 2 + 2 calls, not 20 + 20.
        assert _scheduler_calls(calls) == {"Scheduler.CreateSchedule": 2, "Scheduler.DeleteSchedule": 2}
        assert _schedules(cloud) == []
        dispatches = [r for r in cloud.store.load_journal("f") if r.kind == Kind.DISPATCH]
        assert sorted(str(r.data.get("timer")) for r in dispatches) == sorted(
            ["None", COVER] + [COVERED] * (N - 2)
        )


def test_a_sequence_of_declared_steps_keeps_one_timer_per_step_and_the_same_calls_on_moto() -> None:
    with LocalCloud(fan_app()) as cloud:
        client = cloud.client()
        assert client.start("sequence", 1).result() == 0
        with counting(cloud) as calls:
            assert client.start("sequence", 3, execution_id="s").result() == 6
        assert _scheduler_calls(calls) == {"Scheduler.CreateSchedule": 3, "Scheduler.DeleteSchedule": 3}
        assert all("timer" not in r.data for r in cloud.store.load_journal("s") if r.kind == Kind.DISPATCH)
        assert _schedules(cloud) == []


def _dropping(cloud: LocalCloud, drop: Callable[[StepInvocation], bool]) -> list[StepInvocation]:
    """Make the cloud lose the step invocations ``drop`` picks (the Lambda crashed before reporting)."""
    lost: list[StepInvocation] = []
    run = cloud._run_step

    def run_step(inv: StepInvocation) -> None:
        if drop(inv):
            lost.append(inv)
            return
        run(inv)

    cloud._run_step = run_step  # type: ignore[method-assign]
    return lost


def _record(cloud: LocalCloud, execution_id: str, key: str) -> JournalRecord:
    found = [r for r in cloud.store.load_journal(execution_id) if r.key == key]
    assert found, f"no record {key}"
    return found[0]


@pytest.mark.parametrize("never", ["q-0", "q-1", "q-7"])
def test_a_step_of_a_gather_that_never_reports_is_timed_out_at_its_own_deadline(never: str) -> None:
    # q-0 has its own timer, q-1 sets the shared one, q-7 is covered by it.
    with LocalCloud(fan_app(), backend="memory") as cloud:
        cloud.eager = False
        lost = _dropping(cloud, lambda inv: inv.op == never and inv.attempt == 1)
        client = cloud.client()
        handle = client.start("fan", 8, execution_id="g")
        cloud.run_until_idle()
        assert [inv.op for inv in lost] == [never]
        deadline = parse_iso(str(_record(cloud, "g", keys.dispatch_key(never, 1)).data["deadline"]))
        cloud.advance_to(deadline - timedelta(seconds=1))
        assert client.describe("g").status == "RUNNING"
        cloud.advance(timedelta(seconds=5))
        failed = _record(cloud, "g", keys.attempt_key(never, 1))
        assert failed.kind == Kind.ATTEMPT and failed.data["error"]["type"].endswith("StepTimeout")
        assert parse_iso(failed.at) == deadline  # timed out at its own deadline (virtual clock)
        assert handle.result() == sum(2 * i for i in range(8))  # the retry ran and reported
        assert _record(cloud, "g", never).data["attempts"] == 2


def _held(cloud: LocalCloud, hold: Callable[[StepInvocation], bool]) -> list[StepInvocation]:
    """Keep back the step invocations ``hold`` picks; the test runs them later (a slow or late step)."""
    return _dropping(cloud, hold)


def test_a_slow_step_outlives_the_shared_timer_which_is_set_again_at_its_deadline() -> None:
    # a: own timer (10 s + grace); b: sets the shared timer at its deadline; c (slow, 100 s + grace) is covered.
    with LocalCloud(fan_app(), backend="memory") as cloud:
        cloud.eager = False
        lost = _dropping(cloud, lambda inv: inv.op == "c" and inv.attempt == 1)
        client = cloud.client()
        handle = client.start("mixed", execution_id="m")
        cloud.run_until_idle()
        b = _record(cloud, "m", keys.dispatch_key("b", 1))
        c = _record(cloud, "m", keys.dispatch_key("c", 1))
        assert (b.data["timer"], c.data["timer"]) == (COVER, COVERED) and len(lost) == 1
        shared = keys.timer_name("m", keys.cover_timer_key(b.key))
        rearmed = keys.timer_name("m", keys.cover_timer_key(c.key))
        assert [t.name for t in cloud.timers.pending()] == [shared]  # a's and c's own: none; a reported
        cloud.advance_to(parse_iso(str(b.data["deadline"])))
        # The shared timer fired with c still outstanding: set again at c's deadline.
        assert [(t.name, t.at) for t in cloud.timers.pending()] == [(rearmed, parse_iso(str(c.data["deadline"])))]
        assert client.describe("m").status == "RUNNING"
        cloud.advance_to(parse_iso(str(c.data["deadline"])))
        failed = _record(cloud, "m", keys.attempt_key("c", 1))
        assert failed.data["error"]["type"].endswith("StepTimeout")
        assert parse_iso(failed.at) == parse_iso(str(c.data["deadline"]))
        assert handle.result() == [2, 4, 9]


def test_a_step_reporting_late_after_the_shared_timer_was_set_again_is_taken() -> None:
    with LocalCloud(fan_app(), backend="memory") as cloud:
        cloud.eager = False
        run = cloud._run_step
        held = _held(cloud, lambda inv: inv.op == "c")
        client = cloud.client()
        handle = client.start("mixed", execution_id="late")
        cloud.run_until_idle()
        b = _record(cloud, "late", keys.dispatch_key("b", 1))
        cloud.advance_to(parse_iso(str(b.data["deadline"])) + timedelta(seconds=1))  # the shared timer fired
        assert client.describe("late").status == "RUNNING"
        run(held.pop())  # c reports now, before its own deadline
        cloud.run_until_idle()
        assert handle.result() == [2, 4, 9]
        assert keys.attempt_key("c", 1) not in {r.key for r in cloud.store.load_journal("late")}
        # The timer set again at c's deadline is left to fire: it finds the execution ended and changes nothing.
        c = _record(cloud, "late", keys.dispatch_key("c", 1))
        cloud.advance_to(parse_iso(str(c.data["deadline"])) + timedelta(seconds=1))
        assert client.describe("late").status == "SUCCEEDED" and cloud.timers.pending() == []


def _dispatch(op: str, attempt: int, deadline: datetime, timer: str | None) -> JournalRecord:
    data: dict[str, object] = {"step": "s", "attempt": attempt, "deadline": deadline.isoformat()}
    if timer is not None:
        data["timer"] = timer
    return JournalRecord(key=keys.dispatch_key(op, attempt), op=op, type=OpType.STEP, kind=Kind.DISPATCH, data=data)


def test_the_plan_gives_the_first_dispatch_its_own_timer_and_a_shorter_deadline_a_new_shared_one() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=parse_iso("2026-01-01T00:00:00+00:00").tzinfo)
    plan = CoverPlan()
    at = [t0 + timedelta(seconds=s) for s in (70, 71, 160, 72, 65, 66)]
    assert [plan.place(d) for d in at] == [None, COVER, COVERED, COVERED, COVER, COVERED]
    assert plan.at == t0 + timedelta(seconds=65)


def test_next_cover_skips_finished_failed_and_retried_steps_and_own_timers() -> None:
    t0 = parse_iso("2026-01-01T00:00:00+00:00")
    journal = {
        r.key: r
        for r in [
            _dispatch("own", 1, t0 + timedelta(seconds=50), None),
            _dispatch("done", 1, t0 + timedelta(seconds=60), COVER),
            JournalRecord(key="done", op="done", type=OpType.STEP, kind=Kind.RESULT, data={"result": 1}),
            _dispatch("failed", 1, t0 + timedelta(seconds=70), COVERED),
            JournalRecord(key=keys.attempt_key("failed", 1), op="failed", type=OpType.STEP, kind=Kind.ATTEMPT,
                          data={"attempt": 1}),
            _dispatch("retried", 1, t0 + timedelta(seconds=80), COVERED),
            _dispatch("retried", 2, t0 + timedelta(seconds=200), None),
            _dispatch("passed", 1, t0 + timedelta(seconds=5), COVERED),
            _dispatch("open", 1, t0 + timedelta(seconds=90), COVERED),
            _dispatch("later", 1, t0 + timedelta(seconds=95), COVERED),
        ]
    }
    found = next_cover(journal, t0 + timedelta(seconds=10))
    assert found is not None and (found[0].key, found[1]) == (keys.dispatch_key("open", 1), t0 + timedelta(seconds=90))
    assert next_cover(journal, t0 + timedelta(seconds=100)) is None
    # Not due yet at t0 + 10 s: the shared timer of "done"; "passed"'s is covered, not a shared timer.
    assert pending_covers(journal.values(), t0 + timedelta(seconds=10)) == [keys.cover_timer_key("done#d1")]


def test_an_invocation_without_the_disarm_flag_is_read_as_before() -> None:
    inv = StepInvocation("e", "op", "step", [], 1, "2026-01-01T00:00:00+00:00")
    assert "disarm" not in inv.to_dict() and StepInvocation.from_dict(inv.to_dict()).disarm
    covered = StepInvocation("e", "op", "step", [], 1, "", disarm=False)
    assert covered.to_dict()["disarm"] is False and not StepInvocation.from_dict(covered.to_dict()).disarm


def test_a_shared_timer_delivered_early_is_set_again_at_its_instant() -> None:
    # Scheduler may deliver a one-time schedule early and deletes it once delivered (orchestrator
    # ``_rearm_early_timers``): the shared timer must come back at its instant, or b and c would wait for the sweeper.
    with LocalCloud(fan_app(), backend="memory") as cloud:
        cloud.eager = False
        lost = _dropping(cloud, lambda inv: inv.op in ("b", "c") and inv.attempt == 1)
        client = cloud.client()
        client.start("mixed", execution_id="early")
        cloud.run_until_idle()
        assert sorted(inv.op for inv in lost) == ["b", "c"]
        b = _record(cloud, "early", keys.dispatch_key("b", 1))
        shared = keys.timer_name("early", keys.cover_timer_key(b.key))
        (timer,) = [t for t in cloud.timers.pending() if t.name == shared]
        assert timer.message is not None
        cloud.timers.cancel(shared)
        cloud.effect_send(timer.message)  # delivered 70 s early
        cloud.run_until_idle()
        assert [(t.name, t.at) for t in cloud.timers.pending()] == [(shared, parse_iso(str(b.data["deadline"])))]
        cloud.advance_to(parse_iso(str(b.data["deadline"])))
        failed = _record(cloud, "early", keys.attempt_key("b", 1))
        assert parse_iso(failed.at) == parse_iso(str(b.data["deadline"]))
