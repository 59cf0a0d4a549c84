"""Seed "Workflow Monitoring": progress tracking and metrics (functions/workflows_monitoring.py)."""

from __future__ import annotations

import pytest
from example_data import emitted, only

from stepbridge.errors import ExecutionFailedError
from stepbridge.runtime.observability import recorded_metrics


def test_tracked_reports_progress_once_per_stage(cloud, client):
    h = client.start("tracked", {"id": "d-1"})

    result = h.result()

    assert result["stages"] == ["validate", "transform", "enrich", "store", "publish"]
    assert [r["op"] for r in result["results"]] == [1, 2, 3, 4, 5]
    progress = [e for e in emitted(cloud, "Workflow.progress") if e["execution_id"] == h.execution_id]
    # once per call, never again on replay (each step makes the workflow replay)
    assert [(p["step"], p["total"]) for p in progress] == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5), (5, 5)]
    assert progress[0]["message"] == "validate started"
    assert client.describe(h.execution_id).progress == {"step": 5, "total": 5, "message": "done"}


def test_tracked_progress_is_visible_while_running(cloud, client):
    # stage 3 fails once, so the execution waits for its retry timer: describe() meanwhile shows
    # the progress reached so far.
    calls = {"n": 0}

    def flaky(data, number):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("transient")
        return {"op": number}

    cloud.mock_step("step-3", flaky)
    h = client.start("tracked", {"id": "d-2"})

    running = client.describe(h.execution_id)
    assert running.status == "RUNNING"
    assert running.progress == {"step": 3, "total": 5, "message": "enrich started"}
    assert h.result()["results"][2] == {"op": 3}


def test_measured_records_duration_and_status(cloud, client):
    before = len(recorded_metrics)
    result = client.start("measured", {"id": "m-1"}).result()

    assert result == {"op": 1, "value": "m-1:1"}
    record = only(emitted(cloud, "Metric.record"))
    assert record["workflow"] == "measured"
    assert record["status"] == "success"
    assert record["duration"] >= 0
    names = [m["name"] for m in recorded_metrics[before:]]
    assert "WorkflowDuration" in names
    assert "WorkflowSucceeded" in names


def test_measured_records_a_failure_too(cloud, client):
    cloud.mock_step("operation", RuntimeError("operation broke"))
    h = client.start("measured", {"id": "m-2"})

    with pytest.raises(ExecutionFailedError):
        h.result()
    assert only(emitted(cloud, "Metric.record"))["status"] == "failure"
    assert client.describe(h.execution_id).error["message"] == "operation broke"
