"""Decision table of ``wait_for`` (``runtime/operations/wait.py``): states x now -> action, no cloud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stepbridge.errors import WaitTimeout
from stepbridge.runtime.operations.actions import Raise, Record, Return, SetTimer, Suspend
from stepbridge.runtime.operations.wait import Listen, LookBack, WaitFor
from stepbridge.runtime.records import JournalRecord, iso

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(seconds=60)


def wait(*, timeout: float | None = 60, has_default: bool = False) -> WaitFor:
    return WaitFor("approve", "Approved", {"id": 1}, timeout, {"sources": ["shop"]}, has_default, "sb-w")


def rec(key: str, kind: str, **data: object) -> JournalRecord:
    return JournalRecord(key, "approve", "wait", kind, dict(data), at=iso(T0))


STARTED = rec("approve#w", "wait", deadline=iso(DEADLINE), timeout=60, timer="sb-w")


def test_a_new_wait_listens_recording_its_deadline_then_arming_its_timeout() -> None:
    action = wait().decide(WaitFor.state("approve", {}), T0)
    assert isinstance(action, Listen)
    assert action.record == Record(
        "approve#w",
        "wait",
        {
            "event_type": "Approved",
            "match": {"id": 1},
            "deadline": iso(DEADLINE),
            "timeout": 60,
            "timer": "sb-w",
            "sources": ["shop"],
        },
        durable=True,
        then=SetTimer("approve#w", DEADLINE, "wait-timeout:approve", None),
    )
    forever = wait(timeout=None).decide(WaitFor.state("approve", {}), T0)
    assert isinstance(forever, Listen) and forever.record.then is None
    assert forever.record.data["deadline"] is None and forever.record.data["timer"] is None


def test_a_registered_wait_looks_back_then_waits_until_its_deadline_then_times_out() -> None:
    records = {"approve#w": STARTED}
    assert wait().decide(WaitFor.state("approve", records), T0) == LookBack()
    looked = WaitFor.state("approve", records, looked=True)
    assert looked.deadline == DEADLINE
    assert wait().decide(looked, DEADLINE - timedelta(seconds=1)) == Suspend()
    assert wait().decide(looked, DEADLINE) == Record("approve", "timeout", {"timeout": 60}, then=Return())
    assert wait(has_default=True).decide(looked, DEADLINE) == Record(
        "approve", "timeout", {"timeout": 60, "default": True}, then=Return()
    )


def test_a_finished_wait_returns_its_event_or_raises_its_timeout() -> None:
    result = rec("approve", "result", event={"id": "e1", "detail": {"id": 1}})
    assert wait().decide(WaitFor.state("approve", {"approve#w": STARTED, "approve": result}), T0) == Return(result)
    timeout = rec("approve", "timeout", timeout=60)
    state = WaitFor.state("approve", {"approve#w": STARTED, "approve": timeout})
    raised = wait().decide(state, T0)
    assert isinstance(raised, Raise) and isinstance(raised.error, WaitTimeout)
    assert str(raised.error) == "wait 'approve' for event 'Approved' timed out after 60 s"
    assert wait(has_default=True).decide(state, T0) == Return(timeout)


@pytest.mark.parametrize(("final_kind", "outstanding"), [(None, True), ("result", False), ("timeout", False)])
def test_outstanding_is_what_the_sweeper_asks(final_kind: str | None, outstanding: bool) -> None:
    records = {"approve#w": STARTED}
    if final_kind is not None:
        records["approve"] = rec("approve", final_kind)
    assert WaitFor.outstanding(WaitFor.state("approve", records)) is outstanding
