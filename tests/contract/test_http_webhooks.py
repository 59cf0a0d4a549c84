from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime.webhooks import hmac_signature, stripe_signature


def _app():
    app = App("h")

    @app.workflow("process-refund")
    async def refund(ctx: Context, order: dict) -> dict:
        return await ctx.step("refund", lambda: {"refunded": order["orderId"]})

    @app.workflow("slow")
    async def slow(ctx: Context) -> str:
        await ctx.sleep(timedelta(hours=1))
        return "done"

    @app.workflow("payment-succeeded")
    async def paid(ctx: Context, data: dict) -> dict:
        return data

    app.webhook(
        "/webhooks/stripe", provider="stripe", secret_param="/acme/stripe", route={"payment_intent.succeeded": paid}
    )
    app.webhook("/webhooks/generic", provider="hmac", secret="s3cret", route={"thing.happened": paid})
    return app


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_http_start_wait_and_get(backend):
    with LocalCloud(_app(), backend=backend) as cloud:
        r = cloud.http("POST", "/workflows/process-refund/executions", body={"input": {"orderId": "o1"}, "wait": 5})
        assert r.status_code == 200
        j = r.json()
        assert j["status"] == "SUCCEEDED" and j["result"] == {"refunded": "o1"} and j["execution_id"]
        g = cloud.http("GET", f"/executions/{j['execution_id']}")
        assert g.status_code == 200 and g.json()["status"] == "SUCCEEDED"


def test_http_start_no_wait_execution_id_and_cancel():
    with LocalCloud(_app(), backend="memory") as cloud:
        r = cloud.http("POST", "/workflows/slow/executions", body={"input": None, "execution_id": "slow-1"})
        assert r.status_code in (200, 202)
        j = r.json()
        assert j["execution_id"] == "slow-1" and j["status"] == "RUNNING"
        r = cloud.http("POST", "/executions/slow-1/cancel")
        assert r.status_code == 200
        assert cloud.client().describe("slow-1").status == "CANCELLED"


def test_http_events():
    app = _app()

    @app.workflow("on-ev")
    async def onev(ctx: Context, d: dict) -> dict:
        return d

    app.on("Thing.done", onev)
    with LocalCloud(app, backend="memory") as cloud:
        r = cloud.http("POST", "/events", body={"type": "Thing.done", "detail": {"a": 1}})
        assert r.status_code in (200, 202)
        assert cloud.client().list(workflow="on-ev")[0].result == {"a": 1}


def test_http_errors():
    with LocalCloud(_app(), backend="memory") as cloud:
        r = cloud.http("POST", "/workflows/nope/executions", body={"input": 1})
        assert r.status_code == 404 and set(r.json()) >= {"error", "message"}
        r = cloud.http("GET", "/executions/does-not-exist")
        assert r.status_code == 404 and set(r.json()) >= {"error", "message"}
        r = cloud.http("POST", "/workflows/slow/executions", body=b"not json{")
        assert r.status_code == 400 and set(r.json()) >= {"error", "message"}
        r = cloud.http("POST", "/workflows/slow/executions", body=[1, 2])
        assert r.status_code == 400
        r = cloud.http("POST", "/events", body={"detail": {}})
        assert r.status_code == 400
        big = {"input": "x" * (300 * 1024)}
        r = cloud.http("POST", "/workflows/slow/executions", body=big)
        assert r.status_code == 413 and set(r.json()) >= {"error", "message"}
        r = cloud.http("POST", "/executions/nope/cancel")
        assert r.status_code == 404


@pytest.mark.parametrize("backend", ["memory", "moto"])
def test_stripe_webhook(backend):
    with LocalCloud(_app(), backend=backend) as cloud:
        cloud.set_secret("/acme/stripe", "whsec_1")
        body = json.dumps(
            {"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": {"amount": 5}}}
        ).encode()
        t = int(cloud.now().timestamp())
        sig = stripe_signature("whsec_1", body, t)
        assert sig.startswith("t=") and ",v1=" in sig
        r = cloud.http("POST", "/webhooks/stripe", body=body, headers={"Stripe-Signature": sig})
        assert r.status_code == 200 and r.json()["received"] is True
        c = cloud.client()
        d = c.describe("evt_1")
        assert d.status == "SUCCEEDED" and d.result == {"object": {"amount": 5}}
        # redelivery
        r = cloud.http("POST", "/webhooks/stripe", body=body, headers={"Stripe-Signature": sig})
        assert r.status_code == 200
        assert len(c.list(workflow="payment-succeeded")) == 1


def test_stripe_manual_signature_and_tolerance():
    import hashlib
    import hmac as _h

    with LocalCloud(_app(), backend="memory") as cloud:
        cloud.set_secret("/acme/stripe", "whsec_1")
        body = json.dumps({"id": "evt_2", "type": "payment_intent.succeeded", "data": {"x": 1}})
        t = int(cloud.now().timestamp())
        v1 = _h.new(b"whsec_1", f"{t}.{body}".encode(), hashlib.sha256).hexdigest()
        r = cloud.http("POST", "/webhooks/stripe", body=body, headers={"Stripe-Signature": f"t={t},v1={v1}"})
        assert r.status_code == 200
        # bad signature
        r = cloud.http("POST", "/webhooks/stripe", body=body, headers={"Stripe-Signature": f"t={t},v1={'0' * 64}"})
        assert r.status_code == 401 and set(r.json()) >= {"error", "message"}
        # missing
        r = cloud.http("POST", "/webhooks/stripe", body=body)
        assert r.status_code == 401
        # old timestamp (virtual clock)
        t_old = t - 301
        v1 = _h.new(b"whsec_1", f"{t_old}.{body}".encode(), hashlib.sha256).hexdigest()
        r = cloud.http("POST", "/webhooks/stripe", body=body, headers={"Stripe-Signature": f"t={t_old},v1={v1}"})
        assert r.status_code == 401
        # within tolerance of virtual clock after advancing
        cloud.advance(200)
        body3 = json.dumps({"id": "evt_3", "type": "payment_intent.succeeded", "data": {"x": 3}})
        v1 = _h.new(b"whsec_1", f"{t}.{body3}".encode(), hashlib.sha256).hexdigest()
        r = cloud.http("POST", "/webhooks/stripe", body=body3, headers={"Stripe-Signature": f"t={t},v1={v1}"})
        assert r.status_code == 200
        # real-time timestamp far from virtual clock -> rejected
        tr = int(time.time())
        v1 = _h.new(b"whsec_1", f"{tr}.{body3}".encode(), hashlib.sha256).hexdigest()
        r = cloud.http("POST", "/webhooks/stripe", body=body3, headers={"Stripe-Signature": f"t={tr},v1={v1}"})
        assert r.status_code == 401


def test_stripe_unrouted_type_ok():
    with LocalCloud(_app(), backend="memory") as cloud:
        cloud.set_secret("/acme/stripe", "whsec_1")
        body = json.dumps({"id": "evt_9", "type": "charge.refunded", "data": {}})
        sig = stripe_signature("whsec_1", body, int(cloud.now().timestamp()))
        r = cloud.http("POST", "/webhooks/stripe", body=body, headers={"Stripe-Signature": sig})
        assert r.status_code == 200 and r.json()["received"] is True
        assert cloud.client().list(workflow="payment-succeeded") == []


def test_hmac_webhook_secret_inline():
    with LocalCloud(_app(), backend="memory") as cloud:
        body = json.dumps({"id": "w1", "type": "thing.happened", "v": 1})
        r = cloud.http("POST", "/webhooks/generic", body=body, headers={"X-Signature": hmac_signature("s3cret", body)})
        assert r.status_code == 200 and r.json() == {"received": True}
        r = cloud.http("POST", "/webhooks/generic", body=body, headers={"X-Signature": "sha256=00"})
        assert r.status_code == 401


def test_http_wait_still_running_returns_status_running():
    app = App("h")

    @app.workflow("slow")
    async def slow(ctx: Context) -> str:
        await ctx.sleep(timedelta(hours=1))
        return "x"

    with LocalCloud(app, backend="memory") as cloud:
        r = cloud.http("POST", "/workflows/slow/executions", body={"input": None, "wait": 2})
        j = r.json()
        assert (j["status"] == "RUNNING" and "result" not in j) or j.get("result") is None
