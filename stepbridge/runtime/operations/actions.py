"""What an operation's ``decide`` returns: frozen descriptions of the next thing to do, carried out by ``interpret``.

An action never does anything itself. ``Record`` and ``SetTimer`` name what follows them
(``then``): ``None`` after a record means "read the state again and decide again" (the record
written may be another writer's that won its key, so the next step depends on what is now in
the journal).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from stepbridge.runtime.records import JournalRecord
from stepbridge.runtime.vocabulary import Kind


@dataclass(frozen=True)
class Suspend:
    """The workflow waits here: a timer, a report, an event or a child will wake the execution."""


@dataclass(frozen=True)
class Return:
    """The operation is over: its outcome is ``record`` (``None``: the record the action before it wrote)."""

    record: JournalRecord | None = None


@dataclass(frozen=True)
class Raise:
    """The operation fails the workflow code with ``error`` (raised where the code awaits it)."""

    error: BaseException


@dataclass(frozen=True)
class SetTimer:
    """Arm the execution's timer ``key`` for ``at`` (its wake-up says ``reason``), then do ``then`` (``None``:
    decide again)."""

    key: str
    at: datetime
    reason: str
    then: Action | None = Suspend()
    #: The data field of the record written just before whose instant wins over ``at`` (a racing twin may
    #: have written that record first, with its clock: the timer stands for the instant every replay reads).
    recorded: str | None = None


@dataclass(frozen=True)
class Record:
    """Write a journal record of the operation (see ``JournalView.record`` for ``shared``/``durable``), then do
    ``then`` (``None``: decide again from the records as they are now)."""

    key: str
    kind: Kind
    data: dict[str, object]
    shared: bool = False
    durable: bool = False
    then: Action | None = None


@dataclass(frozen=True)
class Dispatch:
    """Invoke attempt ``attempt`` of a declared step in its own Lambda (recorded, deadline armed), then wait."""

    attempt: int
    once: bool = False


@dataclass(frozen=True)
class Refresh:
    """Read ``keys`` fresh from the store, in order, stopping at the first one found, then decide again.

    (Reports of other writers that no wake-up announced: a declared step that reported and died before
    its wake-up went out is found only this way, past its deadline.)
    """

    keys: tuple[str, ...]


@dataclass(frozen=True)
class Run:
    """Run attempt ``attempt`` of an inline step in this invocation, journaling ``marker`` first when set."""

    attempt: int
    marker: str | None = None


#: Everything ``decide`` may return.
Action = Suspend | Return | Raise | SetTimer | Record | Dispatch | Refresh | Run

#: The one ``Suspend`` (actions are values).
SUSPEND = Suspend()
