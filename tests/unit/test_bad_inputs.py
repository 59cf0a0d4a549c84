"""Bad inputs that docs/RELIABILITY.md lists and no other test covers: a clear error, nothing started or lost.

Each test names the input, checks the error the user sees and that nothing was created, sent or
left running (the rest of the catalogue points at tests elsewhere).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.errors import ResultNotSerializable, UnknownWorkflowError, WorkflowDefinitionError
from stepbridge.local import LocalCloud

RUNS: dict[str, int] = {}


def bad_app() -> App:
    app = App("bad")

    @app.step(timeout=10)
    def ingest(blob: str) -> int:
        RUNS["ingest"] = RUNS.get("ingest", 0) + 1
        return len(blob)

    @app.workflow("echo")
    async def echo(ctx: Context, value: Any) -> Any:
        return value

    @app.workflow("set-result")
    async def set_result(ctx: Context) -> Any:
        def returns_an_object() -> Any:
            RUNS["set"] = RUNS.get("set", 0) + 1
            return object()

        return await ctx.step("make-set", returns_an_object, retry=Retry(max_attempts=3))

    @app.workflow("big-argument")
    async def big_argument(ctx: Context) -> Any:
        return await ctx.step("ingest", ingest, "z" * (1100 * 1024))  # over Lambda's 1 MB async payload

    @app.workflow("bad-step-name")
    async def bad_step_name(ctx: Context, name: str) -> Any:
        return await ctx.step(name, lambda: 1)

    @app.workflow("object-result")
    async def object_result(ctx: Context) -> Any:
        return object()

    @app.workflow("bad-wait")
    async def bad_wait(ctx: Context) -> Any:
        return await ctx.wait_for("", timeout=timedelta(minutes=1))

    return app


@pytest.fixture
def cloud() -> Any:
    RUNS.clear()
    with LocalCloud(bad_app(), backend="memory") as c:
        yield c


def nothing_started(cloud: LocalCloud) -> None:
    assert cloud.client().list() == []
    assert cloud.resources.queue_depth() == 0
    assert [t for t in cloud.timers.pending() if t.schedule is None] == []


def test_start_with_an_input_that_is_not_json_raises_and_starts_nothing(cloud: LocalCloud) -> None:
    with pytest.raises(ResultNotSerializable, match="the input of workflow 'echo'"):
        cloud.client().start("echo", {"when": object()})
    nothing_started(cloud)


@pytest.mark.parametrize("execution_id", ["has spaces", "x" * 129, "semi;colon", "slash/es"])
def test_start_with_an_invalid_execution_id_raises_and_starts_nothing(cloud: LocalCloud, execution_id: str) -> None:
    with pytest.raises(ValueError, match="execution id"):
        cloud.client().start("echo", 1, execution_id=execution_id)
    nothing_started(cloud)


def test_start_of_an_unknown_workflow_raises_and_starts_nothing(cloud: LocalCloud) -> None:
    with pytest.raises(UnknownWorkflowError, match=r"no-such.*known: \['bad-step-name'"):
        cloud.client().start("no-such")
    nothing_started(cloud)


def test_step_result_that_is_not_json_fails_naming_the_step_without_retries(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("set-result")
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.ResultNotSerializable"
    assert "the result of step 'make-set'" in desc.error["message"]
    assert RUNS["set"] == 1


@pytest.mark.usefixtures("without_payload_bucket")  # with one, a large argument is a claim check
def test_declared_step_arguments_over_1_mb_fail_naming_the_step_and_run_nothing(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("big-argument")
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
    assert "step 'ingest'" in desc.error["message"] and "1,048,576 bytes" in desc.error["message"]
    assert RUNS == {}
    assert [t for t in cloud.timers.pending() if t.schedule is None] == []  # its deadline timer is gone


@pytest.mark.parametrize(
    ("name", "reason"),
    [("", "non-empty"), ("$cache", "reserved"), ("n" * 401, "at most 400"), ("é" * 201, "at most 400 bytes")],
)
def test_invalid_step_names_fail_the_execution_with_a_definition_error(
    cloud: LocalCloud, name: str, reason: str
) -> None:
    client = cloud.client()
    h = client.start("bad-step-name", name)
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.WorkflowDefinitionError"
    assert reason in desc.error["message"]


def test_workflow_result_that_is_not_json_fails_the_execution(cloud: LocalCloud) -> None:
    client = cloud.client()
    desc = client.describe(client.start("object-result").execution_id)
    assert desc.status == "FAILED" and "the result of workflow 'object-result'" in desc.error["message"]


def test_wait_for_an_invalid_event_type_fails_with_a_definition_error(cloud: LocalCloud) -> None:
    client = cloud.client()
    desc = client.describe(client.start("bad-wait").execution_id)
    assert desc.status == "FAILED" and "not a valid EventBridge detail-type" in desc.error["message"]
    assert cloud.store.query_items("WAIT#") == []


def test_malformed_work_queue_message_is_dropped_and_logged(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture
) -> None:
    """A poison body can never succeed: the orchestrator drops it (logged) instead of looping to the DLQ."""
    from stepbridge.handlers import orchestrator

    result = orchestrator.handle(
        {"Records": [{"messageId": "m1", "body": "{not json"}, {"messageId": "m2", "body": json.dumps({"no": "id"})}]},
        cloud.env,
    )
    assert result == {"batchItemFailures": []}
    assert [r.getMessage() for r in caplog.records].count("malformed work message dropped") == 2
    nothing_started(cloud)


def test_event_for_an_unknown_trigger_is_logged_and_ignored(
    cloud: LocalCloud, caplog: pytest.LogCaptureFixture
) -> None:
    from stepbridge.handlers import router

    assert router.handle({"trigger": "gone", "event": {"detail-type": "X.y", "detail": {}}}, cloud.env) == {
        "started": None
    }
    assert "event for unknown trigger" in [r.getMessage() for r in caplog.records]
    nothing_started(cloud)


def test_definition_errors_are_raised_when_the_app_is_declared() -> None:
    app = App("defs")
    with pytest.raises(ValueError, match="max_attempts"):
        Retry(max_attempts=0)
    with pytest.raises(WorkflowDefinitionError, match="async def"):

        @app.workflow("sync")
        def sync(ctx: Context) -> None: ...

    with pytest.raises(WorkflowDefinitionError, match="app name"):
        App("Not_Valid")
