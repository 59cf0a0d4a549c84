"""Issue 13, the last gap: a bus event the router fails a few times in a row is not lost.

Before: the rules invoked the router asynchronously; Lambda retried a failed invocation twice and
then sent the event to ``RouterDeadLetterQueue`` - three failures in a row (the soak's seed 4 at
10 % faults, ``poked:poked-87``) and the triggered run never started without a manual redrive.
Now the rules target an SQS queue (``RouterQueue``) the router consumes with batch item failures;
an event is retried until ``maxReceiveCount`` receives (``ROUTER_MAX_RECEIVES``) before it is
dead-lettered (docs/RELIABILITY.md, "The router's queue").
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.config import ROUTER_MAX_RECEIVES
from stepbridge.local import LocalCloud
from stepbridge.local.faults import Fault, FaultPlan


def poke_app() -> App:
    app = App("pokes")

    @app.workflow("poked")
    async def poked(ctx: Context, data: dict[str, Any]) -> str:
        return f"poked {data['n']}"

    app.on("Thing.poked", poked)
    return app


def _throttle_trigger_start(times: int) -> list[Fault]:
    """The router's trigger delivery fails ``times`` deliveries in a row (its header write is throttled)."""
    return [Fault("throttle.dynamodb", target="router", method="create_execution", nth=n) for n in range(1, times + 1)]


def _runs(cloud: LocalCloud) -> list[Any]:
    return cloud.client().list(workflow="poked")


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_trigger_event_the_router_fails_three_times_in_a_row_still_starts_its_run(backend: str) -> None:
    """The reproduction: three failed deliveries used to dead-letter the event and lose the run."""
    with LocalCloud(poke_app(), backend=backend, faults=FaultPlan(script=_throttle_trigger_start(3))) as cloud:
        cloud.client().send_event("Thing.poked", {"n": 87})
        assert cloud.faults is not None and cloud.faults.injected["throttle.dynamodb"] == 3
        assert cloud.router_dead_letters() == []
        (run,) = _runs(cloud)
        assert cloud.client().describe(run.execution_id).result == "poked 87"
        # the fourth receive of the trigger's message started it
        assert cloud.router_receives["trigger"] == 4


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_a_poison_event_is_dead_lettered_after_max_receives_and_never_loops(backend: str) -> None:
    """An event that fails every time ends in RouterDeadLetterQueue after exactly maxReceiveCount tries."""
    plan = FaultPlan(script=_throttle_trigger_start(ROUTER_MAX_RECEIVES + 5))
    with LocalCloud(poke_app(), backend=backend, faults=plan) as cloud:
        cloud.client().send_event("Thing.poked", {"n": 1})
        cloud.advance(3600)
        assert cloud.faults is not None and cloud.faults.injected["throttle.dynamodb"] == ROUTER_MAX_RECEIVES
        (letter,) = cloud.router_dead_letters()
        assert letter["trigger"] and letter["event"]["detail"] == {"n": 1}  # the message body, as SQS keeps it
        assert _runs(cloud) == []
        # the operator's redrive (after the alarm) hands it back to the router queue; the last
        # 5 scripted faults fail it 5 more times, then it runs
        assert cloud.redrive() == 1
        assert cloud.router_dead_letters() == []
        (run,) = _runs(cloud)
        assert cloud.client().describe(run.execution_id).result == "poked 1"


def test_a_router_container_crash_returns_the_whole_batch_and_counts_a_receive() -> None:
    """A crash is no batch item failure: every message of the batch comes back, each receive counted."""
    crash = Fault("crash.before_write", target="router", method="create_execution", nth=1)
    with LocalCloud(poke_app(), backend="memory", faults=FaultPlan(script=[crash])) as cloud:
        cloud.client().send_event("Thing.poked", {"n": 2})
        assert cloud.crashes["router"] == 1
        (run,) = _runs(cloud)
        assert cloud.client().describe(run.execution_id).result == "poked 2"
        assert cloud.router_receives["trigger"] == 2 and cloud.router_dead_letters() == []


def test_the_router_reports_only_the_failed_records_of_a_batch() -> None:
    """``ReportBatchItemFailures``: one record's infrastructure failure does not redeliver its batch-mates."""
    from stepbridge.handlers import router as router_handler

    plan = FaultPlan(script=[Fault("throttle.dynamodb", target="router", method="create_execution", nth=2)])
    with LocalCloud(poke_app(), backend="memory", faults=plan) as cloud:
        assert cloud.faults is not None

        def record(n: int, message_id: str) -> dict[str, Any]:
            event = {"version": "0", "id": f"ev-{n}", "detail-type": "Thing.poked", "source": "test",
                     "account": "123456789012", "time": "2026-01-05T08:00:00Z", "region": "us-east-1",
                     "resources": [], "detail": {"n": n}}
            body = {"trigger": cloud.app.triggers[0].name, "event": event}
            return {"messageId": message_id, "receiptHandle": message_id, "body": json.dumps(body),
                    "attributes": {"ApproximateReceiveCount": "1"}, "eventSource": "aws:sqs"}

        with cloud.faults.invocation("router"):
            result = router_handler.handle({"Records": [record(1, "m1"), record(2, "m2"), record(3, "m3")]},
                                           cloud.env)
        assert result == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
        cloud.run_until_idle()
        assert sorted(str(cloud.client().describe(r.execution_id).result) for r in _runs(cloud)) == [
            "poked 1", "poked 3"]


def test_a_record_that_is_not_an_eventbridge_event_is_dropped_once_without_a_batch_failure() -> None:
    """It can never succeed: reporting it would only redeliver it until the dead-letter queue."""
    from stepbridge.handlers import router as router_handler

    with LocalCloud(poke_app(), backend="memory") as cloud:
        records = [{"messageId": "m1", "receiptHandle": "m1", "body": "Hello from SQS!", "eventSource": "aws:sqs"},
                   {"messageId": "m2", "receiptHandle": "m2", "body": json.dumps({"trigger": "x", "event": {}}),
                    "eventSource": "aws:sqs"}]
        assert router_handler.handle({"Records": records}, cloud.env) == {"batchItemFailures": []}
        assert _runs(cloud) == []
