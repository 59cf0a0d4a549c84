"""``ReplaySession`` and ``JournalView`` (the two halves of a replay): each changed only through its methods."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stepbridge.errors import DuplicateStepError, ExecutionCancelled, NonDeterminismError, WorkflowDefinitionError
from stepbridge.infra.memory import InMemoryStore
from stepbridge.runtime.journalview import JournalView
from stepbridge.runtime.records import RUNNING, ExecutionRecord, JournalRecord
from stepbridge.runtime.session import ReplaySession
from stepbridge.runtime.suspension import Suspend

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def session(*ops: str, cancel: bool = False) -> ReplaySession:
    execution = ExecutionRecord("e1", "wf", RUNNING, cancel_requested=cancel)
    return ReplaySession(execution, ops)


def test_cancellation_ends_a_suspension_except_while_compensating() -> None:
    s = session(cancel=True)
    with pytest.raises(ExecutionCancelled, match="execution 'e1' was cancelled"):
        s.suspend()
    with s.compensation(), s.compensation():
        assert s.compensating
        with pytest.raises(Suspend):
            s.suspend()
    assert not s.compensating
    with pytest.raises(Suspend):
        session().suspend()


def test_a_suspension_nobody_consumed_counts_as_swallowed() -> None:
    s = session()
    with pytest.raises(Suspend) as raised:
        s.suspend()
    assert s.swallowed_suspension()
    raised.value.consumed = True
    assert not s.swallowed_suspension()


def test_the_first_fatal_error_wins() -> None:
    s = session()
    first, second = WorkflowDefinitionError("first"), WorkflowDefinitionError("second")
    with pytest.raises(WorkflowDefinitionError, match="first"):
        s.fail(first)
    s.note_fatal(second)
    assert s.fatal is first


def test_claims_refuse_bad_and_repeated_names_and_fail_the_execution() -> None:
    s = session()
    s.claim("charge", "step")
    with pytest.raises(DuplicateStepError, match="used the step name 'charge' twice"):
        s.claim("charge", "step")
    assert isinstance(s.fatal, DuplicateStepError)
    with pytest.raises(WorkflowDefinitionError, match="reserved"):
        session().claim("$x", "step")


def test_recorded_operations_not_asked_for_are_named_as_nondeterminism() -> None:
    s = session("a", "b", "$now")
    s.claim("a", "step")
    assert not s.all_recorded_requested()
    s.mark_new("c")
    problem = s.nondeterminism(["a", "b", "$now"])
    assert isinstance(problem, NonDeterminismError)
    assert "recorded 'b' but the code now asked for 'c'" in str(problem)
    s.claim("b", "step")
    assert s.all_recorded_requested() and s.nondeterminism(["a", "b"]) is None


def test_auto_names_count_per_base() -> None:
    s = session()
    assert [s.auto_name("sleep"), s.auto_name("sleep"), s.auto_name("$now")] == ["sleep", "sleep#2", "$now"]


def test_the_view_never_runs_its_clock_backwards_and_reports_a_full_journal_through_its_fail_hook() -> None:
    store = InMemoryStore()
    later = JournalRecord("a", "a", "step", "result", {"result": 1}, at="2026-03-01T13:00:00+00:00", seq=1)
    failures: list[BaseException] = []

    def fail(exc: BaseException) -> None:  # type: ignore[misc]
        failures.append(exc)
        raise exc

    view = JournalView("e1", store, lambda: T0, {"a": later}, fail=fail)  # type: ignore[arg-type]
    assert view.now().hour == 13  # the clock of a container behind is raised to the latest recorded instant
    with pytest.raises(WorkflowDefinitionError, match="cap"):
        view.check_room("b", 10**9)
    assert len(failures) == 1 and list(view.ops()) == ["a"]
