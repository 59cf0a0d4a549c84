"""``client.cancel(id, compensate=True)`` on moto: the unwinding is deterministic (the cut, ``cancelled_at``).

Outside compensations the unwinding replays see the journal and the clock as they were when the cancel was
first handled: a step that was already running and reports, or an awaited event that arrives, while a
declared compensation is in flight does not move the workflow past where it was stopped (which registered a
new compensation before the recorded one and failed the replay with NonDeterminismError: the remaining
compensations never ran). A cancel without compensation stores its header exactly as before.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from stepbridge import App, Context
from stepbridge.handlers import step as step_handler
from stepbridge.infra.tableformat import execution_key
from stepbridge.local import LocalCloud
from stepbridge.runtime.records import parse_iso

LOG: list[str] = []

# Declared steps are invoked asynchronously (not answered in-process: runtime/stepreply.py),
# so a test can hold one in flight.
app = App("cancelcut", step_reply_window=0)


@app.step(timeout=600)
def export(order: str) -> str:
    LOG.append(f"export {order}")
    return f"exported {order}"


@app.step(timeout=30)
def refund(order: str) -> str:
    LOG.append(f"refund {order}")
    return f"refunded {order}"


@app.workflow("exporting")
async def exporting(ctx: Context, order: str) -> str:
    async with ctx.saga() as saga:
        await ctx.step("charge", lambda: LOG.append(f"charge {order}"))
        saga.compensate(refund, order, name="refund")  # a declared compensation step
        await ctx.step("export", export, order)
        saga.compensate(lambda: LOG.append(f"delete export {order}"), name="delete-export")
        await ctx.step("after", lambda: LOG.append("after"))
    return "done"


@app.workflow("approval")
async def approval(ctx: Context, order: str) -> str:
    async with ctx.saga() as saga:
        await ctx.step("charge", lambda: LOG.append(f"charge {order}"))
        saga.compensate(refund, order, name="refund")
        await ctx.wait_for("Approval.decided", match={"order": order}, timeout=timedelta(days=5))
        saga.compensate(lambda: LOG.append(f"undo approval {order}"), name="undo-approval")
        await ctx.step("after", lambda: LOG.append("after the wait"))
    return "done"


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    LOG.clear()
    with LocalCloud(app, start=datetime.now(UTC).replace(microsecond=0)) as c:
        yield c


def drain(cloud: LocalCloud) -> None:
    while cloud._drain_queue():
        pass


def stored_header(cloud: LocalCloud, execution_id: str) -> dict[str, Any]:
    """The execution header's body as stored in moto's DynamoDB table."""
    pk, sk = execution_key(execution_id)
    item = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName=cloud.resources.config.table, Key={"pk": {"S": pk}, "sk": {"S": sk}}
    )["Item"]
    body: dict[str, Any] = json.loads(item["body"]["S"])
    return body


def cancel_with_refund_in_flight(cloud: LocalCloud, execution_id: str) -> list[Any]:
    """Cancel with compensation; return the declared compensation's invoke, dispatched but not run yet."""
    handled = cloud.now()
    cloud.client().cancel(execution_id, compensate=True)
    drain(cloud)
    refunds = list(cloud._step_queue)
    assert [i.op for i in refunds] == ["refund"]
    cloud._step_queue.clear()
    header = stored_header(cloud, execution_id)
    assert header["status"] == "RUNNING" and parse_iso(header["cancelled_at"]) == handled  # the cut
    return refunds


def test_a_running_step_reporting_while_the_refund_is_in_flight_changes_nothing(cloud: LocalCloud) -> None:
    cloud.eager = False
    h = cloud.client().start("exporting", "o-1")
    drain(cloud)
    running = list(cloud._step_queue)  # export's Lambda started before the cancel
    assert [i.op for i in running] == ["export"]
    cloud._step_queue.clear()
    refunds = cancel_with_refund_in_flight(cloud, h.execution_id)
    late = dataclasses.replace(running[0], compensation=True)  # past the worker's start check already
    cloud.clock.set(cloud.now() + timedelta(seconds=1))
    step_handler.handle(late.to_dict(), cloud.env, cloud._lambda_context(late))
    drain(cloud)
    assert cloud.client().describe(h.execution_id).status == "RUNNING"
    cloud._step_queue.extend(refunds)
    cloud.run_until_complete(h.execution_id)
    desc = cloud.client().describe(h.execution_id)
    assert desc.status == "CANCELLED", desc.error  # was FAILED (NonDeterminismError)
    assert LOG == ["charge o-1", "export o-1", "refund o-1"]  # "delete export" was never registered
    assert cloud.client().history(h.execution_id)[-1].detail_type == "Workflow.cancelled"


def test_an_event_arriving_while_the_refund_is_in_flight_changes_nothing(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("approval", "o-2")
    cloud.eager = False
    refunds = cancel_with_refund_in_flight(cloud, h.execution_id)
    cloud.clock.set(cloud.now() + timedelta(seconds=1))
    client.send_event("Approval.decided", {"order": "o-2"})  # the awaited event arrives a second later
    cloud.run_until_idle()
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud._step_queue.extend(refunds)
    cloud.run_until_complete(h.execution_id)
    assert client.describe(h.execution_id).status == "CANCELLED"
    assert LOG == ["charge o-2", "refund o-2"]  # the wait stays where it was stopped: nothing after it
    assert cloud.store.query_items("WAIT#Approval.decided") == []
    assert [t for t in cloud.timers.pending() if t.schedule is None] == []


def test_a_cancel_without_compensation_stores_its_header_as_before(cloud: LocalCloud) -> None:
    h = cloud.client().start("approval", "o-3")
    before = stored_header(cloud, h.execution_id)
    cloud.client().cancel(h.execution_id)
    after = stored_header(cloud, h.execution_id)
    assert after["status"] == "CANCELLED" and LOG == ["charge o-3"]  # no compensation ran
    assert set(after) == set(before) and "cancelled_at" not in after  # no cut: the same fields as before
