"""LocalCloud (moto) makes the AWS calls AWS would serve for a workflow, and no idle polls of its own.

Issue 17: a sleep-then-wake execution made 24 moto calls, 9 of them LocalCloud's empty receives and
header polls. The emulator now receives from a queue only when its own sends (or a release) may have
left something there, reads the header only after a delivery, and ``Client.result`` takes the
driver's last read instead of reading again. A message sent to a queue from outside LocalCloud is
still delivered (``run_until_idle``'s rescan, and before ``result()`` gives up).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.errors import ExecutionFailedError
from stepbridge.handlers import orchestrator as orchestrator_handler
from stepbridge.infra.aws import AwsEffects
from stepbridge.infra.dynamodb import DynamoStore
from stepbridge.local import LocalCloud
from stepbridge.runtime.executions import request_cancel, start_execution

#: The floor of a one-hour sleep, start to result (issue 17's table in benchmarks/RESULTS.md): the client's
#: start (PutItem, SendMessage), the first invocation (receive, header and journal in one Query, sleep
#: record, timer, delete), the timer's message, the second invocation (receive, header, the log's next slot
#: (a GetItem: nothing new, ``load_journal_since(dense=True)``), status, delete) and the client's final read
#: (none while it sleeps: LocalCloud saw it suspend, local/suspended.py).
SLEEPER_CALLS = {
    "DynamoDB.PutItem": 3,
    "DynamoDB.GetItem": 3,
    "DynamoDB.Query": 1,
    "SQS.SendMessage": 2,
    "SQS.ReceiveMessage": 2,
    "SQS.DeleteMessage": 2,
    "Scheduler.CreateSchedule": 1,
}


def sleeper_app() -> App:
    app = App("calls")

    @app.workflow("noop")
    async def noop(ctx: Context) -> str:
        return "ok"

    @app.workflow("waiter")
    async def waiter(ctx: Context) -> str:
        event = await ctx.wait_for("Calls.ping", match={"key": "k"})
        return str(event["key"])

    @app.workflow("sleeper")
    async def sleeper(ctx: Context) -> str:
        await ctx.sleep(timedelta(hours=1))
        return "woke"

    return app


@contextmanager
def counting(cloud: LocalCloud) -> Iterator[Counter[str]]:
    """Every AWS API call any of the cloud's boto3 clients makes meanwhile, by ``Service.Operation``."""
    calls: Counter[str] = Counter()

    def count(model: Any = None, **_: Any) -> None:
        calls[f"{model.service_model.service_id}.{model.name}".replace(" ", "")] += 1

    clients = {id(c): c for c in (cloud.store.client, cloud._aws_effects.sqs, cloud._aws_effects.scheduler,
                                  cloud._aws_effects.events, cloud.resources.client("sqs"),
                                  cloud.resources.client("scheduler"))}
    for client in clients.values():
        client.meta.events.register("before-call", count)

    def service_call(op: str, received: int, seconds: float) -> None:
        calls[op] += 1  # the event source mappings' receives and deletes (local/servicequeues.py)

    cloud.resources.on_call = service_call
    try:
        yield calls
    finally:
        cloud.resources.on_call = None
        for client in clients.values():
            client.meta.events.unregister("before-call", count)


def test_sleep_then_wake_makes_only_the_calls_aws_would_serve() -> None:
    with LocalCloud(sleeper_app()) as cloud:
        client = cloud.client()
        assert client.start("noop").result() == "ok"  # warm: the clients exist
        with counting(cloud) as calls:
            assert client.start("sleeper", execution_id="s").result() == "woke"
        assert dict(calls) == SLEEPER_CALLS


#: A wait_for and its event, start to result: the orchestrator registers the waiter and looks back, the
#: client's PutEvents reaches the router through the router queue (EventBridge's send, receive, delete),
#: the router logs the event and wakes the waiter, and the orchestrator records the wait and ends.
WAITER_CALLS = {
    "DynamoDB.PutItem": 6,
    "DynamoDB.GetItem": 3,
    "DynamoDB.Query": 4,
    "DynamoDB.DeleteItem": 1,
    "EventBridge.PutEvents": 1,
    "SQS.SendMessage": 3,
    "SQS.ReceiveMessage": 3,
    "SQS.DeleteMessage": 3,
}


def test_wait_for_and_its_event_make_no_idle_receives_of_either_queue() -> None:
    with LocalCloud(sleeper_app()) as cloud:
        client = cloud.client()
        assert client.start("noop").result() == "ok"
        with counting(cloud) as calls:
            handle = client.start("waiter", execution_id="w")
            client.send_event("Calls.ping", {"key": "k"})
            assert handle.result() == "k"
        assert dict(calls) == WAITER_CALLS


def test_result_of_a_finished_execution_reads_its_header_once() -> None:
    with LocalCloud(sleeper_app()) as cloud:
        client = cloud.client()
        handle = client.start("noop", execution_id="n")
        with counting(cloud) as calls:
            assert handle.result() == "ok"
        assert dict(calls) == {"DynamoDB.GetItem": 1}


def test_a_wake_up_sent_from_outside_the_cloud_is_still_delivered() -> None:
    with LocalCloud(sleeper_app()) as cloud:
        # Another process's client (a CLI against the same queue): its send bypasses LocalCloud.
        outside = AwsEffects(cloud.resources.config, clock=cloud.clock.now)
        record, created = start_execution(cloud.store, outside, "noop", None, execution_id="from-outside")
        assert created and record.status == "RUNNING"
        assert cloud.client().result("from-outside") == "ok"  # result() rescans before it gives up
        start_execution(cloud.store, outside, "noop", None, execution_id="again")
        assert cloud.run_until_idle() == 1  # run_until_idle always receives from both queues
        assert cloud.client().describe("again").status == "SUCCEEDED"


def outside(cloud: LocalCloud) -> tuple[DynamoStore, AwsEffects]:
    """Another process's client (the operator CLI): its own store and effects on the same table and queues."""
    return (DynamoStore(cloud.store.table_name, client=cloud.store.client, clock=cloud.clock.now),
            AwsEffects(cloud.resources.config, clock=cloud.clock.now))


def test_a_cancel_from_another_client_while_it_sleeps_is_still_seen() -> None:
    with LocalCloud(sleeper_app()) as cloud:
        client = cloud.client()
        handle = client.start("sleeper", execution_id="s")
        store, effects = outside(cloud)
        request_cancel(store, effects, "s")  # header flag + a wake-up sent past LocalCloud
        with pytest.raises(ExecutionFailedError) as failed:
            handle.result()
        assert failed.value.status == "CANCELLED" and client.describe("s").status == "CANCELLED"


def test_an_execution_ended_by_a_handler_called_directly_is_read_before_the_clock_moves() -> None:
    """The skipped read (local/suspended.py) must not outlive a change made through the cloud's store: here a test
    runs the orchestrator handler itself on a cancel another client sent, and ``result()`` must answer at once,
    not after jumping the clock to the other execution's timer."""
    with LocalCloud(sleeper_app()) as cloud:
        client = cloud.client()
        handle = client.start("sleeper", execution_id="a")
        client.start("sleeper", execution_id="b")  # its timer, an hour ahead, stays pending
        store, effects = outside(cloud)
        request_cancel(store, effects, "a")
        records = cloud.resources.receive(10)
        assert [r["attributes"]["MessageGroupId"] for r in records] == ["a"]
        assert orchestrator_handler.handle({"Records": records}, cloud.env) == {"batchItemFailures": []}
        for record in records:
            cloud.resources.delete(record["receiptHandle"])
        before = cloud.now()
        with pytest.raises(ExecutionFailedError) as failed:
            handle.result()
        assert failed.value.status == "CANCELLED" and cloud.now() == before
        assert client.describe("b").status == "RUNNING"
