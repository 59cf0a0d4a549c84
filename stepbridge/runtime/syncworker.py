"""Persistent worker threads for sync step functions that a blocking caller waits on (LocalCloud's loop).

A sync step function runs in a thread other than the workflow's loop, as in AWS (so it may run its own
event loop, e.g. ``asyncio.run``). Under LocalCloud's virtual-time loop the loop thread blocks on that
thread (``steps.call_function``), so the handoff is on every sync step's path. A
``ThreadPoolExecutor.submit().result()`` round trip allocates a work item, a ``Future`` and its
``Condition`` per call; here each worker is a thread parked on a lock, and a call is one lock release
and one lock acquire each way (issue 17: the handoff was most of a sync inline step's in-memory time).

Workers are kept for reuse, at most ``MAX_IDLE`` of them; a nested call (a step function that itself
runs a workflow in the same process) takes another worker, so calls never wait for each other.

**One CPU for the handoff** (Linux). The caller and the worker never run at the same time, yet the kernel wakes
each of them on an idle CPU when there is one, and on a virtual machine waking an idle virtual CPU costs tens of
microseconds, twice per call (issue 17 goal 4: 68 us of a 190 us sync step on a two-CPU machine with one CPU
idle; 5 us with both on one CPU). So for the handoff the caller pins itself and the worker to the CPU it is
running on; the worker restores its own mask before it runs the step function (which, and whatever threads or
processes it starts, sees the process's usual CPUs) and the caller restores its own as soon as it has the
result. Where the CPU cannot be read or pinned (another OS, a mask of one CPU), the handoff is the plain one.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import threading
from collections.abc import Callable
from typing import Any

#: Idle workers kept for reuse (the executor this replaces had at most 4 threads).
MAX_IDLE = 4

#: Pin the caller and the worker to one CPU for each handoff (see the module doc); tests and benchmarks switch it.
COLOCATE = True

#: ``(context, function, arguments, the CPU mask the worker restores before it runs the function or None)``.
_Job = tuple[contextvars.Context, Callable[..., Any], tuple[object, ...], "set[int] | None"]


@functools.cache
def cpu_reader() -> Callable[[], int] | None:
    """libc's ``sched_getcpu`` (the CPU this thread runs on; a vDSO read, no system call), where there is one.

    Looked up on first use: ``ctypes`` takes ~2 ms to import, and a Lambda never runs this module's handoff.
    """
    if not hasattr(os, "sched_setaffinity"):
        return None
    import ctypes

    try:
        getcpu = ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None
    getcpu.restype, getcpu.argtypes = ctypes.c_int, []
    return lambda: int(getcpu())


def _pin_pair(worker_tid: int | None) -> set[int] | None:
    """Pin the worker thread ``worker_tid`` and then this thread to the CPU this thread runs on; returns this
    thread's mask to restore, or ``None`` when nothing was pinned (a cpuset that changed under us, a seccomp
    policy, one allowed CPU: the plain handoff)."""
    current_cpu = cpu_reader() if COLOCATE else None
    if current_cpu is None or worker_tid is None:
        return None
    try:
        mask = os.sched_getaffinity(0)
    except OSError:
        return None
    cpu = current_cpu()
    if len(mask) < 2 or cpu not in mask:
        return None
    try:
        os.sched_setaffinity(worker_tid, (cpu,))
    except OSError:
        return None
    try:
        os.sched_setaffinity(0, (cpu,))
    except OSError:
        _restore(worker_tid, mask)
        return None
    return mask


def _restore(tid: int, mask: set[int]) -> None:
    """Set thread ``tid``'s CPU mask (0: this thread) back to ``mask``; a failure leaves it as it is."""
    with contextlib.suppress(OSError):
        os.sched_setaffinity(tid, mask)


class _Worker:
    """One thread that runs one job at a time, handed over through two locks."""

    def __init__(self) -> None:
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._job: _Job | None = None
        self._out: tuple[BaseException | None, object] = (None, None)
        #: False while a job's handoff is incomplete (the caller was interrupted waiting): not reusable.
        self.reusable = True
        thread = threading.Thread(target=self._serve, name="stepbridge-step", daemon=True)
        thread.start()
        #: The worker's kernel thread id (set before ``start`` returns), for pinning it (see the module doc).
        self.tid = thread.native_id

    def _serve(self) -> None:
        while True:
            self._go.acquire()
            job, self._job = self._job, None
            if job is None:
                return  # retired (more idle workers than MAX_IDLE)
            context, fn, args, mask = job
            if mask is not None:
                _restore(0, mask)  # the step function runs with the process's usual CPUs
            try:
                self._out = (None, context.run(fn, *args))
            except BaseException as exc:  # handed to the caller, which re-raises it
                self._out = (exc, None)
            self._done.release()

    def call(self, context: contextvars.Context, fn: Callable[..., Any], args: tuple[object, ...]) -> object:
        mask = _pin_pair(self.tid)
        self._job = (context, fn, args, mask)
        self.reusable = False
        try:
            self._go.release()
            self._done.acquire()
        finally:
            if mask is not None:
                _restore(0, mask)
        self.reusable = True
        (error, result), self._out = self._out, (None, None)
        if error is not None:
            raise error
        return result

    def retire(self) -> None:
        self._job = None
        self._go.release()


_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def run_in_worker(fn: Callable[..., Any], *args: object) -> Any:
    """Call ``fn(*args)`` in a worker thread, in a copy of the caller's context, and wait for it."""
    with _idle_lock:
        worker = _idle.pop() if _idle else None
    if worker is None:
        worker = _Worker()
    try:
        return worker.call(contextvars.copy_context(), fn, args)
    finally:
        if worker.reusable:  # else the caller was interrupted while it waited: the thread ends on its own job
            with _idle_lock:
                keep = len(_idle) < MAX_IDLE
                if keep:
                    _idle.append(worker)
            if not keep:
                worker.retire()
