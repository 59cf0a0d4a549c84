"""Polling a deployed execution: backoff, timeout, and both callers (client driver, operator CLI)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from stepbridge.client import PollingDriver
from stepbridge.errors import ExecutionStillRunning
from stepbridge.polling import poll_until


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_poll_until_backs_off_and_stops_when_done() -> None:
    t = FakeTime()
    answers = iter(["RUNNING"] * 5 + ["SUCCEEDED"])
    value, done = poll_until(
        lambda: next(answers), lambda s: s == "SUCCEEDED", timeout=60, sleep=t.sleep, clock=lambda: t.now
    )
    assert (value, done) == ("SUCCEEDED", True)
    assert t.slept == pytest.approx([0.2, 0.3, 0.45, 0.675, 1.0125])


def test_poll_until_gives_up_at_the_timeout_with_the_last_value() -> None:
    t = FakeTime()
    calls = []

    def fetch() -> str:
        calls.append(t.now)
        return "RUNNING"

    value, done = poll_until(
        fetch, lambda s: s != "RUNNING", timeout=10, max_delay=2, sleep=t.sleep, clock=lambda: t.now
    )
    assert (value, done) == ("RUNNING", False)
    assert max(t.slept) == 2  # capped
    assert calls[-1] >= 10 and calls[-2] < 10  # one last look at the deadline, then no more


@dataclass
class _Desc:
    status: str


class _Client:
    def __init__(self, statuses: list[str]) -> None:
        self.statuses = statuses

    def describe(self, execution_id: str) -> Any:
        return _Desc(self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])


def test_the_aws_driver_raises_when_the_execution_is_still_running(monkeypatch: pytest.MonkeyPatch) -> None:
    import stepbridge.polling as polling

    t = FakeTime()
    monkeypatch.setattr(polling.time, "sleep", t.sleep)
    monkeypatch.setattr(polling.time, "monotonic", lambda: t.now)
    driver = PollingDriver()
    driver.wait(_Client(["RUNNING", "RUNNING", "SUCCEEDED"]), "e1", timeout=30)  # type: ignore[arg-type]
    assert len(t.slept) == 2
    with pytest.raises(ExecutionStillRunning, match="'e2' did not finish within 5"):
        driver.wait(_Client(["RUNNING"]), "e2", timeout=5)  # type: ignore[arg-type]
