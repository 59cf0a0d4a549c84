"""A cold wake-up reads the header and the whole journal in one request (``Store.load_execution``).

Issue 17 (sleep-then-wake on moto): the first wake-up of an execution in a container read the header
(GetItem) and then the journal (Query); one consistent Query over ``sk BETWEEN "J#" AND "META"`` reads
both. A warm resume still reads the header alone (its journal copy is cached). A late wake-up of an
execution this container saw end reads the header alone, not its journal. An unwinding that begins on
a cold wake-up (a cancel with compensation stamps its cut) reads the journal again after the cut.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime.records import WakeMessage

READS = ("get_execution", "load_execution", "load_journal", "load_journal_since", "get_journal", "save_execution")


def app() -> App:
    app = App("cold")

    @app.workflow("noop")
    async def noop(ctx: Context) -> str:
        return "ok"

    @app.workflow("nap")
    async def nap(ctx: Context) -> str:
        async with ctx.saga() as saga:
            await ctx.step("book", lambda: "booked")
            saga.compensate(lambda: None, name="unbook")
            await ctx.sleep(timedelta(hours=1))
        return "woke"

    return app


class Calls(list[str]):
    """The store's read calls (and header writes), in order."""

    def __init__(self, store: Any) -> None:
        super().__init__()
        for name in READS:
            setattr(store, name, self._wrap(name, getattr(store, name)))

    def _wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.append(name)
            return fn(*args, **kwargs)

        return call


def test_a_cold_wake_up_reads_header_and_journal_in_one_request_and_a_warm_one_the_header() -> None:
    with LocalCloud(app(), backend="memory") as cloud:
        calls = Calls(cloud.store)
        client = cloud.client()
        h = client.start("nap")
        assert calls[:1] == ["load_execution"] and "get_execution" not in calls and "load_journal" not in calls
        del calls[:]
        cloud.advance(timedelta(hours=1))
        assert client.describe(h.execution_id).result == "woke"
        # warm: the header, then the log past the cached copy
        assert calls[:2] == ["get_execution", "load_journal_since"] and "load_execution" not in calls


def test_a_late_wake_up_of_an_ended_execution_reads_its_header_only() -> None:
    with LocalCloud(app(), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("noop")
        assert client.describe(h.execution_id).status == "SUCCEEDED"
        calls = Calls(cloud.store)
        cloud.effects.wake(WakeMessage(h.execution_id, "step", "late-1"))  # a report after the end
        cloud.settle()
        assert calls == ["get_execution"]
        # a container that did not see it end reads header and journal once, then knows
        cloud.redeploy()
        del calls[:]
        for n in (2, 3):
            cloud.effects.wake(WakeMessage(h.execution_id, "step", f"late-{n}"))
            cloud.settle()
        assert calls == ["load_execution", "get_execution"]
        assert client.describe(h.execution_id).status == "SUCCEEDED"


def test_an_unwinding_that_begins_on_a_cold_wake_up_reads_the_journal_after_its_cut() -> None:
    with LocalCloud(app(), backend="memory") as cloud:
        client = cloud.client()
        h = client.start("nap")
        cloud.redeploy()  # the next wake-up is cold
        calls = Calls(cloud.store)
        client.cancel(h.execution_id, compensate=True)
        assert client.describe(h.execution_id).status == "CANCELLED"
        first = calls.index("load_execution")
        # header + journal, the cut written, then the journal read again (what the cut's replays see)
        assert calls[first : first + 3] == ["load_execution", "save_execution", "load_journal"]
        history = [e.detail_type for e in client.history(h.execution_id)]
        assert "Step.completed" in history
