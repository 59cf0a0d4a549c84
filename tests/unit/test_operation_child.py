"""Decision table of a child workflow (``runtime/operations/child.py``): states -> action, no cloud."""

from __future__ import annotations

from stepbridge.errors import ChildFailed
from stepbridge.runtime.operations.actions import Raise, Return, Suspend
from stepbridge.runtime.operations.child import Child
from stepbridge.runtime.records import JournalRecord

CHILD = Child("ship", "parent/ship")
STARTED = JournalRecord("ship#d1", "ship", "child", "dispatch", {"child_id": "parent/ship", "input": {}}, seq=1)


def test_a_started_child_is_waited_for_until_it_reports() -> None:
    state = Child.state("ship", {"ship#d1": STARTED})
    assert state.dispatch is STARTED and Child.outstanding(state)
    assert CHILD.decide(state) == Suspend()
    assert Child.state("ship", {}).dispatch is None


def test_a_child_result_is_returned() -> None:
    result = JournalRecord("ship", "ship", "child", "result", {"result": 3})
    state = Child.state("ship", {"ship#d1": STARTED, "ship": result})
    assert CHILD.decide(state) == Return(result) and not Child.outstanding(state)


def test_a_failed_child_raises_child_failed_with_its_status_and_original_error() -> None:
    error = {"type": "builtins.ValueError", "message": "bad", "mro": ["builtins.ValueError", "builtins.Exception"]}
    failed = JournalRecord("ship", "ship", "child", "error", {"error": error, "status": "CANCELLED"})
    action = CHILD.decide(Child.state("ship", {"ship": failed}))
    assert isinstance(action, Raise) and isinstance(action.error, ChildFailed)
    assert action.error.execution_id == "parent/ship" and action.error.status == "CANCELLED"
    assert isinstance(action.error.original, ValueError) and str(action.error.original) == "bad"
