"""Decision table of a durable sleep (``runtime/operations/sleep.py``): states x now -> action, no cloud."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stepbridge.runtime.operations.actions import Record, Return, SetTimer, Suspend
from stepbridge.runtime.operations.sleep import Sleep
from stepbridge.runtime.records import JournalRecord, iso

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WAKE = T0 + timedelta(hours=2)
SLEEP = Sleep("nap", WAKE, "sb-timer")
RECORDED = JournalRecord("nap", "nap", "sleep", "timer", {"wake_at": iso(WAKE), "timer": "sb-timer"}, at=iso(T0))


def test_a_new_sleep_is_recorded_durably_before_its_timer() -> None:
    action = SLEEP.decide(Sleep.state("nap", {}), T0)
    assert action == Record("nap", "timer", {"wake_at": iso(WAKE), "timer": "sb-timer"}, durable=True)


def test_a_sleep_recorded_just_now_arms_its_timer_then_waits() -> None:
    state = Sleep.state("nap", {"nap": RECORDED}, fresh=True)
    assert state.wake_at == WAKE
    assert SLEEP.decide(state, T0) == SetTimer("nap", WAKE, "sleep:nap", Suspend())


def test_a_recorded_sleep_waits_without_a_new_timer_until_its_instant_then_ends() -> None:
    state = Sleep.state("nap", {"nap": RECORDED})
    assert SLEEP.decide(state, WAKE - timedelta(seconds=1)) == Suspend()
    assert SLEEP.decide(state, WAKE) == Return(RECORDED)
    # (the recorded instant wins over the one the code asks for on a later replay)
    assert Sleep("nap", T0, "sb-timer").decide(state, T0) == Suspend()


def test_outstanding_is_what_the_sweeper_asks() -> None:
    state = Sleep.state("nap", {"nap": RECORDED})
    assert Sleep.outstanding(state, T0) and not Sleep.outstanding(state, WAKE)
    assert not Sleep.outstanding(Sleep.state("nap", {}), T0)
