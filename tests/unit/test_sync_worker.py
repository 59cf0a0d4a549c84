"""The persistent worker threads that run sync step functions under LocalCloud (runtime/syncworker.py)."""

from __future__ import annotations

import contextvars
import os
import threading

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime import syncworker
from stepbridge.runtime.syncworker import run_in_worker

_where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="unset")


def test_runs_in_another_thread_with_the_callers_context() -> None:
    token = _where.set("caller")
    try:
        thread, seen = run_in_worker(lambda: (threading.get_ident(), _where.get()))
    finally:
        _where.reset(token)
    assert thread != threading.get_ident()
    assert seen == "caller"


def test_a_worker_is_reused_between_calls() -> None:
    first = run_in_worker(threading.get_ident)
    assert run_in_worker(threading.get_ident) == first


@pytest.mark.parametrize("exc", [ValueError("bad"), KeyboardInterrupt(), SystemExit(3)])
def test_errors_and_base_exceptions_reach_the_caller_and_the_worker_survives(exc: BaseException) -> None:
    def boom() -> None:
        raise exc

    with pytest.raises(type(exc)) as raised:
        run_in_worker(boom)
    assert raised.value is exc
    assert run_in_worker(lambda: 41 + 1) == 42


def test_nested_calls_take_other_workers_and_idle_ones_are_bounded() -> None:
    depth = syncworker.MAX_IDLE + 3

    def nest(level: int) -> list[int]:
        here = threading.get_ident()
        return [here] if level == 0 else [here, *run_in_worker(nest, level - 1)]

    threads = run_in_worker(nest, depth)
    assert len(set(threads)) == depth + 1  # each level ran in its own thread: none waited for another
    assert len(syncworker._idle) <= syncworker.MAX_IDLE


def test_sync_inline_steps_under_local_cloud_run_off_the_loop_thread() -> None:
    app = App("sync-worker")
    threads: list[int] = []

    def step(i: int) -> int:
        threads.append(threading.get_ident())
        return i + 1

    @app.workflow("steps")
    async def steps(ctx: Context) -> int:
        loop_thread = threading.get_ident()
        total = 0
        for i in range(3):
            total += await ctx.step(f"s{i}", step, i)
        assert loop_thread not in threads
        return total

    with LocalCloud(app, backend="memory") as cloud:
        assert cloud.client().start("steps").result() == 6
    assert len(threads) == 3 and len(set(threads)) == 1  # one persistent worker served all three


# ---- one CPU for the handoff (Linux; the module doc) ----------------------------------------------------

_colocation = pytest.mark.skipif(
    syncworker.cpu_reader() is None or len(getattr(os, "sched_getaffinity", lambda _: ())(0)) < 2,
    reason="needs sched_getcpu/sched_setaffinity and at least two allowed CPUs",
)


@_colocation
def test_the_caller_waits_pinned_and_the_step_function_runs_with_the_usual_cpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(syncworker, "COLOCATE", True)
    usual = os.sched_getaffinity(0)
    caller = threading.get_native_id()

    def inside() -> tuple[set[int], set[int]]:
        return os.sched_getaffinity(0), os.sched_getaffinity(caller)

    own, callers = run_in_worker(inside)
    assert own == usual  # the step function (and what it starts) sees the process's CPUs
    assert len(callers) == 1 and callers <= usual  # the caller waits pinned to the CPU it ran on
    assert os.sched_getaffinity(0) == usual  # and has its mask back with the result


@_colocation
def test_the_callers_mask_comes_back_after_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syncworker, "COLOCATE", True)
    usual = os.sched_getaffinity(0)

    def boom() -> None:
        raise ValueError("bad")

    with pytest.raises(ValueError):
        run_in_worker(boom)
    assert os.sched_getaffinity(0) == usual


@_colocation
def test_a_caller_limited_to_one_cpu_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing to gain on one CPU: no pinning, and the caller's own limit stays as it was."""
    monkeypatch.setattr(syncworker, "COLOCATE", True)
    usual = os.sched_getaffinity(0)
    one = {min(usual)}
    os.sched_setaffinity(0, one)
    try:
        assert run_in_worker(lambda: 41 + 1) == 42
        assert os.sched_getaffinity(0) == one
    finally:
        os.sched_setaffinity(0, usual)


def test_without_colocation_nothing_is_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syncworker, "COLOCATE", False)
    if not hasattr(os, "sched_getaffinity"):
        assert run_in_worker(lambda: 41 + 1) == 42
        return
    usual = os.sched_getaffinity(0)
    caller = threading.get_native_id()
    assert run_in_worker(lambda: os.sched_getaffinity(caller)) == usual
