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
from collections.abc import Callable
from typing import Any, SupportsIndex

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


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


def run_coroutine(coro: Any, loop_factory: LoopFactory | None = None) -> object:
    """Run ``coro`` to completion on a fresh loop and close it cleanly."""
    loop = (loop_factory or asyncio.new_event_loop)()
    try:
        return loop.run_until_complete(coro)
    finally:
        close_loop(loop)


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel leftover tasks, stop the default executor and close ``loop``."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_default_executor())
    loop.close()
