"""A test helper: another container's clock, for the clock-skew reproductions of issue 13.

Imported by the unit tests that race replays on skewed clocks (``from clockskew import SkewedEffects``;
pytest puts tests/unit on ``sys.path`` for the files there).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from stepbridge.local.faults import Fault


class SkewedEffects:
    """The orchestrator's effects with its clock off by ``offset`` (another container's clock)."""

    def __init__(self, effects: Any) -> None:
        self._effects = effects
        self.offset = timedelta(0)

    def now(self) -> datetime:
        shown: datetime = self._effects.now() + self.offset
        return shown

    def __getattr__(self, name: str) -> Any:
        return getattr(self._effects, name)


class MinuteBehindTwin:
    """A second copy of the invocation that appends the record ``key`` (its SQS message's visibility expired), run
    in a container whose clock is a minute behind: ``fault`` goes in the cloud's ``FaultPlan``, ``install(cloud)``
    puts the skewable clock in front of the cloud's effects."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.skewed: SkewedEffects | None = None
        self.fault = Fault(
            "queue.visibility_expired", target="orchestrator", method="append_journal", when=self._behind
        )

    def _behind(self, method: str, args: Any) -> bool:
        if args[1].key != self.key:
            return False
        assert self.skewed is not None, "install(cloud) first"
        self.skewed.offset = timedelta(seconds=-60)  # the twin's container is a minute behind
        return True

    def install(self, cloud: Any) -> SkewedEffects:
        """Wrap the cloud's effects in a clock the twin sets back; returns it."""
        self.skewed = SkewedEffects(cloud.env.effects)
        cloud.env.effects = self.skewed
        return self.skewed
