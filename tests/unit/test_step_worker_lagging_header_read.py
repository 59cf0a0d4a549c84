"""The first declared step of a new execution runs even when the step worker's eventually consistent
read of the execution header lags (runtime/stepworker.py).

An eventually consistent GetItem may not yet return an item written a moment ago: for the first
declared step of a new execution (created, woken, replayed and dispatched within milliseconds)
it can return nothing, and the worker then skips the attempt as if the execution did not exist.
The step never runs and never reports; the deadline records a timeout, and a step without
retries fails the execution with StepTimeout although nothing went wrong."""

from __future__ import annotations

from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.handlers import step as step_handler
from stepbridge.local import LocalCloud
from stepbridge.runtime.records import RUNNING, ExecutionGlance


class LaggingReplica:
    """A store whose eventually consistent reads come from a replica that has not caught up yet
    (it holds only what ``replicate()`` copied): DynamoDB's documented read semantics."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.replica: dict[str, Any] = {}

    def replicate(self) -> None:
        for rec in self._inner.list_executions(limit=10_000):
            self.replica[rec.execution_id] = rec

    def get_execution(self, execution_id: str, *, consistent: bool = True) -> Any:
        if consistent:
            return self._inner.get_execution(execution_id)
        return self.replica.get(execution_id)

    def glance_execution(self, execution_id: str, *, consistent: bool = False) -> Any:
        if consistent:
            return self._inner.glance_execution(execution_id, consistent=True)
        rec = self.replica.get(execution_id)
        return None if rec is None else ExecutionGlance(rec.workflow, rec.status, rec.cancel_requested)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def once_app(calls: list[int]) -> App:
    # Declared steps are invoked asynchronously (not answered in-process: runtime/stepreply.py),
    # so a test can hold one in flight.
    app = App("header", step_reply_window=0)

    @app.step(timeout=30, retry=Retry(max_attempts=1))
    def charge(amount: int) -> int:
        calls.append(amount)
        return amount

    @app.workflow("pay")
    async def pay(ctx: Context, amount: int) -> int:
        return int(await ctx.step("charge", charge, amount))

    return app


@pytest.mark.parametrize("lagging", [False, True])
def test_the_first_step_of_a_new_execution_runs_even_if_the_replica_lags(lagging: bool) -> None:
    calls: list[int] = []
    with LocalCloud(once_app(calls), backend="memory") as cloud:
        replica = LaggingReplica(cloud.env.store)
        cloud.env.store = replica  # type: ignore[assignment]
        client = cloud.client()
        cloud.eager = False
        h = client.start("pay", 5)
        if not lagging:
            replica.replicate()
        while cloud._drain_queue():
            pass  # the start wake-up: the orchestrator dispatches the step (milliseconds later)
        inv = cloud._step_queue.popleft()
        step_handler.handle(inv.to_dict(), cloud.env, cloud._lambda_context(inv))  # replica not caught up yet
        replica.replicate()  # a second later it has
        for _ in range(20):
            if cloud._step_queue:
                inv = cloud._step_queue.popleft()
                step_handler.handle(inv.to_dict(), cloud.env, cloud._lambda_context(inv))
            elif not cloud._drain_queue():
                rec = cloud.store.get_execution(h.execution_id)
                if rec is None or rec.status != RUNNING:
                    break
                nxt = cloud.timers.peek(one_time_only=True)
                assert nxt is not None
                cloud.clock.set(nxt.at)
                fired = cloud.timers.pop_due(cloud.clock.now())
                assert fired is not None
                cloud._fire(fired)
        d = client.describe(h.execution_id)
        assert (d.status, calls) == ("SUCCEEDED", [5]), d.error
