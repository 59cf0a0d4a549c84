"""``ReplaySession``: what the workflow code did in one replay, apart from the journal.

The operations it asked for (and in which order new ones came), the error that failed the
execution for good, whether a cancellation is unwinding it (and how deep compensation runs), the
suspensions it raised, and the test overrides. The journal itself is ``journalview.JournalView``.
Everything here is changed only through its methods.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import NoReturn

from stepbridge.errors import (
    DuplicateStepError,
    ExecutionCancelled,
    ExecutionTimedOut,
    NonDeterminismError,
    WorkflowDefinitionError,
)
from stepbridge.runtime import keys
from stepbridge.runtime.limits import MAX_OP_NAME
from stepbridge.runtime.records import ExecutionRecord
from stepbridge.runtime.stepcover import CoverPlan
from stepbridge.runtime.suspension import Suspend
from stepbridge.runtime.vocabulary import OpType

#: Path of the current ``ctx.gather`` branch; auto-generated op names are scoped by it so that
#: concurrent branches name their operations the same way on every replay.
branch_scope: ContextVar[str] = ContextVar("stepbridge_branch_scope", default="")

#: Called with every operation the code asks for inside a ``ctx.gather(..., completion=)`` branch (and its
#: nested branches): the batch learns which operations a branch owns, and refuses new ones in a branch it
#: abandoned (runtime/batch.py).
op_watchers: ContextVar[tuple[Callable[[str], None], ...]] = ContextVar("stepbridge_op_watchers", default=())


class ReplaySession:
    """The per-replay state of the workflow code's requests (see the module doc)."""

    def __init__(
        self,
        execution: ExecutionRecord,
        recorded_ops: Iterable[str],
        *,
        overrides: Mapping[str, Callable[..., object]] | None = None,
        suspect: bool = False,
        remaining: Callable[[], float] | None = None,
    ) -> None:
        self.execution = execution
        self._requested: dict[str, OpType] = {}
        self._new_ops: list[str] = []
        self._overrides = dict(overrides or {})
        self._fatal: BaseException | None = None
        self._cancelling = execution.cancel_requested
        self._compensating = 0
        self._counters: dict[str, int] = defaultdict(int)
        self._rng: random.Random | None = None
        #: Recorded operations the code has not asked for yet in this replay.
        self._not_yet_requested = {op for op in recorded_ops if not keys.is_bookkeeping(op)}
        self._suspensions: list[Suspend] = []
        self._closed = False
        #: This invocation may follow one that died (a redelivered message, a sweeper's wake-up): an inline
        #: step journals a started marker before it runs (see ``steps._inline``).
        self.suspect = suspect
        #: Seconds left in the orchestrator Lambda's invocation (its context's remaining time), if known.
        self.remaining = remaining
        #: The deadline timer this invocation's declared steps share (runtime/stepcover.py); made at the first
        #: dispatch (``cover_plan``), so an invocation that dispatches nothing allocates nothing.
        self._cover: CoverPlan | None = None

    # ---- fatal errors and cancellation ------------------------------------------------------

    @property
    def fatal(self) -> BaseException | None:
        """The error that failed the execution for good (user code cannot catch its way past it)."""
        return self._fatal

    def note_fatal(self, exc: BaseException) -> None:
        """Keep ``exc`` as the fatal error unless one is kept already."""
        self._fatal = self._fatal or exc

    def fail(self, exc: BaseException) -> NoReturn:
        """Fail the execution for good with ``exc`` (the first such error wins) and raise it."""
        self.note_fatal(exc)
        raise exc

    @property
    def closed(self) -> bool:
        """Whether the parked workflow is being dropped (runtime/sticky.py): nothing new may start."""
        return self._closed

    def close(self) -> None:
        """Refuse every request from now on (the workflow unwinds; another replay takes over)."""
        self._closed = True

    def resumed(self, execution: ExecutionRecord, *, suspect: bool, remaining: Callable[[], float] | None) -> None:
        """A parked workflow goes on in a new invocation: its execution header, suspicion and time left."""
        self.execution = execution
        self.suspect = suspect
        self.remaining = remaining
        self._cover = None

    def cover_plan(self) -> CoverPlan:
        """This invocation's shared deadline timer of declared steps (runtime/stepcover.py)."""
        if self._cover is None:
            self._cover = CoverPlan()
        return self._cover

    @property
    def cancelling(self) -> bool:
        """Whether a cancellation was requested: waiting operations raise ``ExecutionCancelled``."""
        return self._cancelling

    @property
    def compensating(self) -> bool:
        """Whether saga compensations are running (they run to the end even while cancelling)."""
        return self._compensating > 0

    @contextmanager
    def compensation(self) -> Iterator[None]:
        """The block runs compensations (``Saga.run``); blocks nest."""
        self._compensating += 1
        try:
            yield
        finally:
            self._compensating -= 1

    def suspend(self) -> NoReturn:
        """Stop the workflow here (it resumes from the top when woken); while cancelling, end it instead."""
        if self._cancelling and not self._compensating:
            if self.execution.timed_out:
                raise ExecutionTimedOut(
                    f"execution '{self.execution.execution_id}' passed its deadline {self.execution.deadline}"
                )
            raise ExecutionCancelled(f"execution '{self.execution.execution_id}' was cancelled")
        signal = Suspend()
        self._suspensions.append(signal)
        raise signal

    def raised(self) -> list[BaseException]:
        """The suspensions raised and the fatal error kept (a closed parked workflow clears their frames)."""
        return [*self._suspensions, *([self._fatal] if self._fatal is not None else [])]

    def suspensions(self) -> int:
        """How many waiting operations stopped the workflow in this replay (those that did not park)."""
        return len(self._suspensions)

    def swallowed_suspension(self) -> bool:
        """Whether user code caught a suspension that the engine never saw (``except BaseException:``)."""
        return any(not s.consumed for s in self._suspensions)

    # ---- requests --------------------------------------------------------------------------

    def override(self, op: str) -> Callable[..., object] | None:
        """The test override of the inline step ``op``, if any."""
        return self._overrides.get(op)

    @property
    def rng(self) -> random.Random:
        """A random generator seeded by the execution id: the same sequence on every replay."""
        if self._rng is None:
            self._rng = random.Random(self.execution.execution_id)
        return self._rng

    def auto_name(self, base: str) -> str:
        """A deterministic name for an unnamed operation: ``base``, ``base#2`` ... scoped by gather branch."""
        scoped = keys.scoped_name(base, branch_scope.get())
        self._counters[scoped] += 1
        return keys.numbered_name(scoped, self._counters[scoped])

    def claim(self, op: str, op_type: OpType) -> None:
        """Note that the code asked for the user-named operation ``op``; refuses bad and repeated names."""
        if not isinstance(op, str) or not op or len(op.encode("utf-8", "surrogatepass")) > MAX_OP_NAME or "\x00" in op:
            self.fail(
                WorkflowDefinitionError(
                    f"step name {op!r} must be a non-empty string of at most {MAX_OP_NAME} bytes of UTF-8 "
                    "(it is part of DynamoDB sort keys)"
                )
            )
        if keys.is_bookkeeping(op):
            self.fail(WorkflowDefinitionError(f"step name {op!r}: names starting with '$' are reserved"))
        if op in self._requested:
            self.fail(
                DuplicateStepError(
                    f"workflow '{self.execution.workflow}' used the step name '{op}' twice in execution "
                    f"'{self.execution.execution_id}'; step names must be unique within an execution (build them "
                    'in loops, e.g. f"send-{item.id}")'
                )
            )
        self.mark(op, op_type)

    def mark(self, op: str, op_type: OpType) -> None:
        """Note that the code asked for ``op`` (an engine-named one such as ``$now#2`` needs no checks)."""
        self._requested[op] = op_type
        self._not_yet_requested.discard(op)
        for watch in op_watchers.get():
            watch(op)

    def mark_new(self, op: str) -> None:
        """``op`` has no records: it is new in this replay (named by :meth:`nondeterminism`)."""
        self._new_ops.append(op)

    def recorded(self, ops: Iterable[str]) -> None:
        """Records of ``ops`` were merged into a parked replay: those it never asked for count as not yet requested."""
        self._not_yet_requested.update(op for op in ops if op not in self._requested and not keys.is_bookkeeping(op))

    def all_recorded_requested(self) -> bool:
        """Whether the code asked for every user-named operation the journal held when the replay began."""
        return not self._not_yet_requested

    def unconsumed(self, recorded_ops: Iterable[str]) -> list[str]:
        """Of ``recorded_ops``, those this replay never asked for (after it suspended or ended)."""
        return sorted(op for op in recorded_ops if op not in self._requested and not keys.is_bookkeeping(op))

    def nondeterminism(self, recorded_ops: Iterable[str]) -> NonDeterminismError | None:
        """An error when the code skipped recorded operations, naming them and what it asked for instead."""
        missing = self.unconsumed(recorded_ops)
        if not missing:
            return None
        instead = ", ".join(f"'{o}'" for o in self._new_ops) or "nothing new"
        return NonDeterminismError(
            f"non-deterministic replay in workflow '{self.execution.workflow}' (execution "
            f"'{self.execution.execution_id}'): the journal recorded {', '.join(repr(o) for o in missing)} but the "
            f"code now asked for {instead}; a running execution must take the same path (did the workflow code "
            "change?)"
        )
