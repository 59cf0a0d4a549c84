"""Callbacks (issue 14, item 1) on moto through the HTTP API: success, failure, heartbeat, timeout, single
use (409), unknown tokens (404), a large result through the payload bucket, and the compiled routes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, CallbackFailed, Context
from stepbridge.compiler.intrinsics import to_json
from stepbridge.compiler.template import compile_app
from stepbridge.local import LocalCloud
from stepbridge.runtime import keys

app = App("cbfunc")
TOKENS: list[str] = []


@app.step(timeout=30)
def ask_bank(token: str) -> str:
    TOKENS.append(token)  # the bank would keep it and call back
    return "asked"


@app.workflow("kyc")
async def kyc(ctx: Context, _: Any) -> Any:
    try:
        return await ctx.wait_for_callback("bank", ask_bank, timeout=timedelta(days=1),
                                           heartbeat=timedelta(minutes=5))
    except CallbackFailed as exc:
        return {"error": exc.error, "message": exc.message}


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(app) as c:
        yield c


def _start(cloud: LocalCloud) -> tuple[str, str]:
    TOKENS.clear()
    started = cloud.http("POST", "/workflows/kyc/executions", body={"input": None}).json()
    assert len(TOKENS) == 1
    return started["execution_id"], TOKENS[0]


def test_success_through_http_completes_once_then_409(cloud: LocalCloud) -> None:
    execution_id, token = _start(cloud)
    r = cloud.http("POST", f"/callbacks/{token}/success", body={"result": {"verified": True}})
    assert r.status_code == 200 and r.json() == {"execution_id": execution_id, "callback": "bank",
                                                 "status": "SUCCEEDED"}
    assert cloud.client().result(execution_id) == {"verified": True}
    before = cloud.store.get_item(*keys.callback_key(token))
    again = cloud.http("POST", f"/callbacks/{token}/success", body={"result": "other"})
    assert again.status_code == 409 and again.json()["error"] == "callback_already_completed"
    assert "single-use" in again.json()["message"] and token not in again.json()["message"]
    assert cloud.http("POST", f"/callbacks/{token}/failure", body={"error": "X"}).status_code == 409
    assert cloud.store.get_item(*keys.callback_key(token)) == before
    assert cloud.client().describe(execution_id).result == {"verified": True}


def test_failure_through_http_carries_error_and_message(cloud: LocalCloud) -> None:
    execution_id, token = _start(cloud)
    r = cloud.http("POST", f"/callbacks/{token}/failure", body={"error": "KycRejected", "message": "id expired"})
    assert r.status_code == 200 and r.json()["status"] == "FAILED"
    assert cloud.client().result(execution_id) == {"error": "KycRejected", "message": "id expired"}


def test_heartbeats_through_http_then_a_lapse_times_out(cloud: LocalCloud) -> None:
    execution_id, token = _start(cloud)
    for _ in range(3):
        cloud.advance(timedelta(minutes=4))
        assert cloud.http("POST", f"/callbacks/{token}/heartbeat").status_code == 200
    assert cloud.client().describe(execution_id).status == "RUNNING"  # 12 minutes, past one 5-minute interval
    cloud.advance(timedelta(minutes=6))
    desc = cloud.client().describe(execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.CallbackTimeout"
    late = cloud.http("POST", f"/callbacks/{token}/success", body={"result": 1})
    assert late.status_code == 409 and "TIMED_OUT" in late.json()["message"]


def test_unknown_token_is_404_and_a_bad_body_is_400(cloud: LocalCloud) -> None:
    r = cloud.http("POST", f"/callbacks/{'Z' * 43}/success", body={"result": 1})
    assert r.status_code == 404 and r.json()["error"] == "callback_not_found"
    _, token = _start(cloud)
    bad = cloud.http("POST", f"/callbacks/{token}/success", body={"value": 1})
    assert bad.status_code == 400 and "unknown field(s) ['value']" in bad.json()["message"]
    long = cloud.http("POST", f"/callbacks/{token}/failure", body={"error": "E" * 300})
    assert long.status_code == 400
    assert cloud.store.get_item(*keys.callback_key(token)).body["status"] == "PENDING"  # type: ignore[union-attr]


def test_a_large_result_goes_through_the_payload_bucket(cloud: LocalCloud) -> None:
    execution_id, token = _start(cloud)
    big = {"statement": "s" * (150 * 1024)}
    assert cloud.http("POST", f"/callbacks/{token}/success", body={"result": big}).status_code == 200
    item = cloud.store.get_item(*keys.callback_key(token))
    assert item is not None and "$stepbridge.payload" in item.body["result"]
    assert cloud.client().result(execution_id) == big


def test_compiled_callback_routes_are_iam_authorized() -> None:
    template = to_json(compile_app(app).template)
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"]
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]): e["Properties"].get("Auth")
              for e in events.values()}
    for action in ("success", "failure", "heartbeat"):
        assert routes[("POST", f"/callbacks/{{token}}/{action}")] is None  # the API's default: AWS_IAM
    assert template["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"] == "AWS_IAM"
