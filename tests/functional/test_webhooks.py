"""Webhooks through LocalCloud's HTTP API: Stripe and generic HMAC signatures, routing by event
type, idempotent starts by event id, secrets from (moto) SSM, tolerance on the virtual clock."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from stepbridge import App, Context
from stepbridge.handlers import api
from stepbridge.local import LocalCloud
from stepbridge.runtime.executions import check_execution_id
from stepbridge.runtime.webhooks import hmac_signature, stripe_signature

EVENTS = Path(__file__).resolve().parents[1] / "events"
STRIPE_PARAM = "/t2/stripe-webhook-secret"
STRIPE_SECRET = "whsec_test_5f1c0a9e3b7d4c2a8e6f0b1d"  # also signs tests/events/apigw_http_webhook_stripe.json
HMAC_PARAM = "/t2/partner-secret"
HMAC_SECRET = "partner-s3cret"

app = App("t2")


@app.workflow("payment-succeeded")
async def payment_succeeded(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    return {"paid": data["object"]["id"], "amount": data["object"].get("amount")}


class Refund(BaseModel):
    object: dict[str, Any]


@app.workflow("refund-created")
async def refund_created(ctx: Context, data: Refund) -> str:
    return str(data.object["id"])


@app.workflow("partner-event")
async def partner_event(ctx: Context, payload: dict[str, Any]) -> dict[str, Any]:
    return payload


@app.workflow("order-paid")
async def order_paid(ctx: Context, payload: dict[str, Any]) -> str:
    return str(payload["event"]["order"])


app.webhook("/webhooks/stripe", provider="stripe", secret_param=STRIPE_PARAM,
            route={"payment_intent.succeeded": payment_succeeded, "charge.refund.created": refund_created})
app.webhook("/webhooks/partner", provider="hmac", secret_param=HMAC_PARAM, workflow=partner_event)
app.webhook("/webhooks/shop", provider="hmac", secret="shop-secret", route={"order.paid": order_paid},
            type_key="event.kind", signature_header="X-Hub-Signature-256")


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(app) as c:
        c.set_secret(STRIPE_PARAM, STRIPE_SECRET)
        c.set_secret(HMAC_PARAM, HMAC_SECRET)
        yield c


@pytest.fixture
def client(cloud: LocalCloud) -> Any:
    return cloud.client()


def stripe_event(event_id: str = "evt_1QabcDEF", kind: str = "payment_intent.succeeded", **obj: Any) -> bytes:
    payload = {
        "id": event_id, "object": "event", "api_version": "2024-06-20", "type": kind, "livemode": False,
        "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 2000, "currency": "usd", **obj}},
    }
    return json.dumps(payload, indent=2).encode()


def post_stripe(cloud: LocalCloud, body: bytes, *, t: int | None = None, secret: str = STRIPE_SECRET,
                signature: str | None = None) -> Any:
    ts = int(cloud.now().timestamp()) if t is None else t
    headers = {"Content-Type": "application/json; charset=utf-8",
               "Stripe-Signature": signature if signature is not None else stripe_signature(secret, body, ts)}
    return cloud.http("POST", "/webhooks/stripe", body=body, headers=headers)


# ---- Stripe --------------------------------------------------------------------------------------


def test_valid_stripe_webhook_starts_the_routed_workflow_with_event_data(cloud, client):
    body = stripe_event()

    r = post_stripe(cloud, body)

    assert r.status_code == 200
    assert r.json() == {"received": True}
    [run] = client.list()
    assert run.execution_id == "evt_1QabcDEF"
    assert run.workflow == "payment-succeeded"
    assert run.input == json.loads(body)["data"]
    assert run.status == "SUCCEEDED"
    assert run.result == {"paid": "pi_1", "amount": 2000}


def test_redelivered_stripe_event_starts_nothing_new(cloud, client):
    body = stripe_event()
    assert post_stripe(cloud, body).status_code == 200

    cloud.advance(timedelta(minutes=1))  # Stripe re-signs each retry with a fresh timestamp
    again = post_stripe(cloud, body)

    assert again.status_code == 200
    assert again.json() == {"received": True}
    assert len(client.list()) == 1


def test_stripe_signature_with_a_rolled_secret_has_several_v1_values(cloud, client):
    body = stripe_event()
    t = int(cloud.now().timestamp())
    good = stripe_signature(STRIPE_SECRET, body, t).split("v1=")[1]
    old = stripe_signature("whsec_old", body, t).split("v1=")[1]

    r = post_stripe(cloud, body, signature=f"t={t},v1={old},v1={good}")

    assert r.status_code == 200
    assert len(client.list()) == 1


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda body, t: {"secret": "whsec_wrong"}, id="wrong-secret"),
        pytest.param(lambda body, t: {"signature": f"t={t},v1={'0' * 64}"}, id="wrong-digest"),
        pytest.param(lambda body, t: {"signature": f"t={t}"}, id="no-v1"),
        pytest.param(lambda body, t: {"signature": "v1=abc"}, id="no-timestamp"),
        pytest.param(lambda body, t: {"signature": "garbage"}, id="garbage"),
        pytest.param(lambda body, t: {"signature": stripe_signature(STRIPE_SECRET, body, t).replace("v1=", "v0=")},
                     id="v0-scheme-only"),
    ],
)
def test_bad_stripe_signature_is_401_and_starts_nothing(cloud, client, tamper):
    body = stripe_event()

    r = post_stripe(cloud, body, **tamper(body, int(cloud.now().timestamp())))

    assert r.status_code == 401
    assert r.json()["error"] == "invalid_signature"
    assert client.list() == []


def test_tampered_body_is_401(cloud, client):
    body = stripe_event()
    signature = stripe_signature(STRIPE_SECRET, body, cloud.now())

    r = post_stripe(cloud, body.replace(b"2000", b"2"), signature=signature)

    assert r.status_code == 401
    assert client.list() == []


def test_missing_stripe_signature_header_is_401(cloud, client):
    r = cloud.http("POST", "/webhooks/stripe", body=stripe_event(), headers={"Content-Type": "application/json"})

    assert r.status_code == 401
    assert "Stripe-Signature" in r.json()["message"]
    assert client.list() == []


def test_stale_timestamp_on_the_virtual_clock_is_401(cloud, client):
    body = stripe_event()
    signed_at = int(cloud.now().timestamp())
    signature = stripe_signature(STRIPE_SECRET, body, signed_at)

    cloud.advance(timedelta(seconds=301))
    r = post_stripe(cloud, body, signature=signature)

    assert r.status_code == 401
    assert "tolerance" in r.json()["message"]
    assert client.list() == []


def test_timestamp_exactly_at_the_tolerance_is_accepted(cloud, client):
    body = stripe_event()
    signature = stripe_signature(STRIPE_SECRET, body, cloud.now())

    cloud.advance(timedelta(seconds=300))

    assert post_stripe(cloud, body, signature=signature).status_code == 200
    assert len(client.list()) == 1


def test_unrouted_stripe_type_is_acknowledged_and_ignored(cloud, client):
    r = post_stripe(cloud, stripe_event(kind="customer.created"))

    assert r.status_code == 200
    assert r.json() == {"received": True, "ignored": True}
    assert client.list() == []


def test_stripe_data_failing_the_workflow_input_type_is_400(cloud, client):
    body = json.dumps({"id": "evt_bad", "type": "charge.refund.created", "data": {"no_object": 1}}).encode()

    r = post_stripe(cloud, body)

    assert r.status_code == 400
    assert r.json()["error"] == "invalid_input"
    assert client.list() == []


def test_second_route_of_the_same_webhook(cloud, client):
    r = post_stripe(cloud, stripe_event("evt_refund_1", kind="charge.refund.created", id="re_9"))

    assert r.status_code == 200
    assert client.describe("evt_refund_1").result == "re_9"


def test_missing_secret_parameter_is_500_naming_the_webhook_not_the_parameter(cloud, client, caplog):
    cloud.resources.client("ssm").delete_parameter(Name=STRIPE_PARAM)

    r = post_stripe(cloud, stripe_event())

    assert r.status_code == 500
    assert r.json()["error"] == "secret_missing"
    assert "/webhooks/stripe" in r.json()["message"]
    assert STRIPE_PARAM not in r.body and "stripe-webhook-secret" not in r.body  # a public caller learns no path
    # The operator's log names it (secret values registered by other tests may mask part of it).
    assert any(str(getattr(r, "parameter", "")).startswith("/t2/stripe-web") for r in caplog.records)
    assert client.list() == []


def test_secret_is_never_logged(cloud, capsys):
    post_stripe(cloud, stripe_event(), secret="whsec_wrong")
    post_stripe(cloud, stripe_event())
    post_stripe(cloud, stripe_event(), secret="whsec_wrong")

    out = capsys.readouterr()
    assert STRIPE_SECRET not in out.out + out.err


def test_secret_set_with_set_secret_is_used(cloud, client):
    cloud.set_secret(STRIPE_PARAM, "whsec_rotated")
    body = stripe_event("evt_rotated")

    assert post_stripe(cloud, body).status_code == 401  # signed with the previous secret
    assert post_stripe(cloud, body, secret="whsec_rotated").status_code == 200
    assert client.describe("evt_rotated").status == "SUCCEEDED"


def test_webhook_path_only_accepts_post(cloud):
    r = cloud.http("GET", "/webhooks/stripe")

    assert r.status_code == 405
    assert r.headers["Allow"] == "POST"


def test_non_json_payload_with_a_valid_signature_is_400(cloud, client):
    body = b"id=evt_1&type=payment_intent.succeeded"

    r = post_stripe(cloud, body)

    assert r.status_code == 400
    assert r.json()["error"] == "invalid_json"
    assert client.list() == []


def test_recorded_stripe_delivery_event(cloud, client):
    event = json.loads((EVENTS / "apigw_http_webhook_stripe.json").read_text())  # signed at LocalCloud's start

    response = api.handle(event, cloud.env)
    cloud.run_until_idle()

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"received": True}
    run = client.describe("evt_3QdR7sLkdIwHu7ix0Kq8ZbWm")
    assert run.status == "SUCCEEDED"
    assert run.input == json.loads(event["body"])["data"]
    assert run.result == {"paid": "pi_3QdR7sLkdIwHu7ix0A1b2C3d", "amount": 2000}

    cloud.advance(timedelta(minutes=6))  # the same delivery replayed later: outside the tolerance
    assert api.handle(event, cloud.env)["statusCode"] == 401


# ---- generic HMAC --------------------------------------------------------------------------------


def test_hmac_webhook_starts_the_workflow_with_the_whole_payload(cloud, client):
    body = json.dumps({"id": "msg-1", "type": "anything", "value": 3}).encode()

    r = cloud.http("POST", "/webhooks/partner", body=body, headers={"X-Signature": hmac_signature(HMAC_SECRET, body)})

    assert r.status_code == 200
    assert r.json() == {"received": True}
    run = client.describe("msg-1")
    assert run.workflow == "partner-event"
    assert run.result == {"id": "msg-1", "type": "anything", "value": 3}


def test_hmac_webhook_without_id_uses_the_body_hash_and_is_idempotent(cloud, client):
    body = b'{"value": 4}'
    headers = {"x-signature": hmac_signature(HMAC_SECRET, body)}

    assert cloud.http("POST", "/webhooks/partner", body=body, headers=headers).status_code == 200
    assert cloud.http("POST", "/webhooks/partner", body=body, headers=headers).status_code == 200

    [run] = client.list()
    assert run.execution_id == hashlib.sha256(body).hexdigest()


def test_hmac_event_id_is_sanitized_into_an_execution_id(cloud, client):
    body = json.dumps({"id": "order/42 paid ✓"}).encode()

    r = cloud.http("POST", "/webhooks/partner", body=body, headers={"X-Signature": hmac_signature(HMAC_SECRET, body)})

    assert r.status_code == 200
    [run] = client.list()
    assert check_execution_id(run.execution_id) == run.execution_id
    assert run.execution_id.startswith("order_42_paid")


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"X-Signature": hmac_signature("wrong", b'{"id": "m"}')}, id="wrong-secret"),
        pytest.param({"X-Signature": hmac_signature(HMAC_SECRET, b'{"id": "m"}').removeprefix("sha256=")},
                     id="no-scheme"),
        pytest.param({"X-Signature": "sha1=" + "0" * 40}, id="sha1"),
    ],
)
def test_invalid_hmac_signature_is_401(cloud, client, headers):
    r = cloud.http("POST", "/webhooks/partner", body=b'{"id": "m"}', headers=headers)

    assert r.status_code == 401
    assert r.json()["error"] == "invalid_signature"
    assert client.list() == []


def test_hmac_with_timestamp_header(cloud, client):
    body = b'{"id": "m-ts"}'
    t = int(cloud.now().timestamp())
    headers = {"X-Signature": hmac_signature(HMAC_SECRET, body, t), "X-Timestamp": str(t)}

    assert cloud.http("POST", "/webhooks/partner", body=body, headers=headers).status_code == 200

    # the body-only signature does not verify once a timestamp is sent
    plain = {"X-Signature": hmac_signature(HMAC_SECRET, body), "X-Timestamp": str(t)}
    assert cloud.http("POST", "/webhooks/partner", body=body, headers=plain).status_code == 401

    cloud.advance(timedelta(seconds=301))
    stale = cloud.http("POST", "/webhooks/partner", body=b'{"id": "m-2"}',
                       headers={"X-Signature": hmac_signature(HMAC_SECRET, b'{"id": "m-2"}', t), "X-Timestamp": str(t)})
    assert stale.status_code == 401
    assert [r.execution_id for r in client.list()] == ["m-ts"]


def test_hmac_custom_header_and_nested_type_key(cloud, client):
    paid = json.dumps({"id": "shop-1", "event": {"kind": "order.paid", "order": "o-9"}}).encode()
    other = json.dumps({"id": "shop-2", "event": {"kind": "order.created", "order": "o-9"}}).encode()

    r = cloud.http("POST", "/webhooks/shop", body=paid,
                   headers={"X-Hub-Signature-256": hmac_signature("shop-secret", paid)})
    ignored = cloud.http("POST", "/webhooks/shop", body=other,
                         headers={"X-Hub-Signature-256": hmac_signature("shop-secret", other)})
    wrong_header = cloud.http("POST", "/webhooks/shop", body=paid,
                              headers={"X-Signature": hmac_signature("shop-secret", paid)})

    assert r.status_code == 200 and r.json() == {"received": True}
    assert ignored.json() == {"received": True, "ignored": True}
    assert wrong_header.status_code == 401
    assert client.describe("shop-1").result == "o-9"
    assert len(client.list()) == 1
