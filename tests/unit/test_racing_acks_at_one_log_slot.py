"""Two replays racing at one log slot with ``$ack`` records that name different reports: neither replay's
journal-cache copy misses a report.

Two replays of one execution race (a message redelivered while its first replay still
runs, e.g. after the visibility timeout) and both write an ``$ack`` record at the same log slot.

``_append_log`` treats a taken slot holding the same key as "a racing replay recorded the same
operation" and adopts it. Ack keys are ``$ack#{seq}``, derived from the slot alone, so any two acks
at one slot look like twins even when they name different reports. The loser adopts the winner's
ack without reading the reports it names, and its cache then remembers the log as read up to
that slot: those reports never enter its copy. A later resume on that container waits for a step
that has reported (its wake-up was consumed by the other replay), until the sweeper notices."""

from __future__ import annotations

from typing import Any

from stepbridge import App, Context
from stepbridge.handlers import step as step_handler
from stepbridge.local import LocalCloud
from stepbridge.runtime.journalcache import JournalCache
from stepbridge.runtime.orchestrator import Orchestrator
from stepbridge.runtime.records import report_wake


def fan_app() -> App:
    app = App("twin")

    @app.step(timeout=30)
    def double(i: int) -> int:
        return i * 2

    @app.workflow("fan")
    async def fan(ctx: Context) -> list[int]:
        return list(await ctx.gather(*[ctx.step(f"f{i}", double, i) for i in range(3)]))

    return app


class _Hook:
    """Runs ``before`` once, just before the first log write of the wrapped store."""

    def __init__(self, inner: Any, before: Any) -> None:
        self._inner, self._before = inner, before

    def append_journal(self, execution_id: str, record: Any) -> bool:
        if self._before is not None and record.logged:
            before, self._before = self._before, None
            before()
        return bool(self._inner.append_journal(execution_id, record))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def test_racing_replays_acking_different_reports_do_not_leave_a_copy_that_misses_one() -> None:
    with LocalCloud(fan_app(), backend="memory") as cloud:
        client = cloud.client()
        cloud.eager = False
        eid = client.start("fan").execution_id
        a, b = JournalCache(), JournalCache()
        orch = lambda store, cache: Orchestrator(  # noqa: E731
            cloud.app, store, cloud.effects, cloud.env.loop_factory, cache=cache
        )
        start = [r for r in cloud.resources.receive()]
        for r in start:
            cloud.resources.delete(r["receiptHandle"])
        import json

        from stepbridge.runtime.records import WakeMessage

        orch(cloud.store, a).handle(WakeMessage.from_dict(json.loads(start[0]["body"])))  # dispatches f0..f2
        assert eid in a
        for _ in range(2):  # f0 and f1 report
            inv = cloud._step_queue.popleft()
            step_handler.handle(inv.to_dict(), cloud.env, cloud._lambda_context(inv))
        for r in cloud.resources.receive():
            cloud.resources.delete(r["receiptHandle"])  # we deliver those wake-ups by hand below
        f0, f1 = (cloud.store.get_journal(eid, k) for k in ("f0", "f1"))
        w0 = report_wake(eid, "step", "step:f0:1:result", f0, won=True)
        w1 = report_wake(eid, "step", "y", f1, won=True)
        w01 = WakeMessage(eid, "step", "x", {"reports": w0.reports + w1.reports})

        # container A replays w0; while it runs, container B (the redelivery, batched with w1) replays both.
        racing = lambda: orch(cloud.store, b).handle(w01)  # noqa: E731
        orch(_Hook(cloud.store, racing), a).handle(w0)

        inv = cloud._step_queue.popleft()  # f2 reports; its wake-up lands on container A
        step_handler.handle(inv.to_dict(), cloud.env, cloud._lambda_context(inv))
        for r in cloud.resources.receive():
            cloud.resources.delete(r["receiptHandle"])
        f2 = cloud.store.get_journal(eid, "f2")
        orch(cloud.store, a).handle(report_wake(eid, "step", "step:f2:1:result", f2, won=True))
        d = client.describe(eid)
        # A full-journal replay has all three results here and finishes.
        assert d.status == "SUCCEEDED", (d.status, sorted(r.key for r in cloud.store.load_journal(eid)))
        a.clear()
        b.clear()  # container B still parks the workflow it replayed: the containers go away with the test
