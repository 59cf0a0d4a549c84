"""A parked workflow taken out of the journal cache is closed when the wake-up's reads fail.

``JournalCache.load_or_resume`` takes the execution's copy (and its parked workflow) out of the cache, then
reads what is new. When a read raised (a throttled Query, a crash), the parked workflow was held by nobody:
the collector destroyed its pending tasks later and ran its ``finally`` blocks wherever it collected them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime import sticky
from stepbridge.runtime.guard import InfrastructureFailure
from stepbridge.runtime.journalview import JournalView


def waiter_app(name: str) -> tuple[App, list[str]]:
    """An app whose ``waiter`` parks on an event; the list records the workflow's ``finally`` running."""
    app = App(name)
    unwound: list[str] = []

    @app.workflow("waiter")
    async def waiter(ctx: Context) -> Any:
        try:
            return await ctx.wait_for("go", timeout=3600, default="none")
        finally:
            unwound.append("finally")

    return app, unwound


def test_a_failed_read_of_a_resuming_wake_up_closes_the_parked_workflow_now(monkeypatch: Any) -> None:
    app, unwound = waiter_app("parked-read-fails")
    with LocalCloud(app, backend="memory", sticky=True) as cloud:
        client = cloud.client()
        h = client.start("waiter", execution_id="w-1")
        parked = cloud.orchestrator_caches[0].parked("w-1")
        assert parked is not None and unwound == []
        closes: list[bool] = []
        close = sticky.Parked.close

        def recording_close(self: sticky.Parked) -> None:
            close(self)
            closes.append(self.loop.is_closed())

        monkeypatch.setattr(sticky.Parked, "close", recording_close)
        store = cloud.env.store
        real = store.load_journal_since
        failures = [InfrastructureFailure("load_journal_since", TimeoutError("throttled"))]

        def failing_once(execution_id: str, after_seq: int, **kwargs: Any) -> Any:
            if failures:
                raise failures.pop()
            return real(execution_id, after_seq, **kwargs)

        monkeypatch.setattr(store, "load_journal_since", failing_once)
        client.send_event("go", {"n": 1})
        cloud.advance(timedelta(minutes=5))  # the failed wake-up is redelivered and replays from the top
        assert failures == []  # the read failed once
        assert closes and closes[0] is True  # the parked copy was closed at the failure, its loop closed
        assert parked.closed and unwound[0] == "finally"
        assert client.describe(h.execution_id).status == "SUCCEEDED"
        assert client.describe(h.execution_id).result == {"n": 1}


def test_a_resume_that_fails_before_the_workflow_goes_on_closes_the_parked_workflow_now(monkeypatch: Any) -> None:
    """The same for a failure inside ``engine.resume`` itself, before the parked workflow's loop runs again."""
    app, unwound = waiter_app("parked-resume-fails")
    with LocalCloud(app, backend="memory", sticky=True) as cloud:
        client = cloud.client()
        h = client.start("waiter", execution_id="w-1")
        parked = cloud.orchestrator_caches[0].parked("w-1")
        assert parked is not None and unwound == []
        real = JournalView.resumed
        failures = [InfrastructureFailure("resume", TimeoutError("throttled"))]

        def failing_once(self: JournalView, *args: Any, **kwargs: Any) -> Any:
            if failures:
                raise failures.pop()
            return real(self, *args, **kwargs)

        monkeypatch.setattr(JournalView, "resumed", failing_once)
        client.send_event("go", {"n": 2})
        cloud.advance(timedelta(minutes=5))  # the failed wake-up is redelivered and replays from the top
        assert failures == []
        assert parked.closed and parked.loop.is_closed() and unwound[0] == "finally"
        assert client.describe(h.execution_id).result == {"n": 2}
