"""The operations' view of one orchestrator invocation: the journal, the session, the clock and the effects.

The workflow function is re-run from the top on every invocation. Each operation it asks for
(step, sleep, wait, child, send ...) is looked up by name in the journal: recorded outcomes are
returned without running anything; the first unrecorded one runs or is dispatched, and the
workflow suspends by raising :class:`Suspend` (a ``BaseException``, so ``except Exception`` in
user code cannot swallow it).

:class:`Replay` composes the two halves, each changed only through its methods:
``log`` (:class:`~stepbridge.runtime.journalview.JournalView`: records, acks, the write protocol)
and ``session`` (:class:`~stepbridge.runtime.session.ReplaySession`: requested operations, the fatal
error, cancellation, compensation, overrides). What needs both lives here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NoReturn

from stepbridge.errors import NonDeterminismError
from stepbridge.runtime import keys

# Re-exported: the error codec lived here before it had its own module.
from stepbridge.runtime.errorcodec import error_dict as error_dict
from stepbridge.runtime.errorcodec import rebuild_error as rebuild_error
from stepbridge.runtime.journalview import OUTCOME_WRITE_BACKOFF as OUTCOME_WRITE_BACKOFF
from stepbridge.runtime.journalview import OUTCOME_WRITE_TRIES as OUTCOME_WRITE_TRIES
from stepbridge.runtime.journalview import JournalView
from stepbridge.runtime.keys import timer_name as timer_name
from stepbridge.runtime.records import ExecutionRecord, JournalRecord, WakeMessage, parse_iso
from stepbridge.runtime.session import ReplaySession
from stepbridge.runtime.session import branch_scope as branch_scope
from stepbridge.runtime.suspension import Suspend as Suspend
from stepbridge.runtime.suspension import refuse_while_suspending as refuse_while_suspending
from stepbridge.runtime.vocabulary import OpType

if TYPE_CHECKING:
    from stepbridge.api.app import App
    from stepbridge.runtime.ports import Effects, Store


#: Seconds of the orchestrator invocation an inline step may not use: kept for journaling its outcome,
#: setting a retry timer and the rest of the batch's replays before Lambda stops the function.
INLINE_RESERVE_SECONDS = 5.0

#: Event-loop turns a new operation waits for concurrent branches to consume their recorded operations.
_SETTLE_TURNS = 64

#: The op whose step function is running (for ``ctx.idempotency_key``).
current_op: ContextVar[str | None] = ContextVar("stepbridge_current_op", default=None)


class Replay:
    """Per-invocation engine state shared by the operations of one execution (see the module doc)."""

    __slots__ = ("app", "effects", "execution", "log", "pause", "session", "store")

    def __init__(
        self,
        *,
        app: App,
        execution: ExecutionRecord,
        store: Store,
        effects: Effects,
        journal: dict[str, JournalRecord],
        overrides: Mapping[str, Callable[..., object]] | None = None,
        suspect: bool = False,
        remaining: Callable[[], float] | None = None,
        pause: Callable[[float], None] | None = None,
    ) -> None:
        self.app = app
        self.execution = execution
        self.store = store
        self.effects = effects
        #: How to wait before retrying a durable write in-process (``None`` = ``time.sleep``; LocalCloud: no wait).
        self.pause = pause
        # The view found the journal full: the execution fails for good (``ReplaySession.fail``). It reaches the
        # session through this box, not through ``self``: a bound method of the replay would close a reference
        # cycle over the whole journal, left to the cyclic collector (which ``engine._drive`` turns off during the
        # replay) instead of freed when the invocation ends (tests/unit/test_journal_freed_by_refcount.py).
        session_box: list[ReplaySession] = []
        self.log = JournalView(
            execution.execution_id, store, effects.now, journal, pause=pause, fail=lambda exc: session_box[0].fail(exc)
        )
        self.session = ReplaySession(
            execution, self.log.ops(), overrides=overrides, suspect=suspect, remaining=remaining
        )
        session_box.append(self.session)
        if execution.cut:
            # Unwinding (deadline, cancel with compensation): outside compensations the journal stands still.
            # (A local, not ``self``: the view must not hold the replay, see ``session_box`` above.)
            session = self.session
            self.log.cut = execution.cut
            self.log.frozen = lambda: not session.compensating

    # ---- clock and identity -----------------------------------------------------------

    @property
    def execution_id(self) -> str:
        """The id of the execution being replayed."""
        return self.execution.execution_id

    def now(self) -> datetime:
        """The engine's clock (see :meth:`JournalView.now`); never given to user code."""
        return self.log.now()

    def due(self, at_iso: str) -> bool:
        """Whether a recorded instant has passed on the clock."""
        return self.log.now() >= parse_iso(at_iso)

    def after(self, seconds: float) -> datetime:
        """Clock time ``seconds`` from now."""
        return self.log.now() + timedelta(seconds=seconds)

    def time_left(self) -> float | None:
        """Seconds an inline step may still run in this invocation: the Lambda's remaining time less
        :data:`INLINE_RESERVE_SECONDS`; ``None`` when unknown (no Lambda context)."""
        remaining = self.session.remaining
        return None if remaining is None else remaining() - INLINE_RESERVE_SECONDS

    # ---- requests --------------------------------------------------------------------

    def request(self, op: str, op_type: OpType) -> dict[str, JournalRecord]:
        """Claim ``op`` for this replay and return its recorded records (possibly empty).

        Raises ``DuplicateStepError`` for a second use of the name and ``NonDeterminismError``
        when the journal recorded the name as another kind of operation.
        """
        refuse_while_suspending()
        self.session.claim(op, op_type)
        records = self.log.records(op)
        if records:
            recorded_type = next(iter(records.values())).type
            if recorded_type and recorded_type != op_type:
                self.session.fail(
                    NonDeterminismError(
                        f"non-deterministic replay in workflow '{self.execution.workflow}': '{op}' was recorded as a "
                        f"{recorded_type} but the code now asks for a {op_type} of that name"
                    )
                )
        else:
            self.session.mark_new(op)
        return records

    async def before_new(self, op: str) -> None:
        """Call before an operation's first side effect (running a step, dispatching, publishing ...).

        Every operation the journal recorded must have been asked for by then: if the code skips or
        reorders recorded operations (a deploy changed it under a running execution), fail with a
        ``NonDeterminismError`` naming them *before* the new operation does anything - not after a
        step of the changed code has run. Concurrent branches (``gather``, ``map``) consume their
        recorded operations within a few loop turns, so they get those turns first.
        """
        fatal = self.session.fatal
        if fatal is not None:
            raise fatal  # the execution already failed (user code caught it): nothing new runs
        if self.execution.timed_out and not self.session.compensating:
            self.session.suspend()  # past the execution deadline only compensations start: raises ExecutionTimedOut
        for _ in range(_SETTLE_TURNS):
            if self.session.all_recorded_requested():
                break
            await asyncio.sleep(0)
        else:
            problem = self.nondeterminism()
            if problem is not None:
                self.session.fail(problem)
        self.log.check_room(op, 1)

    def unconsumed_ops(self) -> list[str]:
        """Recorded operations this replay never asked for (after it suspended or ended)."""
        return self.session.unconsumed(self.log.ops())

    def nondeterminism(self) -> NonDeterminismError | None:
        """An error when the code skipped recorded operations, naming them and what it asked for instead."""
        return self.session.nondeterminism(self.log.ops())

    def suspend(self) -> NoReturn:
        """Stop the workflow here; it resumes from the top when woken."""
        self.session.suspend()

    # ---- journal ------------------------------------------------------------------------

    def records(self, op: str) -> dict[str, JournalRecord]:
        """The records of ``op`` (including ones appended during this invocation)."""
        return self.log.records(op)

    # ---- timers and wake-ups -------------------------------------------------------------

    def timer_name(self, key: str) -> str:
        """A Scheduler-safe schedule name (1-64 of ``[0-9A-Za-z-_.]``) unique per execution and key."""
        return timer_name(self.execution_id, key)

    def set_timer(self, key: str, at: datetime, reason: str) -> str:
        """Create a one-time timer that wakes this execution at ``at``; returns its name."""
        name = self.timer_name(key)
        self.effects.schedule_timer(name, at, WakeMessage(self.execution_id, reason, keys.timer_dedup(key)))
        return name

    def wake_self(self, reason: str, dedup: str) -> None:
        """Enqueue a wake-up for this execution."""
        self.effects.wake(WakeMessage(self.execution_id, reason, dedup))


def parse_or_none(value: str | None) -> datetime | None:
    """``parse_iso`` that passes ``None`` through."""
    return parse_iso(value) if value else None
