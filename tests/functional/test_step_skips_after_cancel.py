"""A declared step whose execution was cancelled while its invoke was queued does not run
(runtime/stepworker.py: the advisory check, ``Store.glance_execution``).

The check reads the header's status, workflow and ``cancel`` attribute by projection, without the
body (which holds the input): on moto the projection goes through DynamoDB's ``GetItem``, in memory
through the same attributes. A step not cancelled runs; one whose execution is cancelled before the
step's Lambda starts is skipped, and its function is never called.
"""

from __future__ import annotations

import pytest

from stepbridge import App, Context, Retry
from stepbridge.handlers import step as step_handler
from stepbridge.local import LocalCloud


def charge_app(calls: list[int]) -> App:
    # Declared steps invoked asynchronously (runtime/stepreply.py answers in-process otherwise), so the
    # test holds the invoke in the queue.
    app = App("skip", step_reply_window=0)

    @app.step(timeout=30, retry=Retry(max_attempts=1))
    def charge(amount: int) -> int:
        calls.append(amount)
        return amount

    @app.workflow("pay")
    async def pay(ctx: Context, amounts: list[int]) -> int:
        return int(await ctx.step("charge", charge, amounts[0]))

    return app


@pytest.mark.parametrize("backend", ["memory", "moto"])
@pytest.mark.parametrize("cancel", [False, True])
def test_a_queued_step_of_a_cancelled_execution_is_skipped(backend: str, cancel: bool) -> None:
    calls: list[int] = []
    with LocalCloud(charge_app(calls), backend=backend) as cloud:
        client = cloud.client()
        cloud.eager = False
        h = client.start("pay", list(range(7, 1007)))  # a large input: the glance leaves it behind
        while cloud._drain_queue():
            pass  # the start wake-up: the orchestrator dispatches the step
        (invocation,) = list(cloud._step_queue)
        cloud._step_queue.clear()
        if cancel:
            client.cancel(h.execution_id)  # the orchestrator has not handled it yet: still RUNNING
            assert client.describe(h.execution_id).status == "RUNNING"
        out = step_handler.handle(invocation.to_dict(), cloud.env, cloud._lambda_context(invocation))
        assert out["outcome"] == ("skipped" if cancel else "result")
        assert calls == ([] if cancel else [7])
        cloud.eager = True
        cloud.run_until_complete(h.execution_id)
        assert client.describe(h.execution_id).status == ("CANCELLED" if cancel else "SUCCEEDED")
        assert calls == ([] if cancel else [7])
