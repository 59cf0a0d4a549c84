"""A patch marker (``ctx.patched``): ``$patch:{id}`` records that an execution reached a code change under the
new code. Executions already past that point (their journal holds operations the code has not asked for
yet) take the old path, and nothing is recorded for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stepbridge.runtime.operations.actions import Action, Record, Return
from stepbridge.runtime.records import JournalRecord
from stepbridge.runtime.vocabulary import Kind


@dataclass(frozen=True)
class PatchState:
    """``marker``: the patch record (``None``: none); ``replaying``: recorded operations are still to be asked
    for (the execution ran this point under the old code)."""

    marker: JournalRecord | None = None
    replaying: bool = False


@dataclass(frozen=True)
class Patch:
    """The decisions of one ``ctx.patched(patch_id)`` call; the outcome is ``Return(record)`` for the new path
    and ``Return(None)`` for the old one."""

    op: str
    patch_id: str

    @staticmethod
    def state(op: str, records: Mapping[str, JournalRecord], *, replaying: bool) -> PatchState:
        """The state of the patch ``op``: its record, and whether the replay is still behind the journal."""
        return PatchState(records.get(op), replaying)

    def decide(self, state: PatchState) -> Action:
        """New path when recorded, old path while behind the journal, else record the new path
        (the table: ``tests/unit/test_operation_marks.py``)."""
        if state.marker is not None:
            return Return(state.marker)
        if state.replaying:
            return Return(None)
        return Record(self.op, Kind.PATCH, {"patch": self.patch_id}, then=Return())
