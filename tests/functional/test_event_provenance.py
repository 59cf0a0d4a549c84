"""``POST /events`` cannot spoof producers (issue 13): API events are stamped with their source and the
caller's identity, and ``wait_for(sources=/callers=)`` / ``app.on(sources=)`` accept only those producers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.compiler.template import compile_app
from stepbridge.errors import WorkflowDefinitionError
from stepbridge.local import LocalCloud

APPROVER = "arn:aws:sts::123456789012:assumed-role/Approver/maria"
INTRUDER = "arn:aws:iam::123456789012:user/mallory"

app = App("prov")


@app.workflow("open-wait")
async def open_wait(ctx: Context, e: dict[str, Any]) -> Any:
    return await ctx.wait_for("Approval.decided", match={"expenseId": e["id"]}, timeout=timedelta(hours=1),
                              default="timed out")


@app.workflow("own-only")
async def own_only(ctx: Context, e: dict[str, Any]) -> Any:
    return await ctx.wait_for("Approval.decided", match={"expenseId": e["id"]}, sources=["prov"],
                              timeout=timedelta(hours=1), default="timed out")


@app.workflow("approvers-only")
async def approvers_only(ctx: Context, e: dict[str, Any]) -> Any:
    return await ctx.wait_for("Approval.decided", match={"expenseId": e["id"]},
                              callers=["arn:aws:sts::123456789012:assumed-role/Approver/*"],
                              timeout=timedelta(hours=1), default="timed out")


@app.workflow("approve")
async def approve(ctx: Context, e: dict[str, Any]) -> None:
    await ctx.send("Approval.decided", {"expenseId": e["id"], "approved": True})


@app.workflow("from-crm")
async def from_crm(ctx: Context, detail: dict[str, Any]) -> Any:
    return detail


app.on("Customer.created", from_crm, sources=["crm"])


@pytest.fixture(params=["moto", "memory"])
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    with LocalCloud(app, backend=request.param) as c:
        yield c


def post(cloud: LocalCloud, body: dict[str, Any], caller: str | None = INTRUDER) -> Any:
    return cloud.http("POST", "/events", body=body, caller=caller)


SPOOF = {"type": "Approval.decided", "detail": {"expenseId": "e1", "approved": True}}


def test_reproduction_any_api_caller_resolves_an_unrestricted_wait(cloud):
    h = cloud.client().start("open-wait", {"id": "e1"})

    assert post(cloud, SPOOF).status_code == 202

    assert h.result() == {"expenseId": "e1", "approved": True}  # the default: any producer (documented)


def test_an_api_event_is_stamped_with_its_source_and_caller(cloud):
    post(cloud, {"type": "Thing.happened", "detail": {}})
    post(cloud, {"type": "Thing.happened", "detail": {}}, caller="jwt:user-7")

    iam, jwt = cloud.events
    assert (iam.source, iam.resources) == ("stepbridge.api", (f"stepbridge:caller/{INTRUDER}",))
    assert (jwt.source, jwt.resources) == ("stepbridge.api", ("stepbridge:caller/jwt:user-7",))


@pytest.mark.parametrize("source", ["prov", "stepbridge.client", "stepbridge", "aws.events"])
def test_an_api_caller_cannot_claim_the_apps_or_stepbridges_source(cloud, source):
    r = post(cloud, {**SPOOF, "source": source})

    assert r.status_code == 400
    assert r.json()["error"] == "bad_request"
    assert cloud.events == []


def test_the_caller_cannot_come_from_the_body(cloud):
    r = post(cloud, {**SPOOF, "resources": [f"stepbridge:caller/{APPROVER}"]})

    assert r.status_code == 400
    assert cloud.events == []


def test_a_wait_restricted_to_the_apps_own_source_ignores_api_events(cloud):
    client = cloud.client()
    h = client.start("own-only", {"id": "e1"})

    post(cloud, SPOOF)
    post(cloud, {**SPOOF, "source": "crm"})
    client.send_event("Approval.decided", SPOOF["detail"])  # stepbridge.client: not the app either
    assert client.describe(h.execution_id).status == "RUNNING"

    client.start("approve", {"id": "e1"}).result()  # the app's own workflow decides

    assert h.result() == {"expenseId": "e1", "approved": True}


def test_a_wait_restricted_to_callers_ignores_others_also_on_look_back(cloud):
    client = cloud.client()
    post(cloud, SPOOF, caller=INTRUDER)  # before the wait: looked back at, and refused
    h = client.start("approvers-only", {"id": "e1"})
    post(cloud, SPOOF, caller=None)  # no identity at all
    client.send_event("Approval.decided", SPOOF["detail"])
    assert client.describe(h.execution_id).status == "RUNNING"

    post(cloud, {**SPOOF, "detail": {"expenseId": "e1", "approved": "yes, by maria"}}, caller=APPROVER)

    assert h.result() == {"expenseId": "e1", "approved": "yes, by maria"}


def test_a_restricted_wait_still_times_out_when_only_spoofed_events_come(cloud):
    h = cloud.client().start("approvers-only", {"id": "e2"})
    post(cloud, {**SPOOF, "detail": {"expenseId": "e2", "approved": True}})

    cloud.advance(timedelta(hours=2))

    assert h.result() == "timed out"


def test_a_trigger_restricted_to_sources_starts_only_for_them(cloud):
    client = cloud.client()
    post(cloud, {"type": "Customer.created", "detail": {"id": "c1"}})
    assert client.list(workflow="from-crm") == []

    post(cloud, {"type": "Customer.created", "detail": {"id": "c2"}, "source": "crm"})

    [run] = client.list(workflow="from-crm")
    assert run.result == {"id": "c2"}


def test_the_trigger_rule_filters_on_source_in_the_template():
    template = compile_app(app).template
    rules = [r for r in template["Resources"].values() if r["Type"] == "AWS::Events::Rule"
             and r["Properties"]["EventPattern"].get("detail-type") == ["Customer.created"]]

    assert [r["Properties"]["EventPattern"]["source"] for r in rules] == [["crm"]]


@pytest.mark.parametrize("bad", [[], [""], "", [3]])
def test_bad_sources_or_callers_are_definition_errors(bad):
    with pytest.raises(WorkflowDefinitionError, match="sources"):
        App("x").on("A.b", "w", sources=bad)
