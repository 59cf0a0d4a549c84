"""Every Lambda entry point fed the events AWS really sends (tests/events/, from ``sam local
generate-event``): its own kinds are served, anything else gets one clear logged error and no
retry loop (the handler returns normally, so neither SQS nor Lambda's async retries run it again)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stepbridge import App, Context
from stepbridge.handlers import api, orchestrator, router, step, sweeper
from stepbridge.local import LocalCloud

EVENTS = Path(__file__).resolve().parents[1] / "events"

app = App("shapes")
CALLS: list[str] = []


@app.step(timeout=10)
def pack(order: dict[str, Any]) -> str:
    CALLS.append(order["orderId"])
    return "packed"


@app.workflow("fulfil")
async def fulfil(ctx: Context, order: dict[str, Any]) -> dict[str, Any]:
    return {"fulfilled": order["orderId"], "box": await ctx.step("pack", pack, order)}


app.on("Order.created", fulfil)


@app.workflow("nightly")
async def nightly(ctx: Context, run: dict[str, Any]) -> str:
    return str(run["scheduled_time"])


app.schedule("nightly", "0 2 * * *", nightly)


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    CALLS.clear()
    with LocalCloud(app) as c:
        yield c


def body(response: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(response["body"])
    return data


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]


def started(cloud: LocalCloud) -> list[str]:
    return [e.execution_id for e in cloud.client().list()]


# ---- the HTTP API: HTTP API (v2), REST API (v1) and function URL events --------------------------


@pytest.mark.parametrize("name", ["http_api_v2_post_events", "rest_api_v1_post_events"])
def test_post_events_from_http_api_and_rest_api_starts_the_trigger(cloud: LocalCloud, name: str) -> None:
    """Reproduction: a REST API (v1) proxy event raised ``KeyError: 'http'``; now both shapes publish."""
    response = api.handle(sample(name), cloud.env)
    assert response["statusCode"] == 202, response
    assert set(body(response)) == {"id"}
    cloud.run_until_idle()
    assert [(e.detail_type, e.detail) for e in cloud.events] == [("Order.created", {"orderId": "o-1"})]
    runs = cloud.client().list(workflow="fulfil")
    assert [r.status for r in runs] == ["SUCCEEDED"] and CALLS == ["o-1"]


@pytest.mark.parametrize("name", ["rest_api_v1_get_execution", "function_url_get_execution"])
def test_get_unknown_execution_from_rest_api_and_function_url_is_404(cloud: LocalCloud, name: str) -> None:
    response = api.handle(sample(name), cloud.env)
    assert response["statusCode"] == 404
    assert body(response) == {"error": "execution_not_found", "message": "no execution 'missing-1'"}


def test_rest_api_describes_an_execution_and_answers_unknown_routes(cloud: LocalCloud) -> None:
    handle = cloud.client().start("fulfil", {"orderId": "o-9"}, execution_id="o-9")
    handle.result()
    event = sample("rest_api_v1_get_execution")
    event["path"] = event["pathParameters"]["proxy"] = "/executions/o-9"
    response = api.handle(event, cloud.env)
    assert response["statusCode"] == 200
    assert body(response)["status"] == "SUCCEEDED" and body(response)["result"]["fulfilled"] == "o-9"
    event["path"] = "/nowhere"
    assert api.handle(event, cloud.env)["statusCode"] == 404
    event["path"], event["httpMethod"] = "/events", "GET"
    response = api.handle(event, cloud.env)
    assert response["statusCode"] == 405 and "POST" in body(response)["message"]


@pytest.mark.parametrize("name", ["sqs_receive_message", "cloudwatch_scheduled_event", "s3_put", None])
def test_api_answers_a_foreign_event_with_400_and_one_error(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture, name: str | None
) -> None:
    event = sample(name) if name else {}
    response = api.handle(event, cloud.env)
    assert response["statusCode"] == 400
    assert body(response)["error"] == "unsupported_event"
    assert errors(caplog) == ["the HTTP API function received an event that is not an HTTP request; ignored"]
    assert cloud.events == [] and started(cloud) == []


# ---- the orchestrator (SQS work queue) ------------------------------------------------------------------


def test_orchestrator_serves_an_sqs_event_as_aws_delivers_it(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """The SAM sample's shape (eventSource, attributes, md5...) carrying what the nightly schedule sends."""
    event = sample("sqs_receive_message")
    fire = "2026-01-06T02:00:00Z"
    event["Records"][0]["body"] = json.dumps({
        "execution_id": "$schedule:nightly", "reason": "schedule", "dedup": fire,
        "data": {"schedule": "nightly", "scheduled_time": fire},
    })
    assert orchestrator.handle(event, cloud.env) == {"batchItemFailures": []}
    cloud.run_until_idle()
    assert errors(caplog) == []
    runs = cloud.client().list(workflow="nightly")
    assert [(r.status, r.result) for r in runs] == [("SUCCEEDED", fire)]


def test_orchestrator_drops_a_malformed_sqs_body_once_without_a_batch_failure(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """``Hello from SQS!`` can never become a wake-up: logged with its id and an excerpt, reported as processed."""
    event = sample("sqs_receive_message")
    assert orchestrator.handle(event, cloud.env) == {"batchItemFailures": []}
    assert errors(caplog) == ["malformed work message dropped"]
    record = next(r for r in caplog.records if r.levelname == "ERROR")
    assert record.__dict__["message_id"] == "19dd0b57-b21e-4ac1-bd88-01bbb068cb78"
    assert record.__dict__["body_excerpt"] == "Hello from SQS!"
    assert started(cloud) == []


@pytest.mark.parametrize("name", ["cloudwatch_scheduled_event", "s3_put", "http_api_v2_post_events", None])
def test_orchestrator_ignores_a_foreign_event_with_one_error(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture, name: str | None
) -> None:
    event = sample(name) if name else {}
    assert orchestrator.handle(event, cloud.env) == {"batchItemFailures": []}
    assert errors(caplog) == ["the orchestrator received an event that is not an SQS batch; ignored"]
    assert started(cloud) == [] and cloud.events == []


# ---- a declared step (async invoke by the orchestrator) -------------------------------------------------


@pytest.mark.parametrize(
    "name", ["cloudwatch_scheduled_event", "s3_put", "sqs_receive_message", "rest_api_v1_post_events", None]
)
def test_step_function_ignores_a_foreign_event_without_async_retries(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture, name: str | None
) -> None:
    event = sample(name) if name else {}
    assert step.handle(copy.deepcopy(event), cloud.env) == {"outcome": "ignored"}
    assert errors(caplog) == ["the step function received an event that is not a step invocation; ignored"]
    assert CALLS == [] and started(cloud) == []


# ---- the router (the router queue, which the EventBridge rules deliver to) ---------------------------


def test_router_drops_an_sqs_message_that_is_not_a_rule_delivery_once_without_a_batch_failure(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """An SQS batch is the router's own input now; a body that is no EventBridge event can never succeed, so
    it is not reported (which would redeliver it until the dead-letter queue) but logged once and dropped."""
    assert router.handle(sample("sqs_receive_message"), cloud.env) == {"batchItemFailures": []}
    assert errors(caplog) == ["malformed router message dropped"]
    assert started(cloud) == [] and cloud.store.query_items("EVT#") == []


@pytest.mark.parametrize("name", ["s3_put", "http_api_v2_post_events", None])
def test_router_ignores_a_foreign_event_without_async_retries(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture, name: str | None
) -> None:
    event = sample(name) if name else {}
    assert router.handle(event, cloud.env) == {"routed": False}
    assert errors(caplog) == ["the router received an event that is not an EventBridge event; ignored"]
    assert started(cloud) == [] and cloud.store.query_items("EVT#") == []


def test_router_routes_a_scheduled_event_like_any_eventbridge_event_and_starts_nothing(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """A raw scheduled event is a well-formed EventBridge event: logged in the event log, nothing waits for it."""
    assert router.handle(sample("cloudwatch_scheduled_event"), cloud.env) == {"routed": True}
    assert errors(caplog) == []
    assert started(cloud) == []
    assert [i.body["source"] for i in cloud.store.query_items("EVT#Scheduled Event")] == ["aws.events"]


def test_router_wrapped_trigger_event_with_a_malformed_event_is_ignored(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture
) -> None:
    assert router.handle({"trigger": "on-Order.created-fulfil", "event": "not an event"}, cloud.env) == {
        "routed": False
    }
    assert len(errors(caplog)) == 1 and started(cloud) == []


# ---- the sweeper (EventBridge Scheduler, input {}) -------------------------------------------------------


@pytest.mark.parametrize("name", ["cloudwatch_scheduled_event", None])
def test_sweeper_runs_on_its_scheduler_input_and_on_a_scheduled_event(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture, name: str | None
) -> None:
    event = sample(name) if name else {}
    assert sweeper.handle(event, cloud.env) == {"woken": []}
    assert errors(caplog) == []


@pytest.mark.parametrize("name", ["s3_put", "sqs_receive_message", "rest_api_v1_post_events"])
def test_sweeper_ignores_a_foreign_event_with_one_error(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    assert sweeper.handle(sample(name), cloud.env) == {"woken": [], "ignored": True}
    assert errors(caplog) == ["the sweeper received an event that is not a schedule; ignored"]
