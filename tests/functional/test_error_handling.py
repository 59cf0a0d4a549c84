"""Seed "Workflow Error Handling": retries, fallback, timeouts (functions/workflows_errors.py)."""

from __future__ import annotations

import fakes
import pytest
from example_data import journal, step_names

from stepbridge.errors import ExecutionFailedError


def test_api_call_succeeds_on_the_third_attempt(cloud, client):
    fakes.knobs.external_api_failures = 2
    h = client.start("api-call", {"q": "status"})

    result = h.result()

    assert result == {"ok": True, "echo": {"q": "status"}, "attempt": 3}
    failures = journal(client, h.execution_id, "Step.attempt_failed", "call-api")
    assert [f["attempt"] for f in failures] == [1, 2]
    # exponential from 1 s with jitter drawn from [delay/2, delay]: ~1 s, then ~2 s
    assert 0.5 <= failures[0]["delay"] <= 1.0
    assert 1.0 <= failures[1]["delay"] <= 2.0


def test_api_call_gives_up_after_three_attempts(cloud, client):
    fakes.knobs.external_api_failures = 3
    h = client.start("api-call", {"q": "status"})

    with pytest.raises(ExecutionFailedError):
        h.result()

    error = client.describe(h.execution_id).error
    assert error["type"].endswith("ExternalAPIError")
    assert "503" in error["message"]
    assert fakes.world.calls["external_api.call"] == 3
    assert step_names(client, h.execution_id, "Step.failed") == ["call-api"]


def test_resilient_uses_the_primary_result_when_it_works(cloud, client):
    h = client.start("resilient", {"id": "r-1"})

    assert h.result() == {"source": "primary", "value": {"id": "r-1"}}
    assert fakes.world.error_log == []
    assert "fallback" not in step_names(client, h.execution_id)


def test_resilient_logs_the_error_and_falls_back(cloud, client):
    fakes.knobs.risky_fails = True
    h = client.start("resilient", {"id": "r-1"})

    assert h.result() == {"source": "fallback", "value": {"id": "r-1"}}
    entry = fakes.world.error_log[0]
    assert len(fakes.world.error_log) == 1
    assert entry["error"] == "RiskyOperationError: risky operation blew up"
    assert entry["data"] == {"id": "r-1"}
    assert fakes.world.calls["compute.risky"] == 3  # the default policy: 3 attempts before giving up
    assert {"log-error", "fallback"} <= set(step_names(client, h.execution_id))
    assert step_names(client, h.execution_id, "Step.failed") == ["risky-operation"]


def test_timed_returns_when_the_operation_is_quick_enough(cloud, client):
    fakes.knobs.slow_operation_seconds = 20

    assert client.start("timed", {"n": 1}).result() == {"done": True, "input": {"n": 1}}
    assert fakes.world.calls["compute.slow"] == 1


def test_timed_fails_with_step_timeout_past_30_seconds(cloud, client):
    fakes.knobs.slow_operation_seconds = 45  # virtual seconds: the test does not wait
    h = client.start("timed", {"n": 1})

    with pytest.raises(ExecutionFailedError):
        h.result()

    error = client.describe(h.execution_id).error
    assert error["type"].endswith("StepTimeout")
    assert "slow-operation" in error["message"]
    assert fakes.world.calls["compute.slow"] == 3  # the default policy: 3 attempts, each cut at 30 s
    assert len(journal(client, h.execution_id, "Step.attempt_failed", "slow-operation")) == 2
