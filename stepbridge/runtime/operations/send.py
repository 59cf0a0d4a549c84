"""Publishing an event (``ctx.send``): one ``sent`` record keyed by the op, written after the publish.

(At least once: a crash between the publish and the record publishes again on the next replay.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stepbridge.runtime.operations.actions import Action, Record, Return
from stepbridge.runtime.records import JournalRecord
from stepbridge.runtime.vocabulary import Kind


@dataclass(frozen=True)
class SendState:
    """``sent``: the record of the publish (``None``: not published yet)."""

    sent: JournalRecord | None = None


@dataclass(frozen=True)
class Publish:
    """Publish the event, then carry out ``record``."""

    record: Record


@dataclass(frozen=True)
class Send:
    """The decisions of one ``ctx.send`` of ``event_type`` with ``detail``."""

    op: str
    event_type: str
    detail: dict[str, object]

    @staticmethod
    def state(op: str, records: Mapping[str, JournalRecord]) -> SendState:
        """The state of the send ``op`` from its records."""
        return SendState(records.get(op))

    def decide(self, state: SendState) -> Action | Publish:
        """Done when recorded; else publish and record (the table: ``tests/unit/test_operation_marks.py``)."""
        if state.sent is not None:
            return Return(state.sent)
        return Publish(Record(self.op, Kind.SENT, {"type": self.event_type, "detail": self.detail}, then=Return()))
