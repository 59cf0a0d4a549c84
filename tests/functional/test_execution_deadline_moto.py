"""``@app.workflow(timeout=)`` on moto (issue 14, item 6): the deadline fires mid-sleep, mid-declared-step,
mid-``wait_for`` and mid-child; the execution ends TIMED_OUT with its compensations run in reverse, its
children CANCELLED and nothing left pending (no Scheduler schedule, no waiter item, no PENDING callback);
one that ends first deletes its deadline schedule. TIMED_OUT through the HTTP API and the CLI too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from stepbridge import App, Context
from stepbridge.errors import ChildFailed
from stepbridge.local import LocalCloud
from stepbridge.runtime import keys

LOG: list[str] = []
RUNS: dict[str, int] = {}

# Declared steps are invoked asynchronously (not answered in-process: runtime/stepreply.py),
# so a test can hold one in flight.
app = App("deadlinefn", step_reply_window=0)


@app.step(timeout=600)
def slow_export(order: str) -> str:
    RUNS["export"] = RUNS.get("export", 0) + 1
    return f"exported {order}"


@app.step(timeout=30)
def refund(order: str) -> str:
    LOG.append(f"refund {order}")
    return f"refunded {order}"


async def _saga(ctx: Context, order: str, wait: Any) -> str:
    async with ctx.saga() as saga:
        await ctx.step("charge", lambda: LOG.append(f"charge {order}"))
        saga.compensate(refund, order, name="refund")
        await ctx.step("reserve", lambda: LOG.append(f"reserve {order}"))
        saga.compensate(lambda: LOG.append(f"release {order}"), name="release")
        await wait()
        await ctx.step("after", lambda: LOG.append("after"))
    return "done"


@app.workflow("sleepy", timeout=timedelta(hours=1))
async def sleepy(ctx: Context, order: str) -> str:
    return await _saga(ctx, order, lambda: ctx.sleep(timedelta(days=2)))


@app.workflow("exporting", timeout=300)
async def exporting(ctx: Context, order: str) -> str:
    return await _saga(ctx, order, lambda: ctx.step("export", slow_export, order))


@app.workflow("waiting", timeout=timedelta(hours=1))
async def waiting(ctx: Context, order: str) -> str:
    async def wait() -> None:
        cb = await ctx.callback("bank", timeout=timedelta(days=1))
        await ctx.gather(ctx.wait_for("Approval.decided", match={"order": order}, timeout=timedelta(days=5)),
                         cb.result())

    return await _saga(ctx, order, wait)


@app.workflow("child-sleeps")
async def child_sleeps(ctx: Context, order: str) -> str:
    async with ctx.saga() as saga:
        await ctx.step("child-charge", lambda: LOG.append(f"child charge {order}"))
        saga.compensate(lambda: LOG.append(f"child refund {order}"), name="child-refund")
        await ctx.sleep(timedelta(days=3))
    return "child done"


@app.workflow("parent", timeout=timedelta(hours=1))
async def parent(ctx: Context, order: str) -> str:
    try:
        return str(await ctx.child("child-sleeps", order))
    except ChildFailed as exc:  # never: the parent's own deadline unwinds it (the child is CANCELLED)
        return exc.status


@app.workflow("quick", timeout=timedelta(hours=1))
async def quick(ctx: Context, order: str) -> str:
    await ctx.sleep(timedelta(minutes=10))
    return f"quick {order}"


STACK = "deadline-stack"


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    LOG.clear()
    RUNS.clear()
    with LocalCloud(app, start=datetime.now(UTC).replace(microsecond=0)) as c:
        yield c


def schedules(cloud: LocalCloud) -> list[str]:
    """The one-time schedules left in the app's timer group in moto's Scheduler."""
    scheduler = boto3.client("scheduler", region_name="us-east-1")
    group = cloud.resources.config.schedule_group
    return [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]


def assert_timed_out_and_clean(cloud: LocalCloud, execution_id: str) -> None:
    desc = cloud.client().describe(execution_id)
    assert desc.status == "TIMED_OUT"
    assert desc.error["type"] == "stepbridge.errors.ExecutionTimedOut" and desc.deadline in desc.error["message"]
    # Nothing pending on the timer wheel (moto keeps fired schedules: it has no ActionAfterCompletion DELETE).
    assert [t for t in cloud.timers.pending() if t.schedule is None] == []
    assert cloud.store.query_items("WAIT#Approval.decided") == []
    assert cloud.client().history(execution_id)[-1].detail_type == "Workflow.timed_out"


def test_deadline_mid_sleep_compensates_in_reverse(cloud: LocalCloud) -> None:
    h = cloud.client().start("sleepy", "o-1")
    assert keys.deadline_timer_name(h.execution_id) in schedules(cloud)  # a real Scheduler schedule
    cloud.advance(timedelta(hours=1, minutes=1))
    cloud.run_until_complete(h.execution_id)
    assert_timed_out_and_clean(cloud, h.execution_id)
    assert LOG == ["charge o-1", "reserve o-1", "release o-1", "refund o-1"]


def test_deadline_mid_declared_step(cloud: LocalCloud) -> None:
    cloud.eager = False
    h = cloud.client().start("exporting", "o-2")
    cloud._drain_queue()
    in_flight = list(cloud._step_queue)
    assert [i.op for i in in_flight] == ["export"]
    cloud._step_queue.clear()
    cloud.advance(timedelta(minutes=6))
    cloud.run_until_complete(h.execution_id)
    assert_timed_out_and_clean(cloud, h.execution_id)
    cloud._step_queue.extend(in_flight)
    cloud.run_until_idle()
    assert RUNS == {} and LOG == ["charge o-2", "reserve o-2", "release o-2", "refund o-2"]


def test_deadline_mid_wait_for_and_callback_leaves_no_waiter_and_no_pending_callback(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("waiting", "o-3")
    assert cloud.store.query_items("WAIT#Approval.decided") != []
    token = next(r.data["result"]["token"] for r in cloud.store.load_journal(h.execution_id) if r.key == "bank")
    cloud.advance(timedelta(hours=2))
    assert_timed_out_and_clean(cloud, h.execution_id)
    item = cloud.store.get_item(*keys.callback_key(token))
    assert item is not None and item.body["status"] == "CANCELLED"
    r = cloud.http("POST", f"/callbacks/{token}/success", body={"result": 1})
    assert r.status_code == 409 and "its execution ended TIMED_OUT" in r.json()["message"]
    assert LOG == ["charge o-3", "reserve o-3", "release o-3", "refund o-3"]


def test_deadline_mid_child_cancels_the_child(cloud: LocalCloud) -> None:
    client = cloud.client()
    client.start("parent", "o-4", execution_id="p-4")
    child = "p-4.child:child-sleeps"
    cloud.advance(timedelta(hours=1, minutes=1))
    cloud.run_until_complete(child)
    assert_timed_out_and_clean(cloud, "p-4")
    assert client.describe(child).status == "CANCELLED"
    assert LOG == ["child charge o-4", "child refund o-4"]
    assert [t for t in cloud.timers.pending() if t.schedule is None] == []  # the child's sleep too


def test_finishing_before_the_deadline_deletes_its_schedule(cloud: LocalCloud) -> None:
    h = cloud.client().start("quick", "o-5")
    assert keys.deadline_timer_name(h.execution_id) in schedules(cloud)
    cloud.advance(timedelta(minutes=11))
    assert h.result() == "quick o-5"
    assert keys.deadline_timer_name(h.execution_id) not in schedules(cloud)  # deleted before it fired
    assert [t for t in cloud.timers.pending() if t.schedule is None] == []


def test_timed_out_over_http_and_the_cli(cloud: LocalCloud, capsys: pytest.CaptureFixture[str]) -> None:
    from stepbridge import cli

    client = cloud.client()
    h = client.start("sleepy", "o-6", execution_id="s-6")
    client.start("quick", "o-7", execution_id="q-7")
    cloud.advance(timedelta(hours=2))
    r = cloud.http("GET", "/executions/s-6")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "TIMED_OUT" and body["error"]["type"] == "stepbridge.errors.ExecutionTimedOut"
    assert body["deadline"] == client.describe("s-6").deadline

    config = cloud.resources.config
    outputs = {"TableName": config.table, "EventBusName": config.bus, "WorkQueueUrl": config.queue_url,
               "WorkQueueArn": config.queue_arn, "TimerScheduleGroup": config.schedule_group,
               "SchedulerRoleArn": config.scheduler_role_arn}
    template = {"Resources": {"Marker": {"Type": "AWS::SSM::Parameter",
                                         "Properties": {"Name": "/d/marker", "Type": "String", "Value": "x"}}},
                "Outputs": {k: {"Value": v} for k, v in outputs.items()}}
    boto3.client("cloudformation", region_name="us-east-1").create_stack(
        StackName=STACK, TemplateBody=json.dumps(template))
    assert cli.main(["executions", "list", "--stack", STACK, "--status", "timed_out", "--json"]) == 0
    assert [d["execution_id"] for d in json.loads(capsys.readouterr().out)] == ["s-6"]
    assert cli.main(["executions", "show", "s-6", "--stack", STACK]) == 0
    out = capsys.readouterr().out
    assert "TIMED_OUT" in out and "ExecutionTimedOut" in out
    del h
