"""Service limits through LocalCloud's moto backend: a clear error naming what is too big, nothing half-done.

* a step result over DynamoDB's 400 KB item limit fails the execution naming the step, without retries;
* ``ctx.send`` of a 300 KB detail fails with ``PayloadTooLarge`` naming the event, nothing published;
* ``client.send_event`` of a 300 KB detail raises ``PayloadTooLarge`` before anything is sent;
* a workflow input over 400 KB raises ``PayloadTooLarge`` at ``start``: no execution, no message.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from stepbridge import App, Context, PayloadTooLarge, Retry
from stepbridge.local import LocalCloud

# These pin the limits of a function without a payload bucket; claim checks: tests/unit/test_payloads.py.
pytestmark = pytest.mark.usefixtures("without_payload_bucket")

RUNS: Counter[str] = Counter()
BIG = "x" * (410 * 1024)  # over DynamoDB's 400 KB item limit
MEDIUM = "y" * (300 * 1024)  # over stepbridge's 256 KB event cap, under DynamoDB's item limit


def limits_app() -> App:
    app = App("limits")

    @app.step(timeout=30, retry=Retry(max_attempts=4, backoff="fixed", initial_delay=1))
    def export(n: int) -> str:
        RUNS["export"] += 1
        return BIG

    def export_inline() -> str:
        RUNS["inline"] += 1
        return BIG

    @app.workflow("declared-big-result")
    async def declared_big_result(ctx: Context) -> Any:
        return await ctx.step("export-report", export, 1)

    @app.workflow("inline-big-result")
    async def inline_big_result(ctx: Context) -> Any:
        return await ctx.step("build-report", export_inline, retry=Retry(max_attempts=4, initial_delay=1))

    @app.workflow("big-event")
    async def big_event(ctx: Context) -> Any:
        await ctx.send("Report.ready", {"report": MEDIUM})
        return "sent"

    @app.workflow("caught-big-event")
    async def caught_big_event(ctx: Context) -> Any:
        try:
            await ctx.send("Report.ready", {"report": MEDIUM})
        except PayloadTooLarge as exc:
            await ctx.send("Report.ready", {"report": "s3://bucket/report.json"})
            return f"sent a reference instead ({type(exc).__name__})"
        return "sent"

    @app.workflow("echo")
    async def echo(ctx: Context, data: Any) -> Any:
        return "ok"

    return app


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    RUNS.clear()
    with LocalCloud(limits_app()) as c:  # moto: real DynamoDB, SQS, EventBridge limits checks
        yield c


@pytest.mark.parametrize(
    ("workflow", "op", "counter"),
    [("declared-big-result", "export-report", "export"), ("inline-big-result", "build-report", "inline")],
)
def test_step_result_over_400_kb_fails_the_execution_naming_the_step_without_retries(
    cloud: LocalCloud, workflow: str, op: str, counter: str
) -> None:
    client = cloud.client()
    h = client.start(workflow)
    cloud.run_until_complete(h.execution_id)
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED"
    assert desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
    assert f"the result of step '{op}'" in desc.error["message"] and "400 KB" in desc.error["message"]
    assert RUNS[counter] == 1  # not retried: retrying cannot make it smaller
    history = [e.detail_type for e in client.history(h.execution_id)]
    assert "Step.retry_scheduled" not in history and "Step.failed" in history


def test_ctx_send_of_a_300_kb_detail_is_payload_too_large_and_publishes_nothing(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("big-event")
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
    assert "event 'Report.ready'" in desc.error["message"] and "256 KB" in desc.error["message"]
    assert [e.detail_type for e in cloud.events if e.detail_type == "Report.ready"] == []


def test_workflow_can_catch_payload_too_large_and_send_a_reference(cloud: LocalCloud) -> None:
    client = cloud.client()
    assert client.start("caught-big-event").result() == "sent a reference instead (PayloadTooLarge)"
    assert [e.detail for e in cloud.events if e.detail_type == "Report.ready"] == [
        {"report": "s3://bucket/report.json"}
    ]


def test_client_send_event_of_300_kb_raises_before_anything_is_sent(cloud: LocalCloud) -> None:
    client = cloud.client()
    before = len(cloud.events)
    with pytest.raises(PayloadTooLarge, match=r"Report\.ready.*256 KB"):
        client.send_event("Report.ready", {"report": MEDIUM})
    assert len(cloud.events) == before
    assert cloud.store.query_items("EVT#Report.ready") == []  # the router never saw it


def test_workflow_input_over_400_kb_is_refused_at_start(cloud: LocalCloud) -> None:
    client = cloud.client()
    with pytest.raises(PayloadTooLarge, match=r"execution 'too-big'.*400 KB"):
        client.start("echo", {"blob": BIG}, execution_id="too-big")
    assert client.list() == []
    assert cloud.resources.queue_depth() == 0 and cloud.dead_letters() == []
    assert client.start("echo", {"blob": "small"}, execution_id="too-big").result() == "ok"  # the id is still free
