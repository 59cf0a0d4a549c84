"""A child workflow: ``{op}#d1`` records its start (its id and input), ``{op}`` the outcome it reported back.

The parent creates the child execution and wakes it before recording the start (see
``children.start_child``); the child's orchestrator writes ``{op}`` into the parent's journal when
it finishes, and wakes the parent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stepbridge.errors import ChildFailed, StepFailed
from stepbridge.runtime import keys
from stepbridge.runtime.errorcodec import rebuild_error
from stepbridge.runtime.operations.actions import SUSPEND, Action, Raise, Return
from stepbridge.runtime.records import JournalRecord
from stepbridge.runtime.vocabulary import Kind


@dataclass(frozen=True)
class ChildState:
    """``dispatch``: the start record (``None``: not started yet); ``final``: the outcome the child reported."""

    dispatch: JournalRecord | None = None
    final: JournalRecord | None = None


@dataclass(frozen=True)
class Child:
    """The decisions of one child workflow call, ``execution_id`` being the child's id."""

    op: str
    execution_id: str

    @staticmethod
    def state(op: str, records: Mapping[str, JournalRecord]) -> ChildState:
        """The state of the child ``op`` from the parent's records."""
        return ChildState(records.get(keys.dispatch_key(op, 1)), records.get(op))

    def decide(self, state: ChildState) -> Action:
        """Waiting for the child's result: wait, return its result, or raise ``ChildFailed``
        (the table: ``tests/unit/test_operation_child.py``)."""
        rec = state.final
        if rec is None:
            return SUSPEND
        if rec.kind == Kind.RESULT:
            return Return(rec)
        error = rec.data.get("error")
        original = rebuild_error(error, self.op) if isinstance(error, dict) else None
        return Raise(
            ChildFailed(
                self.execution_id,
                str(rec.data.get("status", "FAILED")),
                error,
                None if isinstance(original, StepFailed) else original,
            )
        )

    @staticmethod
    def outstanding(state: ChildState) -> bool:
        """Whether the parent still waits for the child's outcome (what the sweeper asks)."""
        return state.final is None or not state.final.is_final
