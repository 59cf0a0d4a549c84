"""Persistent worker threads for sync step functions that a blocking caller waits on (LocalCloud's loop).

A sync step function runs in a thread other than the workflow's loop, as in AWS (so it may run its own
event loop, e.g. ``asyncio.run``). Under LocalCloud's virtual-time loop the loop thread blocks on that
thread (``steps.call_function``), so the handoff is on every sync step's path. A
``ThreadPoolExecutor.submit().result()`` round trip allocates a work item, a ``Future`` and its
``Condition`` per call; here each worker is a thread parked on a lock, and a call is one lock release
and one lock acquire each way (issue 17: the handoff was most of a sync inline step's in-memory time).

Workers are kept for reuse, at most ``MAX_IDLE`` of them; a nested call (a step function that itself
runs a workflow in the same process) takes another worker, so calls never wait for each other.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

#: Idle workers kept for reuse (the executor this replaces had at most 4 threads).
MAX_IDLE = 4

_Job = tuple[contextvars.Context, Callable[..., Any], tuple[object, ...]]


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
        threading.Thread(target=self._serve, name="stepbridge-step", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self._go.acquire()
            job, self._job = self._job, None
            if job is None:
                return  # retired (more idle workers than MAX_IDLE)
            context, fn, args = job
            try:
                self._out = (None, context.run(fn, *args))
            except BaseException as exc:  # handed to the caller, which re-raises it
                self._out = (exc, None)
            self._done.release()

    def call(self, job: _Job) -> object:
        self._job = job
        self.reusable = False
        self._go.release()
        self._done.acquire()
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
        return worker.call((contextvars.copy_context(), fn, args))
    finally:
        if worker.reusable:  # else the caller was interrupted while it waited: the thread ends on its own job
            with _idle_lock:
                keep = len(_idle) < MAX_IDLE
                if keep:
                    _idle.append(worker)
            if not keep:
                worker.retire()
