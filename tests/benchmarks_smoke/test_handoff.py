"""``benchmarks.handoff`` measures what it says: a second thread takes every turn and hands it back."""

from __future__ import annotations

import threading

from benchmarks import handoff


def test_every_round_trip_is_completed_by_the_second_thread_and_timed() -> None:
    seconds = handoff.round_trip_seconds(200)
    assert 0 < seconds < 0.1  # a round trip takes microseconds (tens on an idle virtual CPU), never a tenth of a second
    # the worker served all 200 turns and ended (joined); other tests' threads may come and go meanwhile
    assert [t for t in threading.enumerate() if t.name == handoff.WORKER_NAME] == []


def test_the_worker_round_trip_is_timed_both_ways_and_leaves_the_setting_as_it_was() -> None:
    before = handoff.syncworker.COLOCATE
    for colocate in (False, True):
        assert 0 < handoff.worker_round_trip_seconds(50, colocate) < 0.1
        assert handoff.syncworker.COLOCATE is before
