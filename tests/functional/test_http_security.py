"""Hostile HTTP inputs to the API handler (issue 13, "HTTP edge cases"): each gets a 4xx with a clear
message, starts and publishes nothing, and leaks nothing about the app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.handlers.httpinput import MAX_JSON_DEPTH
from stepbridge.local import LocalCloud

app = App("hsec")


@app.workflow("echo")
async def echo(ctx: Context, value: Any) -> Any:
    return value


@app.workflow("secret-payroll-run")
async def payroll(ctx: Context, value: Any) -> Any:
    return value


app.on("Thing.happened", echo)


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(app) as c:
        yield c


def start(cloud: LocalCloud, body: Any, workflow: str = "echo") -> Any:
    return cloud.http("POST", f"/workflows/{workflow}/executions", body=body)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_000, 5_000, 100_000])
def test_deeply_nested_json_is_400_not_500(cloud, depth):
    body = '{"input": ' + "[" * depth + "]" * depth + "}"

    r = start(cloud, body)

    assert r.status_code == 400, r.body
    assert r.json()["error"] == "invalid_json"
    assert f"deeper than {MAX_JSON_DEPTH} levels" in r.json()["message"]
    assert cloud.client().list() == []


def test_deeply_nested_event_and_webhook_free_api_stay_400(cloud):
    depth = 2_000
    r = cloud.http("POST", "/events", body='{"type": "Thing.happened", "detail": {"a": ' + "[" * depth
                   + "]" * depth + "}}")

    assert r.status_code == 400
    assert cloud.events == []


def test_nesting_at_the_limit_is_accepted_and_round_trips(cloud):
    depth = MAX_JSON_DEPTH - 1  # the body object itself is one level
    value: Any = []
    for _ in range(depth - 1):
        value = [value]

    r = start(cloud, {"input": value, "wait": 5})

    assert r.status_code == 200, r.body
    assert r.json()["status"] == "SUCCEEDED"
    assert r.json()["result"] == value


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e400"])
def test_nan_and_infinity_in_an_input_are_400(cloud, literal):
    r = start(cloud, '{"input": {"amount": ' + literal + "}}")

    assert r.status_code == 400, r.body
    assert r.json()["error"] == "invalid_json"
    assert "finite" in r.json()["message"]
    assert cloud.client().list() == []


def test_nan_in_an_event_detail_is_400_and_publishes_nothing(cloud):
    r = cloud.http("POST", "/events", body='{"type": "Thing.happened", "detail": {"x": NaN}}')

    assert r.status_code == 400
    assert cloud.events == []


def test_unknown_workflow_404_does_not_list_the_workflows(cloud):
    r = start(cloud, {"input": 1}, workflow="nope")

    assert r.status_code == 404
    assert r.json() == {"error": "unknown_workflow", "message": "no workflow 'nope'"}
    assert "secret-payroll-run" not in r.body and "echo" not in r.body


def test_unknown_route_404_does_not_list_workflows_or_webhooks(cloud):
    r = cloud.http("GET", "/nothing/here")

    assert r.status_code == 404
    assert "secret-payroll-run" not in r.body
    assert "POST /workflows/{name}/executions" in r.json()["message"]


def test_one_and_one_point_zero_are_different_inputs_for_an_idempotent_start(cloud):
    first = start(cloud, '{"input": {"n": 1}, "execution_id": "num-1"}')
    same = start(cloud, '{"input": {"n": 1}, "execution_id": "num-1"}')
    other = start(cloud, '{"input": {"n": 1.0}, "execution_id": "num-1"}')

    assert first.status_code == same.status_code == 202
    assert other.status_code == 409
    assert other.json()["error"] == "execution_exists"
    assert cloud.client().describe("num-1").input == {"n": 1}
