"""``close_loop`` ends a loop as ``asyncio.run`` would: leftover tasks cancelled, the default executor's threads
joined; a loop that never made an executor is closed without running its shutdown (a task and two iterations
saved on every invocation, runtime/loops.py)."""

from __future__ import annotations

import asyncio
import threading

from stepbridge.runtime.loops import VirtualTimeLoop, close_loop


def test_a_loop_that_ran_a_sync_function_in_a_thread_has_its_executor_threads_joined() -> None:
    before = set(threading.enumerate())
    loop = VirtualTimeLoop()
    ident = loop.run_until_complete(asyncio.to_thread(threading.get_ident))
    # (the default executor's threads are named asyncio_N: other tests' threads may come and go meanwhile)
    workers = [t for t in threading.enumerate() if t not in before and t.name.startswith("asyncio_")]
    assert ident != threading.get_ident() and workers  # it ran in the default executor's thread
    close_loop(loop)
    assert loop.is_closed()
    assert [t for t in workers if t.is_alive()] == []  # shut down and joined, as asyncio.run does


def test_a_loop_without_an_executor_is_closed_and_its_leftover_tasks_cancelled() -> None:
    loop = VirtualTimeLoop()
    cancelled: list[str] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append("forever")
            raise

    async def main() -> None:
        loop.create_task(forever())
        await asyncio.sleep(0)

    loop.run_until_complete(main())
    close_loop(loop)
    assert loop.is_closed() and cancelled == ["forever"]


def test_a_plain_asyncio_loop_is_closed_the_same_way() -> None:
    loop = asyncio.new_event_loop()
    loop.run_until_complete(asyncio.to_thread(lambda: None))
    close_loop(loop)
    assert loop.is_closed()
