"""Seed "Workflow Patterns Library": circuit breaker and bulkhead (functions/workflows_patterns.py)."""

from __future__ import annotations

from datetime import timedelta

import fakes
import pytest
import workflows_patterns

from stepbridge.errors import ExecutionFailedError


def lookup(client, account_id="acc-1"):
    return client.start("crm-lookup", {"accountId": account_id}).result()


def test_a_healthy_crm_is_called(cloud, client):
    assert lookup(client) == {"source": "crm", "account": {"id": "acc-1", "name": "Account acc-1", "tier": "gold"}}
    assert fakes.world.crm_calls == ["acc-1"]


def test_breaker_opens_after_three_failures_and_stops_calling(cloud, client):
    fakes.knobs.crm_down = True

    for _ in range(3):
        assert lookup(client)["reason"] == "crm-error"
    assert len(fakes.world.crm_calls) == 3  # one attempt per call: every failure counts

    opened = lookup(client)

    assert opened["source"] == "fallback"
    assert opened["reason"] == "circuit-open"
    assert len(fakes.world.crm_calls) == 3  # the open breaker did not call the CRM


def test_breaker_lets_a_trial_through_after_the_cooldown(cloud, client):
    fakes.knobs.crm_down = True
    for _ in range(3):
        lookup(client)
    assert lookup(client)["reason"] == "circuit-open"

    cloud.advance(timedelta(seconds=30))
    assert lookup(client)["reason"] == "circuit-open"  # still cooling down

    cloud.advance(timedelta(seconds=31))
    fakes.knobs.crm_down = False
    assert lookup(client)["source"] == "crm"  # the half-open trial succeeded: closed again
    assert lookup(client)["source"] == "crm"
    assert len(fakes.world.crm_calls) == 5


def test_a_failed_trial_opens_the_breaker_again(cloud, client):
    fakes.knobs.crm_down = True
    for _ in range(3):
        lookup(client)
    cloud.advance(timedelta(seconds=61))

    assert lookup(client)["reason"] == "crm-error"  # the trial call
    assert lookup(client)["reason"] == "circuit-open"
    assert len(fakes.world.crm_calls) == 4


def test_bulkhead_renders_every_report(cloud, client):
    handles = [client.start("render-report", {"title": f"Q{n}"}) for n in range(1, 5)]

    results = [h.result() for h in handles]

    assert sorted(r["title"] for r in results) == ["Q1", "Q2", "Q3", "Q4"]
    assert len(fakes.world.renders) == 4
    assert fakes.world.max_in_flight["compute.render_report"] <= 2
    assert workflows_patterns.renderer_bulkhead.holders(cloud.store) == {}  # every slot given back


def test_a_failed_render_gives_its_slot_back(cloud, client):
    render = cloud.mock_step("render", RuntimeError("renderer crashed"))
    handle = client.start("render-report", {"title": "broken"})

    # The slot stays taken while the render is retried (its backoff waits are durable timers) ...
    assert len(workflows_patterns.renderer_bulkhead.holders(cloud.store)) == 1
    with pytest.raises(ExecutionFailedError, match="renderer crashed"):
        handle.result()  # runs the virtual clock through the retries
    # ... and is given back once the render has finally failed.
    assert workflows_patterns.renderer_bulkhead.holders(cloud.store) == {}
    assert render.call_count == 3  # the default retry policy's attempts, all while holding the slot
