"""Decision table of a declared step (``runtime/operations/declared.py``): states x now -> action, no cloud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stepbridge.api.retry import Retry
from stepbridge.errors import NonRetryableError
from stepbridge.runtime.errorcodec import error_dict
from stepbridge.runtime.lifecycle import FAILED, FINISHED, NOT_DISPATCHED, RETRY_WAIT, RUNNING
from stepbridge.runtime.operations.actions import Dispatch, Record, Refresh, Return, SetTimer, Suspend
from stepbridge.runtime.operations.declared import UNSTARTED_DISPATCHES, DeclaredStep, is_declared
from stepbridge.runtime.records import JournalRecord, iso

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(seconds=90)


def rec(key: str, kind: str, **data: object) -> JournalRecord:
    return JournalRecord(key, "charge", "step", kind, dict(data), at=iso(T0))


def records(*recs: JournalRecord) -> dict[str, JournalRecord]:
    return {r.key: r for r in recs}


def step(max_attempts: int = 3, *, once: bool = False) -> DeclaredStep:
    return DeclaredStep("charge", Retry(max_attempts=max_attempts, jitter=False), once, 30.0, "e1/charge")


DISPATCH1 = rec("charge#d1", "dispatch", attempt=1, deadline=iso(DEADLINE))
FAILURE1 = rec("charge#a1", "attempt", attempt=1, error={"type": "builtins.ValueError", "mro": ["builtins.ValueError"]})
RETRY1 = rec("charge#r1", "retry", attempt=1, retry_at=iso(T0 + timedelta(seconds=5)))


def test_state_reads_each_phase_from_the_records() -> None:
    assert DeclaredStep.state("charge", {}).phase == NOT_DISPATCHED
    assert DeclaredStep.state("charge", records(DISPATCH1)).phase == RUNNING
    assert DeclaredStep.state("charge", records(DISPATCH1, FAILURE1)).phase == FAILED
    waiting = DeclaredStep.state("charge", records(DISPATCH1, FAILURE1, RETRY1))
    assert (waiting.phase, waiting.attempt, waiting.retry) == (RETRY_WAIT, 1, RETRY1)
    final = rec("charge", "result", result=7)
    assert DeclaredStep.state("charge", records(DISPATCH1, final)).final is final
    assert DeclaredStep.state("charge", records(DISPATCH1, final)).phase == FINISHED
    assert is_declared(records(DISPATCH1), "charge") and not is_declared(records(FAILURE1), "charge")


def test_nothing_recorded_dispatches_the_first_attempt() -> None:
    assert step().decide(DeclaredStep.state("charge", {}), T0) == Dispatch(1, False)
    assert step(1, once=True).decide(DeclaredStep.state("charge", {}), T0) == Dispatch(1, True)


def test_a_finished_step_returns_its_final_record() -> None:
    final = rec("charge", "error", error={"type": "x"})
    assert step().decide(DeclaredStep.state("charge", records(DISPATCH1, final)), T0) == Return(final)


@pytest.mark.parametrize(
    ("now", "refreshed", "expected"),
    [
        (T0, False, Suspend()),  # before the deadline: the step's report will wake the execution
        (DEADLINE, False, Refresh(("charge", "charge#a1"))),  # past it: read the report keys fresh first
    ],
)
def test_a_running_step_waits_until_its_deadline_then_looks_again(
    now: datetime, refreshed: bool, expected: object
) -> None:
    state = DeclaredStep.state("charge", records(DISPATCH1), refreshed=refreshed)
    assert step().decide(state, now) == expected


def test_past_the_deadline_with_nothing_found_it_claims_the_attempt_as_timed_out() -> None:
    action = step().decide(DeclaredStep.state("charge", records(DISPATCH1), refreshed=True), DEADLINE)
    assert isinstance(action, Record)
    assert (action.key, action.kind, action.shared, action.then) == ("charge#a1", "attempt", True, None)
    assert action.data["attempt"] == 1 and "did not report within its 30 s timeout" in str(action.data["error"])


def test_an_at_most_once_step_reads_its_started_marker_too_and_fails_interrupted_when_it_started() -> None:
    once = step(1, once=True)
    assert once.decide(DeclaredStep.state("charge", records(DISPATCH1)), DEADLINE) == Refresh(
        ("charge", "charge#a1", "charge#started")
    )
    started = rec("charge#started", "started", attempt=1)
    action = once.decide(DeclaredStep.state("charge", records(DISPATCH1, started), refreshed=True), DEADLINE)
    assert isinstance(action, Record)
    assert (action.key, action.kind, action.shared, action.then) == ("charge", "error", True, Return())
    assert action.data["error"]["type"] == "stepbridge.errors.StepInterrupted"  # type: ignore[index]
    unstarted = once.decide(DeclaredStep.state("charge", records(DISPATCH1), refreshed=True), DEADLINE)
    assert isinstance(unstarted, Record) and unstarted.data["started"] is False
    assert "was not started" in str(unstarted.data["error"])


def test_an_unstarted_at_most_once_attempt_is_dispatched_again_up_to_the_limit() -> None:
    once = step(1, once=True)
    for k in range(1, UNSTARTED_DISPATCHES + 1):
        dispatch = rec(f"charge#d{k}", "dispatch", attempt=k, deadline=iso(DEADLINE))
        lost = rec(f"charge#a{k}", "attempt", attempt=k, started=False, error={"type": "stepbridge.errors.StepTimeout"})
        earlier = [rec(f"charge#d{i}", "dispatch", deadline=iso(DEADLINE)) for i in range(1, k)]
        journal = records(*earlier, dispatch, lost)
        action = once.decide(DeclaredStep.state("charge", journal), DEADLINE)
        if k < UNSTARTED_DISPATCHES:
            assert action == Dispatch(k + 1, True)
        else:  # the limit: the step fails with its recorded error
            assert isinstance(action, Record) and (action.key, action.kind) == ("charge", "error")


def test_a_failed_attempt_schedules_a_durable_retry_then_dispatches_it_when_due() -> None:
    state = DeclaredStep.state("charge", records(DISPATCH1, FAILURE1))
    action = step().decide(state, T0)
    assert isinstance(action, Record) and (action.key, action.kind) == ("charge#r1", "retry")
    assert action.data["retry_at"] == iso(T0 + timedelta(seconds=1)) and action.data["delay"] == 1.0
    assert action.then == SetTimer("charge#r1", T0 + timedelta(seconds=1), "retry:charge", Suspend(), "retry_at")
    waiting = DeclaredStep.state("charge", records(DISPATCH1, FAILURE1, RETRY1))
    assert step().decide(waiting, T0 + timedelta(seconds=4)) == Suspend()
    assert step().decide(waiting, T0 + timedelta(seconds=5)) == Dispatch(2, False)


@pytest.mark.parametrize(
    ("max_attempts", "error"),
    [
        (1, {"type": "builtins.ValueError", "mro": ["builtins.ValueError"]}),  # attempts spent
        (3, error_dict(NonRetryableError("no"))),  # never retried
        (3, {"type": "builtins.ValueError", "fatal": True}),  # fatal
    ],
)
def test_a_failure_that_is_not_retried_records_the_final_error_as_a_claim(
    max_attempts: int, error: dict[str, object]
) -> None:
    failure = rec("charge#a1", "attempt", attempt=1, error=error)
    action = step(max_attempts).decide(DeclaredStep.state("charge", records(DISPATCH1, failure)), T0)
    assert action == Record("charge", "error", {"error": error, "attempts": 1}, shared=True, then=Return())
