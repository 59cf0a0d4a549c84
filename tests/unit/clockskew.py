"""A test helper: another container's clock, for the clock-skew reproductions of issue 13.

Imported by the unit tests that race replays on skewed clocks (``from clockskew import SkewedEffects``;
pytest puts tests/unit on ``sys.path`` for the files there).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any


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
