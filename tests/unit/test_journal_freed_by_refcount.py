"""A finished invocation's journal is freed by reference counting, not left to the cyclic collector.

The engine turns the cyclic collector off while a replay runs (``engine._drive``). In engine v2 the
journal view held a bound method of its ``Replay`` (``fail=self._fail``): a reference cycle over the
replay, its view and every journal record, so each invocation's journal stayed in memory until the next
collection and the collector then had to trace it (benchmarks/RESULTS.md, "Engine v2: before/after": the
20,000-step in-memory row, where it was looked for).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime.records import JournalRecord


@pytest.fixture
def saved_garbage() -> Iterator[list[object]]:
    """``gc.garbage`` filled with what one collection finds unreachable (DEBUG_SAVEALL), restored after."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    gc.garbage.clear()
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        if enabled:
            gc.enable()


def test_a_finished_execution_leaves_no_journal_record_in_a_reference_cycle(saved_garbage: list[object]) -> None:
    app = App("refcount")

    @app.workflow("steps")
    async def steps(ctx: Context, n: int) -> int:
        total = 0
        for i in range(n):
            total += await ctx.step(f"s{i}", lambda i=i: i)
        return total

    # (the replay path; a closed parked workflow - sticky executions - is checked in test_parked_freed_by_refcount.py)
    with LocalCloud(app, backend="memory", sticky=False) as cloud:
        client = cloud.client()
        assert client.start("steps", 50, execution_id="e1").result() == sum(range(50))
        assert len(cloud.store.load_journal("e1")) >= 50  # the journal was written
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        gc.set_debug(0)
        # (this execution's records only: another test's garbage, released by something global this test resets
        # - a payload cache, an idle worker thread - may be collected here too when the suite runs in one worker)
        # (``type(o)``, not ``isinstance``: the garbage may hold a weak proxy whose referent is gone, and
        # ``isinstance`` asks the proxy for its ``__class__``, which raises ReferenceError)
        mine = {f"s{i}" for i in range(50)}
        cyclic = [o for o in saved_garbage if type(o) is JournalRecord and o.op in mine]
    assert cyclic == []
