"""The HTTP API handler (stepbridge/handlers/api.py) through LocalCloud: real Powertools routing,
real API Gateway payload format 2.0 events, the app deployed in moto, a virtual clock."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from stepbridge import App, Context
from stepbridge.handlers import api
from stepbridge.local import LocalCloud
from stepbridge.local.http import api_gateway_event

EVENTS = Path(__file__).resolve().parents[1] / "events"

app = App("t1")


class Greeting(BaseModel):
    name: str
    amount: int = 0


@app.workflow("greet")
async def greet(ctx: Context, g: Greeting) -> dict[str, Any]:
    return {"message": f"hello {g.name}", "amount": g.amount}


@app.workflow("double-later")
async def double_later(ctx: Context, n: int) -> int:
    await ctx.sleep(timedelta(seconds=10))
    return n * 2


@app.workflow("nap")
async def nap(ctx: Context, data: dict[str, Any]) -> str:
    await ctx.sleep(timedelta(days=1))
    return "woke up"


@app.workflow("boom")
async def boom(ctx: Context, data: dict[str, Any]) -> None:
    raise ValueError("kaput")


@app.workflow("fulfil")
async def fulfil(ctx: Context, order: dict[str, Any]) -> dict[str, Any]:
    return {"fulfilled": order["orderId"]}


app.on("Order.created", fulfil)


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(app) as c:
        yield c


@pytest.fixture
def client(cloud: LocalCloud) -> Any:
    return cloud.client()


def start(cloud: LocalCloud, workflow: str, body: Any) -> Any:
    return cloud.http("POST", f"/workflows/{workflow}/executions", body=body)


# ---- POST /workflows/{name}/executions --------------------------------------------------------


def test_start_returns_202_then_get_shows_the_result(cloud, client):
    r = start(cloud, "greet", {"input": {"name": "Ada", "amount": 3}})

    assert r.status_code == 202
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    assert set(body) == {"execution_id", "status"}
    assert body["status"] == "RUNNING"

    got = cloud.http("GET", f"/executions/{body['execution_id']}")
    assert got.status_code == 200
    desc = got.json()
    assert desc["status"] == "SUCCEEDED"
    assert desc["workflow"] == "greet"
    assert desc["result"] == {"message": "hello Ada", "amount": 3}
    assert desc["input"] == {"name": "Ada", "amount": 3}
    assert client.describe(body["execution_id"]).result == desc["result"]


def test_start_with_wait_returns_the_result_on_the_virtual_clock(cloud):
    before, wall = cloud.now(), time.monotonic()

    r = start(cloud, "double-later", {"input": 21, "wait": 25})

    assert r.status_code == 200
    assert r.json() == {"execution_id": r.json()["execution_id"], "status": "SUCCEEDED", "result": 42}
    assert cloud.now() - before == timedelta(seconds=10)  # the workflow's sleep, in virtual time
    assert time.monotonic() - wall < 5  # nothing slept in real time


def test_wait_shorter_than_the_run_answers_202_running(cloud, client):
    r = start(cloud, "double-later", {"input": 1, "wait": 5})

    assert r.status_code == 202
    assert r.json()["status"] == "RUNNING"
    assert client.result(r.json()["execution_id"]) == 2


def test_wait_on_a_failing_workflow_returns_the_error(cloud):
    r = start(cloud, "boom", {"input": {}, "wait": 10})

    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "FAILED"
    assert "result" not in body
    assert "kaput" in body["error"]["message"]


@pytest.mark.parametrize("wait", [0, -1, 26, 1000, True, "5", [1]])
def test_wait_out_of_bounds_is_400_and_starts_nothing(cloud, client, wait):
    r = start(cloud, "greet", {"input": {"name": "Ada"}, "wait": wait})

    assert r.status_code == 400
    assert r.json()["error"] == "bad_request"
    assert "25" in r.json()["message"]
    assert client.list() == []


def test_invalid_input_is_400_with_the_validation_message_and_starts_nothing(cloud, client):
    r = start(cloud, "greet", {"input": {"amount": "lots"}})

    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "invalid_input"
    assert "greet" in body["message"]
    assert "name" in body["message"] and "amount" in body["message"]
    assert client.list() == []


def test_unknown_workflow_is_404(cloud, client):
    r = start(cloud, "no-such-workflow", {"input": {}})

    assert r.status_code == 404
    assert r.json()["error"] == "unknown_workflow"
    assert "no-such-workflow" in r.json()["message"]
    assert client.list() == []


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ('{"input": ', "invalid_json"),
        (b"\xff\xfe not json", "invalid_json"),
        ("[1, 2]", "bad_request"),
        ('{"input": {"name": "Ada"}, "executionId": "x"}', "bad_request"),
        ('{"input": {"name": "Ada"}, "execution_id": 42}', "bad_request"),
        ('{"input": {"name": "Ada"}, "execution_id": "has spaces"}', "bad_request"),
    ],
)
def test_bad_body_is_400_and_starts_nothing(cloud, client, body, error):
    r = start(cloud, "greet", body)

    assert r.status_code == 400
    assert r.json()["error"] == error
    assert r.json()["message"]
    assert client.list() == []


def test_body_over_256_kb_is_413_and_starts_nothing(cloud, client):
    r = start(cloud, "greet", {"input": {"name": "x" * (256 * 1024)}})

    assert r.status_code == 413
    assert r.json()["error"] == "payload_too_large"
    assert "256 KB" in r.json()["message"]
    assert client.list() == []


def test_same_id_same_input_is_the_same_execution(cloud, client):
    first = start(cloud, "greet", {"input": {"name": "Ada"}, "execution_id": "greet-ada"})
    again = start(cloud, "greet", {"input": {"name": "Ada"}, "execution_id": "greet-ada"})

    assert first.status_code == again.status_code == 202
    assert first.json()["execution_id"] == again.json()["execution_id"] == "greet-ada"
    assert again.json()["status"] == "SUCCEEDED"  # the existing run, already finished
    assert len(client.list()) == 1


def test_same_id_different_input_is_409(cloud, client):
    start(cloud, "greet", {"input": {"name": "Ada"}, "execution_id": "greet-1"})

    r = start(cloud, "greet", {"input": {"name": "Bob"}, "execution_id": "greet-1"})

    assert r.status_code == 409
    assert r.json()["error"] == "execution_exists"
    assert "greet-1" in r.json()["message"]
    assert [d.input for d in client.list()] == [{"name": "Ada"}]


# ---- GET /executions/{id} ---------------------------------------------------------------------


def test_get_unknown_execution_is_404(cloud):
    r = cloud.http("GET", "/executions/nope-123")

    assert r.status_code == 404
    assert r.json() == {"error": "execution_not_found", "message": "no execution 'nope-123'"}


# ---- POST /events -----------------------------------------------------------------------------


def test_posted_event_is_published_and_starts_the_triggered_workflow(cloud, client):
    r = cloud.http("POST", "/events", body={"type": "Order.created", "detail": {"orderId": "o-7"}})

    assert r.status_code == 202
    event_id = r.json()["id"]
    captured = [e for e in cloud.events if e.detail_type == "Order.created"]
    assert len(captured) == 1
    assert captured[0].id == event_id
    assert captured[0].detail == {"orderId": "o-7"}
    assert captured[0].source == "stepbridge.api"
    [run] = client.list(workflow="fulfil")
    assert run.status == "SUCCEEDED"
    assert run.result == {"fulfilled": "o-7"}


def test_posted_event_keeps_its_source(cloud):
    r = cloud.http("POST", "/events", body={"type": "Something.happened", "detail": {}, "source": "crm"})

    assert r.status_code == 202
    assert cloud.events[-1].source == "crm"


@pytest.mark.parametrize(
    "body",
    [
        {"detail": {}},
        {"type": "", "detail": {}},
        {"type": 7, "detail": {}},
        {"type": "x" * 129, "detail": {}},
        {"type": "Order.created", "detail": [1, 2]},
        {"type": "Order.created", "detail": "text"},
        {"type": "Order.created", "detail": {}, "source": "aws.events"},
        {"type": "Order.created", "detail": {}, "extra": 1},
        None,
    ],
)
def test_bad_event_is_400_and_publishes_nothing(cloud, client, body):
    r = cloud.http("POST", "/events", body=body)

    assert r.status_code == 400
    assert r.json()["error"] == "bad_request"
    assert cloud.events == []
    assert client.list() == []


def test_event_over_256_kb_is_413(cloud):
    r = cloud.http("POST", "/events", body={"type": "Order.created", "detail": {"blob": "x" * 300_000}})

    assert r.status_code == 413
    assert cloud.events == []


# ---- POST /executions/{id}/cancel ---------------------------------------------------------------


def test_cancel_a_sleeping_execution(cloud, client):
    started = start(cloud, "nap", {"input": {}})
    execution_id = started.json()["execution_id"]
    assert client.describe(execution_id).status == "RUNNING"

    r = cloud.http("POST", f"/executions/{execution_id}/cancel")

    assert r.status_code == 200
    assert r.json()["execution_id"] == execution_id
    assert r.json()["cancel_requested"] is True
    assert cloud.http("GET", f"/executions/{execution_id}").json()["status"] == "CANCELLED"
    cloud.advance(timedelta(days=2))
    assert client.describe(execution_id).status == "CANCELLED"


def test_cancel_with_compensate_flag(cloud, client):
    execution_id = start(cloud, "nap", {"input": {}}).json()["execution_id"]

    r = cloud.http("POST", f"/executions/{execution_id}/cancel", body={"compensate": True})

    assert r.status_code == 200
    assert client.describe(execution_id).status == "CANCELLED"


def test_cancel_unknown_is_404_and_bad_flag_is_400(cloud, client):
    assert cloud.http("POST", "/executions/ghost/cancel").status_code == 404
    execution_id = start(cloud, "nap", {"input": {}}).json()["execution_id"]

    r = cloud.http("POST", f"/executions/{execution_id}/cancel", body={"compensate": "yes"})

    assert r.status_code == 400
    assert client.describe(execution_id).status == "RUNNING"


# ---- routing and errors -----------------------------------------------------------------------


def test_unknown_route_is_404_and_wrong_method_is_405(cloud):
    missing = cloud.http("GET", "/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    assert "POST /workflows/{name}/executions" in missing.json()["message"]

    wrong = cloud.http("GET", "/events")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"
    assert wrong.headers["Allow"] == "POST"
    assert cloud.http("DELETE", "/executions/x").headers["Allow"] == "GET"


def test_unexpected_error_is_a_generic_500(cloud, monkeypatch):
    def broken(execution_id: str) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(cloud.store, "get_execution", broken)

    r = cloud.http("GET", "/executions/any")

    assert r.status_code == 500
    assert r.json() == {"error": "internal_error", "message": "internal error; see the function's logs"}


def test_query_string_and_url_encoded_ids(cloud, client):
    start(cloud, "greet", {"input": {"name": "Ada"}, "execution_id": "order:42"})

    r = cloud.http("GET", "/executions/order%3A42", query={"verbose": "1"})

    assert r.status_code == 200
    assert r.json()["execution_id"] == "order:42"


# ---- the API Gateway event ----------------------------------------------------------------------


def _shape(value: Any) -> Any:
    return {k: _shape(v) for k, v in value.items()} if isinstance(value, dict) else type(value).__name__


def test_recorded_api_gateway_event_starts_an_execution(cloud, client):
    event = json.loads((EVENTS / "apigw_http_start.json").read_text())

    response = api.handle(event, cloud.env)
    cloud.run_until_idle()

    assert response["statusCode"] == 202
    assert json.loads(response["body"]) == {"execution_id": "greet-ada-1", "status": "RUNNING"}
    assert client.describe("greet-ada-1").result == {"message": "hello Ada", "amount": 42}


def test_built_event_has_the_shape_of_a_recorded_one():
    recorded = json.loads((EVENTS / "apigw_http_start.json").read_text())

    built = api_gateway_event("POST", recorded["rawPath"], body=json.loads(recorded["body"]),
                              headers={"Accept": "application/json"}, query=None,
                              now=datetime(2026, 1, 5, 8, 0, tzinfo=UTC))

    assert set(built) == set(recorded)
    assert _shape(built["requestContext"]) == _shape(recorded["requestContext"])
    assert set(recorded["headers"]) <= set(built["headers"])


def test_api_gateway_event_fields():
    now = datetime(2026, 1, 5, 8, 0, 1, 250000, tzinfo=UTC)

    ev = api_gateway_event("post", "/events?a=1", body={"k": "v"}, headers={"X-Custom": "Yes", "Cookie": "a=1; b=2"},
                           query={"b": ["2", "3"]}, now=now)

    assert ev["version"] == "2.0" and ev["routeKey"] == "$default"
    assert ev["rawPath"] == "/events"
    assert ev["rawQueryString"] == "a=1&b=2&b=3"
    assert ev["queryStringParameters"] == {"a": "1", "b": "2,3"}
    assert ev["headers"]["x-custom"] == "Yes"
    assert "X-Custom" not in ev["headers"]
    assert ev["cookies"] == ["a=1", "b=2"]
    assert ev["requestContext"]["http"]["method"] == "POST"
    assert ev["requestContext"]["http"]["path"] == "/events"
    assert ev["requestContext"]["http"]["sourceIp"]
    assert ev["requestContext"]["requestId"]
    assert ev["requestContext"]["stage"] == "$default"
    assert ev["requestContext"]["timeEpoch"] == int(now.timestamp() * 1000)
    assert ev["requestContext"]["time"] == "05/Jan/2026:08:00:01 +0000"
    assert ev["isBase64Encoded"] is False
    assert json.loads(ev["body"]) == {"k": "v"}
    assert ev["headers"]["content-length"] == str(len(ev["body"]))


def test_api_gateway_event_bodies():
    now = datetime(2026, 1, 5, tzinfo=UTC)
    assert api_gateway_event("POST", "/x", body=b'{"a": 1}', headers={}, query=None, now=now)["body"] == '{"a": 1}'
    assert api_gateway_event("POST", "/x", body="raw text", headers={}, query=None, now=now)["body"] == "raw text"
    assert "body" not in api_gateway_event("GET", "/x", body=None, headers={}, query=None, now=now)
    binary = api_gateway_event("POST", "/x", body=b"\xff\x00", headers={}, query=None, now=now)
    assert binary["isBase64Encoded"] is True
    assert api.raw_body(binary) == b"\xff\x00"
