"""Event loops for running workflow and step code.

In AWS each invocation gets a plain new event loop. LocalCloud uses :class:`VirtualTimeLoop`:
when nothing is ready to run it jumps its clock to the next timer, so ``asyncio.sleep(60)``
inside a step returns at once and step timeouts fire in virtual time. Sync step functions run in
a worker thread there too, but the loop blocks until the thread is done (an idle loop would jump
its clock past the thread's real duration).
"""

from __future__ import annotations

import asyncio
import heapq
import threading
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any, SupportsIndex

LoopFactory = Callable[[], asyncio.AbstractEventLoop]

#: ``close_loop``: the loop does not say whether it has a default executor.
_UNKNOWN = object()


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """A selector loop whose ``time()`` only moves when everything is waiting on timers."""

    #: Read by ``steps.call_function``: block the loop on a sync function's thread rather than await it.
    inline_sync = True

    def __init__(self) -> None:
        super().__init__()
        self._virtual_now = 0.0
        #: The virtual time the current invocation began at (a parked workflow's loop - runtime/sticky.py -
        #: serves several invocations; ``LocalOrchestratorContext`` charges each one its own time).
        self.invocation_began = 0.0
        #: The tasks created on this loop (``close_loop`` cancels the unfinished ones): ``asyncio.all_tasks(loop)``
        #: walks every task of the process, and a parked 1,000-way gather holds 1,000 of them (issue 17).
        self.own_tasks: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    def create_task(self, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        """``loop.create_task`` (``ensure_future``, ``gather``, ``wait_for`` call it), remembered in ``own_tasks``."""
        task: asyncio.Task[Any] = super().create_task(coro, **kwargs)
        self.own_tasks.add(task)
        return task

    def time(self) -> float:
        """Virtual monotonic time in seconds."""
        return self._virtual_now

    def begin_invocation(self) -> None:
        """A new orchestrator invocation runs on this loop from now on."""
        self.invocation_began = self._virtual_now

    def _run_once(self) -> None:
        ready: object = getattr(self, "_ready", None)
        scheduled: Any = getattr(self, "_scheduled", None)
        if not ready and scheduled:
            # ``_scheduled`` is a heap: drop cancelled handles from its head (as the base loop does) rather
            # than scanning it all - timeouts that were cancelled (every bounded step) would pile up.
            while scheduled and scheduled[0].cancelled():
                handle = heapq.heappop(scheduled)
                handle._scheduled = False
                self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
            if scheduled and scheduled[0].when() > self._virtual_now:
                self._virtual_now = scheduled[0].when()
        super()._run_once()  # type: ignore[misc]


_real_sleep = time.sleep
_virtual = threading.local()


def _sleep(seconds: float | SupportsIndex) -> None:
    """``time.sleep``: virtual in a thread running a step under LocalCloud, real everywhere else."""
    slept = getattr(_virtual, "slept", None)
    if slept is None:
        _real_sleep(seconds)
        return
    amount = float(seconds) if isinstance(seconds, float | int) else float(seconds.__index__())
    if amount < 0:
        raise ValueError("sleep length must be non-negative")
    _virtual.slept = slept + amount


def run_sync_virtually(fn: Callable[..., object], *args: object) -> tuple[BaseException | None, object, float]:
    """Call a sync step function in this thread with ``time.sleep`` taking virtual time.

    Returns ``(error, result, elapsed)``: ``elapsed`` is the real time it ran plus the time it
    slept, so a 3 s ``time.sleep`` under a 1 s ``timeout=`` times out as in AWS without waiting.
    ``time.sleep`` is replaced once, process-wide, by a function that sleeps for real in every
    other thread (only LocalCloud's virtual-time loop calls this); a ``time.sleep`` that a test has
    replaced itself is left alone.
    """
    if time.sleep is _real_sleep:
        time.sleep = _sleep
    _virtual.slept = 0.0
    started = time.perf_counter()
    error: BaseException | None = None
    result: object = None
    try:
        result = fn(*args)
    except Exception as exc:
        error = exc
    finally:
        slept = float(_virtual.slept)
        del _virtual.slept
    try:
        return error, result, slept + time.perf_counter() - started
    finally:
        error = None  # (the error's traceback holds this frame: kept in its locals, it would be a reference cycle)


class ContainerLoop(VirtualTimeLoop):
    """A virtual-time loop that serves one emulated Lambda container's invocations one after the other.

    LocalCloud's step Lambdas used to get a new loop per invocation, as the handler does in AWS; creating
    and closing it was most of the emulation's cost in a 1,000-way gather (issue 17). Each invocation here
    ends as a fresh loop's would: its leftover tasks are cancelled and its leftover callbacks and timers
    dropped, so nothing of it runs during the next one. The default executor lives as long as the container.
    """

    def run_invocation(self, coro: Coroutine[Any, Any, object]) -> object:
        """Run ``coro`` to completion, then clear what it left behind."""
        try:
            return self.run_until_complete(coro)
        finally:
            self._end_invocation()

    def _end_invocation(self) -> None:
        pending = [t for t in self.own_tasks if not t.done()]
        for task in pending:
            task.cancel()
        if pending:
            self.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        ready: Any = getattr(self, "_ready", None)
        scheduled: Any = getattr(self, "_scheduled", None)
        if ready is not None and scheduled is not None:  # what close() would drop with a fresh loop
            for handle in scheduled:
                handle.cancel()
            ready.clear()
            scheduled.clear()
            self._timer_cancelled_count = 0

    def usable(self) -> bool:
        """False once user code closed or stopped it mid-run: the container then gets a new loop."""
        return not self.is_closed() and not self.is_running()


def run_coroutine(coro: Any, loop_factory: LoopFactory | None = None) -> object:
    """Run ``coro`` to completion on a fresh loop and close it cleanly (a ``ContainerLoop`` is kept, cleaned)."""
    loop = (loop_factory or asyncio.new_event_loop)()
    if isinstance(loop, ContainerLoop):
        return loop.run_invocation(coro)
    try:
        return loop.run_until_complete(coro)
    finally:
        close_loop(loop)


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel leftover tasks, stop the default executor and close ``loop``."""
    tasks = loop.own_tasks if isinstance(loop, VirtualTimeLoop) else asyncio.all_tasks(loop)
    pending = [t for t in tasks if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    # A loop that never made a default executor (no ``asyncio.to_thread``: most invocations) has none to stop:
    # running ``shutdown_default_executor`` would still cost a task and two loop iterations on every close.
    # (``_default_executor`` is CPython's ``BaseEventLoop`` attribute; a loop without it is shut down the long way.)
    if getattr(loop, "_default_executor", _UNKNOWN) is not None:
        loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
