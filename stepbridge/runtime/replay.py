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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NoReturn, TypeVar

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
    from stepbridge.runtime.sticky import Parked

T = TypeVar("T")


#: Seconds of the orchestrator invocation an inline step may not use: kept for journaling its outcome,
#: setting a retry timer and the rest of the batch's replays before Lambda stops the function.
INLINE_RESERVE_SECONDS = 5.0

#: Event-loop turns a new operation waits for concurrent branches to consume their recorded operations.
_SETTLE_TURNS = 64

#: The op whose step function is running (for ``ctx.idempotency_key``).
current_op: ContextVar[str | None] = ContextVar("stepbridge_current_op", default=None)


class Replay:
    """Per-invocation engine state shared by the operations of one execution (see the module doc)."""

    __slots__ = ("app", "effects", "execution", "log", "parker", "pause", "session", "store")

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
        #: Sticky executions: where a waiting operation parks instead of suspending (``None``: it suspends).
        self.parker: Parked | None = None
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
        if self.session.closed:
            self._refuse()
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
        if self.session.closed:
            self._refuse()
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
        if self.session.all_recorded_requested():
            # (every operation recorded before the replay began - or merged in since, see ``JournalView.resumed`` -
            # was asked for, and this replay writes only operations it asked for: nothing was skipped; O(1), where
            # naming the skipped ones walks the whole journal)
            return None
        return self.session.nondeterminism(self.log.ops())

    def suspend(self) -> NoReturn:
        """Stop the workflow here; it resumes from the top when woken (or where it parked, see :meth:`settle`)."""
        self.session.suspend()

    # ---- sticky executions (runtime/sticky.py) ---------------------------------------------

    async def settle(self, op: str, attempt: Callable[[], Awaitable[T]]) -> T:
        """Run ``attempt`` (an operation deciding from its records) until it has an outcome.

        Without a parker a suspension propagates (the replay path). With one, the operation parks:
        it waits for the next wake-up that concerns it in this container and then decides again
        from its records, as the replay after that wake-up would - user code is not unwound.
        """
        while True:
            try:
                return await attempt()
            except Suspend as signal:
                parker = self.parker
                if parker is None or parker.closed or self.session.closed:
                    raise
                signal.consumed = True  # settled here: the workflow waits, it does not unwind
                signal.__traceback__ = None
            # (parked outside the ``except`` block: the code that goes on must not see a suspension in flight)
            await parker.park(op)

    async def branches_settled(self, branches: Sequence[asyncio.Future[object]], scope: str) -> None:
        """Before ``ctx.gather`` collects ``branches`` (its ``{scope}{i}.``): with a parker, as soon as one failed and
        the others are blocked, unwind those that wait (as a replay's suspension would) - else the gather would
        hold the failure until branches that wait for days finish. Without a parker: nothing to do."""
        if self.parker is None:
            return
        pending: set[asyncio.Future[object]] = set(branches)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            if pending and any(_failed(t) for t in done):
                await self.unwind_waiting({t: f"{scope}{i}." for i, t in enumerate(branches)})
                return

    async def unwind_waiting(self, branches: Mapping[asyncio.Future[object], str]) -> None:
        """With a parker: once every task is blocked, unwind the unfinished ``branches`` (future -> branch scope)
        that wait on parked operations, as a replay's suspension would (``ctx.map`` after a failed item)."""
        parker = self.parker
        if parker is None or not branches:
            return
        await parker.until_quiet()
        for fut, scope in branches.items():
            if not fut.done():
                parker.unwind(scope)

    async def parked_until_woken(self, op: str) -> bool:
        """For code that re-checks a condition on every replay (a step's SLA watch): with a parker, wait under
        the name ``op`` until a wake-up concerns it (``True``); without one, ``False`` at once (the next replay
        checks again)."""
        parker = self.parker
        if parker is None or parker.closed:
            return False
        await parker.park(op)
        return True

    def wake_parked(self, op: str) -> None:
        """Resolve what waits under the name ``op`` in :meth:`parked_until_woken` (nothing without a parker)."""
        if self.parker is not None:
            self.parker.wake([op])

    def running_inline(self) -> InlineRunning:
        """An inline step runs (maybe in a worker thread): the loop is not quiet meanwhile."""
        return InlineRunning(self.parker)

    def close(self) -> None:
        """The parked workflow is being dropped: refuse every request and journal write from now on."""
        self.session.close()
        if self.log.abandoned is None:
            self.log.abandoned = RuntimeError(f"the parked workflow of execution '{self.execution_id}' was dropped")

    def _refuse(self) -> NoReturn:
        signal = Suspend()
        signal.consumed = True
        raise signal

    # ---- journal ------------------------------------------------------------------------

    def records(self, op: str) -> dict[str, JournalRecord]:
        """The records of ``op`` (including ones appended during this invocation)."""
        return self.log.records(op)

    # ---- timers and wake-ups -------------------------------------------------------------

    def timer_name(self, key: str) -> str:
        """A Scheduler-safe schedule name (1-64 of ``[0-9A-Za-z-_.]``) unique per execution and key."""
        return timer_name(self.execution.execution_id, key)

    def set_timer(self, key: str, at: datetime, reason: str) -> str:
        """Create a one-time timer that wakes this execution at ``at``; returns its name."""
        execution_id = self.execution.execution_id
        name = timer_name(execution_id, key)
        self.effects.schedule_timer(name, at, WakeMessage(execution_id, reason, keys.timer_dedup(key)))
        return name

    def wake_self(self, reason: str, dedup: str) -> None:
        """Enqueue a wake-up for this execution."""
        self.effects.wake(WakeMessage(self.execution_id, reason, dedup))


class InlineRunning:
    """The context of :meth:`Replay.running_inline`: the parker counts the inline step while it runs.

    (A class rather than a ``@contextmanager`` generator: it is entered once per inline step.)
    """

    __slots__ = ("parker",)

    def __init__(self, parker: Parked | None) -> None:
        self.parker = parker

    def __enter__(self) -> None:
        if self.parker is not None:
            self.parker.running(1)

    def __exit__(self, *exc_info: object) -> None:
        if self.parker is not None:
            self.parker.running(-1)


def parse_or_none(value: str | None) -> datetime | None:
    """``parse_iso`` that passes ``None`` through."""
    return parse_iso(value) if value else None


def _failed(fut: asyncio.Future[object]) -> bool:
    """Whether a branch ended with an error (not a suspension: a branch that waits is not a failure)."""
    if fut.cancelled():
        return True
    exc = fut.exception()
    return exc is not None and not isinstance(exc, Suspend)
