"""ctx.set_status (issue 14, item 7): describe(id).custom_status, GET /executions/{id}, executions show."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.operator.console import executions_show

app = App("statuses")


@app.workflow("review")
async def review(ctx: Context, doc: str) -> str:
    await ctx.set_status({"stage": "drafting", "doc": doc})
    await ctx.sleep(timedelta(hours=1))
    await ctx.set_status({"stage": "review"})
    await ctx.sleep(timedelta(hours=1))
    return "done"


@app.workflow("chatty")
async def chatty(ctx: Context, n: int) -> None:
    await ctx.set_status("x" * n)


@pytest.fixture(params=["memory", "moto"])
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    with LocalCloud(app, backend=request.param) as c:
        yield c


def test_the_latest_status_shows_in_describe_the_api_and_the_console(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("review", "d-1")
    assert client.describe(h.execution_id).custom_status == {"stage": "drafting", "doc": "d-1"}
    cloud.advance(timedelta(minutes=61))
    assert client.describe(h.execution_id).custom_status == {"stage": "review"}
    reply = cloud.http("GET", f"/executions/{h.execution_id}")
    assert reply.status_code == 200 and reply.json()["custom_status"] == {"stage": "review"}
    lines: list[str] = []
    assert executions_show(client, h.execution_id, lines.append, as_json=False, mermaid=False) == 0
    assert 'status {"stage": "review"}' in "\n".join(lines)
    lines.clear()
    executions_show(client, h.execution_id, lines.append, as_json=True, mermaid=False)
    doc = json.loads(lines[0])
    assert doc["execution"]["custom_status"] == doc["timeline"]["custom_status"] == {"stage": "review"}
    cloud.advance(timedelta(minutes=61))
    assert h.result() == "done"
    statuses = [e.detail for e in client.history(h.execution_id) if e.detail_type == "Workflow.status"]
    assert [s.get("status") for s in statuses] == [{"stage": "drafting", "doc": "d-1"}, {"stage": "review"}]


def test_a_status_over_4_kb_fails_the_execution_naming_the_limit(cloud: LocalCloud) -> None:
    client = cloud.client()
    ok = client.start("chatty", 4096 - 2)
    assert ok.result() is None and client.describe(ok.execution_id).custom_status == "x" * 4094
    h = client.start("chatty", 4096)
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED" and desc.custom_status is None
    assert desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
    assert "custom status of execution" in desc.error["message"] and "4,096-byte limit" in desc.error["message"]


def test_without_set_status_custom_status_is_none(cloud: LocalCloud) -> None:
    h: Any = cloud.client().start("chatty", 0)
    assert cloud.client().describe(h.execution_id).custom_status == ""
