"""The interpreter: carries out the generic actions an operation's ``decide`` returned, against the replay.

``Record`` writes through the journal view, ``SetTimer`` arms the execution's timer, ``Suspend``
stops the workflow, ``Raise`` raises into the workflow code, ``Return`` ends the operation. The
operation-specific actions (``Dispatch``, ``Refresh``, ``Run``) are carried out by the operation's
own body (``steps.py``), which then decides again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stepbridge.runtime.operations.actions import Action, Raise, Record, Return, SetTimer, Suspend
from stepbridge.runtime.records import JournalRecord, iso, parse_iso
from stepbridge.runtime.vocabulary import OpType

if TYPE_CHECKING:
    from stepbridge.runtime.replay import Replay


def perform(rp: Replay, op: str, op_type: OpType, action: Action) -> Return | None:
    """Carry out ``action`` and what follows it for the operation ``op`` of type ``op_type``.

    Returns the final ``Return`` (its ``record`` filled in with the record written before it, when it
    named none), or ``None`` when the operation must decide again (a ``Record`` with nothing after it).
    Raises for ``Suspend`` and ``Raise``; refuses the operation-specific actions (``TypeError``).
    """
    written: JournalRecord | None = None
    current: Action | None = action
    while current is not None:
        if isinstance(current, Record):
            written = rp.log.record(
                op,
                op_type,
                current.kind,
                current.data,
                key=current.key,
                shared=current.shared,
                durable=current.durable,
            )
            current = current.then
        elif isinstance(current, SetTimer):
            at = current.at
            if current.recorded is not None and written is not None:
                at = parse_iso(str(written.data.get(current.recorded) or iso(current.at)))
            rp.set_timer(current.key, at, current.reason)
            current = current.then
        elif isinstance(current, Return):
            return current if current.record is not None else Return(written)
        elif isinstance(current, Suspend):
            rp.suspend()
        elif isinstance(current, Raise):
            raise current.error
        else:
            raise TypeError(f"{type(current).__name__} is carried out by the operation '{op}' itself")
    return None


def returned(rp: Replay, op: str, op_type: OpType, action: Action) -> JournalRecord | None:
    """:func:`perform`, for an operation whose outcome is a record: that record, or ``None`` to decide again."""
    done = perform(rp, op, op_type, action)
    return done.record if done is not None else None
