"""Sticky executions: a warm orchestrator keeps a waiting workflow parked in memory between wake-ups.

Without it every wake-up replays the workflow from the top (resume CPU grows with history). With
it, an operation whose outcome is not known yet does what it does today (records, timers,
dispatches) and then, instead of raising ``Suspend`` through the user's code, awaits a future
(:meth:`Parked.park`). The engine runs the workflow's event loop until it is *quiet* - the main
task is still pending, nothing is ready to run, no inline step is running and no live timer is
due - and ends the invocation as a suspension would, keeping the loop, its tasks and the replay
state here (in the journal cache's entry of the execution, so the cache's conflict rules and
memory bounds apply). The next wake-up in the same container merges what is new into the
replay's journal view and resolves the futures of the operations it concerns; they decide
again from their records, exactly as a replay would, and the workflow goes on from where it
waited (Temporal's sticky workflow cache and its own workflow event loop follow the same idea).

A parked workflow is closed (:meth:`Parked.close`) when its entry is dropped: eviction (LRU),
another writer advanced the execution, a sweeper wake-up, a failure, the execution ended, the
container died. Closing resolves every park future with a ``Suspend``, so the workflow unwinds
exactly as a replay's suspension does (``finally`` blocks run; an operation started in one is
refused, see ``suspension.refuse_while_suspending``), and the replay is marked closed first, so
nothing it still asks for is journaled or run: the replay that follows elsewhere or later runs
those blocks for real, once. Then it breaks the reference cycles the workflow leaves (``_release``), so
reference counting frees it at once rather than a later full collection, inside other code.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import traceback
import weakref
from collections.abc import Coroutine, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from stepbridge.runtime.guard import EngineSignal
from stepbridge.runtime.loops import VirtualTimeLoop, close_loop
from stepbridge.runtime.session import branch_scope
from stepbridge.runtime.suspension import Suspend

if TYPE_CHECKING:
    from stepbridge.api.app import WorkflowDef
    from stepbridge.runtime.replay import Replay

#: ``STEPBRIDGE_STICKY=0`` turns sticky executions off (read once, at the container's cold start).
STICKY_ENV = "STEPBRIDGE_STICKY"


def sticky_default() -> bool:
    """Whether sticky executions are on unless told otherwise (``STEPBRIDGE_STICKY``, default on)."""
    return os.environ.get(STICKY_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


#: Read once per process: Lambda keeps the process between invocations of a warm container.
STICKY_DEFAULT = sticky_default()

#: Seconds a closed workflow may take to unwind (``finally`` blocks) before its tasks are cancelled.
CLOSE_SECONDS = 1.0


class Parked:
    """One execution's workflow loop and replay, kept between invocations (see the module doc)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rp: Replay, coro: Coroutine[object, object, object]) -> None:
        self.loop = loop
        self.rp = rp
        #: An engine signal (an infrastructure failure, a simulated container death) that ended one of the
        #: workflow's tasks: the invocation is abandoned even while other branches are parked.
        self.signal: BaseException | None = None
        #: Every task of the workflow (``close`` clears what their exceptions hold; weak: a finished branch goes).
        self._tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()
        loop.set_task_factory(self._new_task)
        self.task: asyncio.Task[object] = loop.create_task(coro)
        #: The workflow definition and its result-cache key (set by the engine, used on completion).
        self.wf: WorkflowDef | None = None
        self.cache_key: str | None = None
        #: Park futures by operation name, and the ``gather``/``map`` branch each was parked in.
        self.waiting: dict[str, list[asyncio.Future[None]]] = {}
        self._scopes: dict[asyncio.Future[None], str] = {}
        #: Code waiting for every task to be blocked (``until_quiet``): resolved at the next quiet point.
        self._quiet_waiters: list[asyncio.Future[None]] = []
        #: Inline steps running right now (a worker thread may hand the loop more work when it returns).
        self.inflight = 0
        self.closed = False
        self._quiet: asyncio.Future[None] | None = None
        self._soon = False
        self._later: asyncio.TimerHandle | None = None

    @staticmethod
    def supports(loop: asyncio.AbstractEventLoop) -> bool:
        """Whether quiescence can be seen on ``loop`` (asyncio's own loops; not e.g. uvloop)."""
        ready, scheduled = getattr(loop, "_ready", None), getattr(loop, "_scheduled", None)
        # (asyncio's ``_ready`` is a deque: checked before the ``Iterable`` ABC, whose check runs in Python)
        return (type(ready) is collections.deque or isinstance(ready, Iterable)) and isinstance(scheduled, list)

    def _new_task(
        self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Every task of the workflow (``gather`` branches, ``map`` items) reports an engine signal it ends with."""
        task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
        task.add_done_callback(self._task_done)
        self._tasks.add(task)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if isinstance(exc, EngineSignal) and not isinstance(exc, Suspend) and self.signal is None:
            self.signal = exc
            if self._quiet is not None and not self._quiet.done():
                self._quiet.set_result(None)

    # ---- what the operations call ------------------------------------------------------------

    async def park(self, op: str) -> None:
        """Wait here until a wake-up concerns ``op`` (or the park is closed: ``Suspend`` is raised)."""
        fut: asyncio.Future[None] = self.loop.create_future()
        futures = self.waiting.setdefault(op, [])
        futures.append(fut)
        self._scopes[fut] = branch_scope.get()
        self.arm()
        try:
            await fut
        finally:
            del self._scopes[fut]
            futures.remove(fut)
            if not futures:
                del self.waiting[op]

    async def until_quiet(self) -> None:
        """Return once every other task of the workflow is blocked (parked, or waiting on a parked one)."""
        fut: asyncio.Future[None] = self.loop.create_future()
        self._quiet_waiters.append(fut)
        self.arm()
        await fut

    def unwind(self, scope: str) -> None:
        """Raise ``Suspend`` where the operations parked in the branch ``scope`` wait (``ctx.gather`` and
        ``ctx.map`` settle a branch that waits as a replay would, once another branch failed)."""
        for fut, where in list(self._scopes.items()):
            if where.startswith(scope) and not fut.done():
                signal = Suspend()
                signal.consumed = True
                fut.set_exception(signal)

    def running(self, delta: int) -> None:
        """An inline step started (+1) or returned (-1) on this loop."""
        self.inflight += delta
        if delta < 0:
            self.arm()

    @property
    def parked_ops(self) -> int:
        """How many operations wait on a park future (the memory weight of this entry)."""
        return len(self._scopes)  # (one entry per park future)

    # ---- quiescence -----------------------------------------------------------------------------

    def arm(self) -> None:
        """Look for quiescence once the ready callbacks of this turn have run."""
        if not self._soon and self._quiet is not None:
            self._soon = True
            self.loop.call_soon(self._check)

    def _check(self) -> None:
        self._soon = False
        quiet = self._quiet
        if quiet is None or quiet.done() or not (self.waiting or self._quiet_waiters):
            return
        if self.rp.session.fatal is not None:
            quiet.set_result(None)  # the execution failed for good: the engine ends it now, as a replay would
            return
        ready: Any = getattr(self.loop, "_ready", None)
        if ready:
            self.arm()  # other callbacks are ready: look again after them
            return
        if self.inflight:
            return  # ``running(-1)`` looks again when the step returns
        scheduled: Any = getattr(self.loop, "_scheduled", [])
        live = [h.when() for h in scheduled if not h.cancelled() and h is not self._later] if scheduled else None
        if live:
            # Workflow code waits on a loop timer (``asyncio.sleep`` in the body): look again when it is due.
            if self._later is not None:
                self._later.cancel()
            self._later = self.loop.call_at(min(live), self._check)
            return
        if self._quiet_waiters:
            waiters, self._quiet_waiters = self._quiet_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
            self.arm()  # they act now: look again after them
            return
        quiet.set_result(None)

    def run(self) -> None:
        """Run the loop until the workflow ends or is quiet (every task waits on a park future)."""
        quiet: asyncio.Future[None] = self.loop.create_future()
        self._quiet = quiet
        if isinstance(self.loop, VirtualTimeLoop):
            self.loop.begin_invocation()  # (LocalCloud: each invocation is charged its own virtual time)

        def ended(_: object) -> None:
            if not quiet.done():
                quiet.set_result(None)

        self.task.add_done_callback(ended)
        if self.waiting:
            self.arm()
        try:
            self.loop.run_until_complete(quiet)
        finally:
            self.task.remove_done_callback(ended)
            self._quiet = None
            self._soon = False
            if self._later is not None:
                self._later.cancel()
                self._later = None

    def wake(self, ops: Iterable[str] | None) -> int:
        """Resolve the park futures of ``ops`` (``None``: all); returns how many."""
        names = list(self.waiting) if ops is None else [op for op in ops if op in self.waiting]
        woken = 0
        for op in names:
            for fut in self.waiting.get(op, []):
                if not fut.done():
                    fut.set_result(None)
                    woken += 1
        return woken

    # ---- the end -------------------------------------------------------------------------------

    def close(self) -> None:
        """Unwind the parked workflow as a suspension would, journaling and running nothing, and close the loop."""
        if self.closed:
            return
        self.closed = True
        self.rp.session.close()
        if not self.loop.is_closed() and not self.loop.is_running():
            waiters, self._quiet_waiters = self._quiet_waiters, []
            for fut in [*(f for futures in self.waiting.values() for f in futures), *waiters]:
                if not fut.done():
                    signal = Suspend()
                    signal.consumed = True
                    fut.set_exception(signal)
            with _beside_running_loop():
                if not self.task.done():
                    # (the workflow is being dropped: nothing it raises while it unwinds may escape; code that still
                    # waits on something else after CLOSE_SECONDS is cancelled by ``close_loop``)
                    with contextlib.suppress(BaseException):
                        self.loop.run_until_complete(asyncio.wait([self.task], timeout=CLOSE_SECONDS))
                close_loop(self.loop)
        if self.loop.is_closed():
            self._release()

    def _release(self) -> None:
        """Break the reference cycles a closed workflow leaves, so reference counting frees it at once.

        Without this the whole parked workflow (loop, tasks, coroutine frames, replay, journal view) is one
        cycle: the loop's task factory and the replay's ``parker`` point back here, and the exception each
        task ended with (the ``Suspend`` of the close, a branch's failure) holds in its traceback the frames
        it unwound, whose locals hold the tasks, their futures and the replay. Left to the cyclic collector,
        it was finalized at some later collection, in whatever code ran then.
        """
        self.loop.set_task_factory(None)
        if self.rp.parker is self:
            self.rp.parker = None
        seen: set[int] = set()
        for task in list(self._tasks):
            if task.done() and not task.cancelled():
                _clear_frames(task.exception(), seen)  # (retrieved: no "exception was never retrieved" log)
        for exc in self.rp.session.raised():
            _clear_frames(exc, seen)
        self._tasks = weakref.WeakSet()
        self.waiting.clear()
        self._scopes.clear()
        self._quiet_waiters.clear()


@contextlib.contextmanager
def _beside_running_loop() -> Iterator[None]:
    """Let a parked workflow's loop run here even when another loop is running in this thread.

    LocalCloud delivers nested: a workflow's effect (setting a timer, dispatching) runs another orchestrator
    invocation in the same thread, inside the first workflow's loop, and that one may close a parked
    workflow (eviction). asyncio refuses to run a loop while another runs in the thread, so the workflow
    was neither unwound nor closed (its ``finally`` blocks ran whenever the cyclic collector finalized its
    coroutine). The outer loop only waits for this call to return, as it does for any blocking call.
    """
    outer = asyncio.events._get_running_loop()
    if outer is None:
        yield
        return
    asyncio.events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio.events._set_running_loop(outer)


def _clear_frames(exc: BaseException | None, seen: set[int]) -> None:
    """Drop the locals of the frames in ``exc``'s traceback, its cause's and context's (the traceback stays)."""
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if exc.__traceback__ is not None:  # (a suspension the engine settled has none left)
            traceback.clear_frames(exc.__traceback__)
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                _clear_frames(inner, seen)
        if exc.__cause__ is not None:
            _clear_frames(exc.__cause__, seen)
        exc = exc.__context__
