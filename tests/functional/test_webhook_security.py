"""Webhook hardening (issue 13, "Webhooks"): empty secrets refused, execution ids scoped by route and
event type when the event id is taken, replay protection of HMAC deliveries without a timestamp."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.errors import WorkflowDefinitionError
from stepbridge.local import LocalCloud
from stepbridge.runtime.webhooks import hmac_signature, stripe_signature

PARAM = "/wsec/secret"
SECRET = "whsec_wsec"

app = App("wsec")


@app.workflow("on-created")
async def on_created(ctx: Context, payload: dict[str, Any]) -> str:
    return f"created {payload['id']}"


@app.workflow("on-deleted")
async def on_deleted(ctx: Context, payload: dict[str, Any]) -> str:
    return f"deleted {payload['id']}"


@app.workflow("paid")
async def paid(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    return data


app.webhook("/hooks/resources", provider="hmac", secret_param=PARAM,
            route={"created": on_created, "deleted": on_deleted})
app.webhook("/hooks/mirror", provider="hmac", secret_param=PARAM, workflow=on_created)
app.webhook("/hooks/stripe", provider="stripe", secret_param=PARAM, route={"payment_intent.succeeded": paid})


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(app) as c:
        c.set_secret(PARAM, SECRET)
        yield c


def post_hmac(cloud: LocalCloud, path: str, payload: dict[str, Any]) -> Any:
    body = json.dumps(payload).encode()
    return cloud.http("POST", path, body=body, headers={"X-Signature": hmac_signature(SECRET, body)})


def results(cloud: LocalCloud) -> dict[str, Any]:
    return {d.execution_id: d.result for d in cloud.client().list()}


# ---- empty secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "   ", "\n"])
def test_an_empty_literal_secret_is_refused_at_definition(secret):
    with pytest.raises(WorkflowDefinitionError, match="secret= is empty"):
        App("x").webhook("/h", provider="stripe", secret=secret, workflow="w")


@pytest.mark.parametrize("value", [" ", "\t"])
def test_an_empty_secret_in_ssm_is_a_500_naming_no_parameter_and_starts_nothing(cloud, value):
    cloud.set_secret(PARAM, value)  # SSM refuses "" itself; a blank value is the runtime equivalent
    body = json.dumps({"id": "evt_e", "type": "payment_intent.succeeded", "data": {}}).encode()
    forged = stripe_signature(value, body, cloud.now())  # anyone can compute this one

    r = cloud.http("POST", "/hooks/stripe", body=body, headers={"Stripe-Signature": forged})

    assert r.status_code == 500
    assert r.json()["error"] == "secret_missing"
    assert PARAM not in r.body
    assert cloud.client().list() == []


# ---- execution ids scoped by route and type ----------------------------------------------------------


def test_same_id_with_another_event_type_starts_its_own_execution(cloud):
    assert post_hmac(cloud, "/hooks/resources", {"id": "res-1", "type": "created"}).status_code == 200

    r = post_hmac(cloud, "/hooks/resources", {"id": "res-1", "type": "deleted"})

    assert r.status_code == 200, r.body  # was 409 execution_exists
    runs = results(cloud)
    assert runs["res-1"] == "created res-1"  # the event id is the execution id when it is free
    [scoped] = [i for i in runs if i != "res-1"]
    assert scoped.startswith("wh-") and scoped.endswith("-res-1")
    assert runs[scoped] == "deleted res-1"


def test_redeliveries_of_both_events_start_nothing_new(cloud):
    for _ in range(3):
        for kind in ("created", "deleted"):
            assert post_hmac(cloud, "/hooks/resources", {"id": "res-2", "type": kind}).status_code == 200
        cloud.advance(timedelta(minutes=5))

    assert sorted(results(cloud).values()) == ["created res-2", "deleted res-2"]


def test_same_id_on_another_route_starts_its_own_execution(cloud):
    post_hmac(cloud, "/hooks/resources", {"id": "res-3", "type": "created"})

    r = post_hmac(cloud, "/hooks/mirror", {"id": "res-3", "type": "created", "copy": True})

    assert r.status_code == 200
    assert len(results(cloud)) == 2


def test_an_event_id_equal_to_a_client_started_execution_is_not_a_409(cloud):
    cloud.client().start("paid", {"mine": True}, execution_id="evt_42").result()
    body = json.dumps({"id": "evt_42", "type": "payment_intent.succeeded", "data": {"amount": 5}}).encode()
    headers = {"Stripe-Signature": stripe_signature(SECRET, body, cloud.now())}

    first = cloud.http("POST", "/hooks/stripe", body=body, headers=headers)
    again = cloud.http("POST", "/hooks/stripe", body=body, headers=headers)

    assert first.status_code == again.status_code == 200, first.body
    runs = results(cloud)
    assert runs["evt_42"] == {"mine": True}  # the client's execution is untouched
    assert sorted(map(json.dumps, runs.values())) == sorted(map(json.dumps, [{"mine": True}, {"amount": 5}]))


# ---- replay protection without X-Timestamp -----------------------------------------------------------


def test_an_hmac_delivery_without_timestamp_replayed_months_later_starts_nothing_new(cloud):
    body = json.dumps({"id": "pay-9", "type": "created"}).encode()
    headers = {"X-Signature": hmac_signature(SECRET, body)}
    assert cloud.http("POST", "/hooks/resources", body=body, headers=headers).status_code == 200

    cloud.advance(timedelta(days=90))
    replayed = cloud.http("POST", "/hooks/resources", body=body, headers=headers)

    assert replayed.status_code == 200
    assert list(results(cloud).values()) == ["created pay-9"]


def test_an_hmac_delivery_with_a_stale_timestamp_is_401(cloud):
    body = json.dumps({"id": "pay-10", "type": "created"}).encode()
    t = int(cloud.now().timestamp())
    headers = {"X-Signature": hmac_signature(SECRET, body, timestamp=t), "X-Timestamp": str(t)}
    cloud.advance(timedelta(seconds=301))

    r = cloud.http("POST", "/hooks/resources", body=body, headers=headers)

    assert r.status_code == 401
    assert cloud.client().list() == []
