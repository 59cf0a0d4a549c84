"""Progress (``ctx.progress``): emitted once, stored on the execution header, then recorded under ``$progress``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stepbridge.runtime.operations.actions import Action, Record, Return
from stepbridge.runtime.records import JournalRecord
from stepbridge.runtime.vocabulary import Kind


@dataclass(frozen=True)
class ProgressState:
    """``reported``: the progress record (``None``: not reported yet)."""

    reported: JournalRecord | None = None


@dataclass(frozen=True)
class Report:
    """Emit ``Workflow.progress`` and store ``info`` on the execution header, then carry out ``record``
    (header first: recorded first, a crash in between would leave the progress unset for good)."""

    info: dict[str, object]
    record: Record


@dataclass(frozen=True)
class Progress:
    """The decisions of one ``ctx.progress(step, total, message)`` call."""

    op: str
    step: int
    total: int
    message: str | None

    @staticmethod
    def state(op: str, records: Mapping[str, JournalRecord]) -> ProgressState:
        """The state of the progress report ``op`` from its records."""
        return ProgressState(records.get(op))

    def decide(self, state: ProgressState) -> Action | Report:
        """Done when recorded; else report (the table: ``tests/unit/test_operation_marks.py``)."""
        if state.reported is not None:
            return Return(state.reported)
        info: dict[str, object] = {"step": self.step, "total": self.total, "message": self.message}
        return Report(info, Record(self.op, Kind.PROGRESS, info, then=Return()))
