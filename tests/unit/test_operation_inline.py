"""Decision table of an inline step (``runtime/operations/inline.py``): states x now -> action, no cloud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stepbridge.api.retry import Retry
from stepbridge.runtime.lifecycle import FINISHED, INTERRUPTED, NOT_STARTED, RETRY_WAIT
from stepbridge.runtime.operations.actions import Record, Return, Run, SetTimer, Suspend
from stepbridge.runtime.operations.inline import InlineStep
from stepbridge.runtime.records import JournalRecord, iso

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ERR = {"type": "builtins.ValueError", "mro": ["builtins.ValueError"]}


def rec(key: str, kind: str, **data: object) -> JournalRecord:
    return JournalRecord(key, "fetch", "step", kind, dict(data), at=iso(T0))


def records(*recs: JournalRecord) -> dict[str, JournalRecord]:
    return {r.key: r for r in recs}


def step(max_attempts: int = 3, *, once: bool = False, suspect: bool = False) -> InlineStep:
    return InlineStep("fetch", Retry(max_attempts=max_attempts, jitter=False), once, "e1/fetch", suspect)


FAILED1 = rec("fetch#a1", "attempt", attempt=1, error=ERR, retry_at=iso(T0 + timedelta(seconds=2)))


def test_state_reads_each_phase_from_the_records() -> None:
    assert InlineStep.state("fetch", {}).phase == NOT_STARTED
    waiting = InlineStep.state("fetch", records(FAILED1))
    assert (waiting.phase, waiting.attempt, waiting.failure) == (RETRY_WAIT, 2, FAILED1)
    marker = rec("fetch#s2", "started", attempt=2)
    interrupted = InlineStep.state("fetch", records(FAILED1, marker))
    assert (interrupted.phase, interrupted.attempt, interrupted.started) == (INTERRUPTED, 2, marker)
    assert InlineStep.state("fetch", records(rec("fetch", "result", result=1))).phase == FINISHED


def test_a_first_attempt_runs_unmarked_unless_an_earlier_invocation_may_have_died() -> None:
    assert step().decide(InlineStep.state("fetch", {}), T0) == Run(1, None)
    assert step(suspect=True).decide(InlineStep.state("fetch", {}), T0) == Run(1, "fetch#s1")
    assert step(1, once=True).decide(InlineStep.state("fetch", {}), T0) == Run(1, "fetch#started")


def test_a_retry_waits_for_its_instant_then_runs_marked() -> None:
    state = InlineStep.state("fetch", records(FAILED1))
    assert step().decide(state, T0 + timedelta(seconds=1)) == Suspend()
    assert step().decide(state, T0 + timedelta(seconds=2)) == Run(2, "fetch#s2")


def test_an_interrupted_attempt_waits_until_its_invocation_surely_stopped() -> None:
    alive = T0 + timedelta(seconds=60)
    marker = rec("fetch#s1", "started", attempt=1, alive_until=iso(alive))
    state = InlineStep.state("fetch", records(marker))
    assert step().decide(state, T0) == SetTimer("fetch#s1", alive, "interrupted:fetch", Suspend())
    action = step().decide(state, alive)  # then it counts as a failed attempt, retried durably
    assert isinstance(action, Record) and (action.key, action.kind, action.durable) == ("fetch#a1", "attempt", True)
    assert action.data["interrupted"] is True and isinstance(action.then, SetTimer)


def test_an_interrupted_at_most_once_step_fails_with_step_interrupted() -> None:
    state = InlineStep.state("fetch", records(rec("fetch#started", "started", attempt=1)))
    action = step(1, once=True).decide(state, T0)
    assert isinstance(action, Record) and (action.key, action.kind, action.shared) == ("fetch", "error", False)
    assert action.data["error"]["type"] == "stepbridge.errors.StepInterrupted"  # type: ignore[index]
    assert action.then == Return()


def test_a_failed_attempt_is_retried_durably_or_recorded_as_the_final_error() -> None:
    retry = step().failed(1, ERR, T0)
    assert (retry.key, retry.kind, retry.durable) == ("fetch#a1", "attempt", True)
    assert retry.data["retry_at"] == iso(T0 + timedelta(seconds=1))
    assert retry.then == SetTimer("fetch#a1", T0 + timedelta(seconds=1), "retry:fetch", Suspend(), "retry_at")
    final = step().failed(3, ERR, T0)
    assert final == Record("fetch", "error", {"error": ERR, "attempts": 3}, durable=True, then=Return())
