"""Seed "Workflow Performance", "Workflow Caching" and "Workflow Debouncing" (functions/workflows_performance.py)."""

from __future__ import annotations

from datetime import timedelta

import fakes
from example_data import executions, step_names


def test_parallel_processing_three_ways(cloud, client):
    h = client.start("parallel-processing", {"id": "batch-1"})

    result = h.result()

    expected = [{"op": n, "value": f"batch-1:{n}"} for n in (1, 2, 3)]
    assert result["slow"] == expected
    assert result["fast"] == expected
    assert [r["op"] for r in result["limited"]] == list(range(100))  # in item order
    names = set(step_names(client, h.execution_id))
    assert {"sequential", "parallel"} <= names
    assert {f"operation-{i}" for i in range(100)} <= names


def test_at_most_ten_operations_run_at_once(cloud, client):
    client.start("parallel-processing", {"id": "batch-2"}).result()

    assert fakes.world.calls["compute.operation"] == 106  # 3 + 3 + 100
    assert 1 <= fakes.world.max_in_flight["compute.operation"] <= 10


def test_expensive_operation_is_cached_by_input_for_an_hour(cloud, client):
    first = client.start("expensive-operation", {"x": 1}).result()
    again = client.start("expensive-operation", {"x": 1}).result()
    other = client.start("expensive-operation", {"x": 2}).result()

    assert again == first
    assert other != first
    assert fakes.world.calls["compute.complex_calculation"] == 2  # {"x": 1} once, {"x": 2} once

    cloud.advance(timedelta(hours=1, minutes=1))
    assert client.start("expensive-operation", {"x": 1}).result() == first
    assert fakes.world.calls["compute.complex_calculation"] == 3  # expired, computed again


def test_entity_updates_are_debounced_per_entity(cloud, client):
    client.send_event("Entity.updated", {"entityId": "e-1", "version": 1})
    cloud.advance(timedelta(seconds=2))
    client.send_event("Entity.updated", {"entityId": "e-1", "version": 2})
    cloud.advance(timedelta(seconds=2))
    client.send_event("Entity.updated", {"entityId": "e-1", "version": 3})
    client.send_event("Entity.updated", {"entityId": "e-2", "version": 1})

    cloud.advance(timedelta(seconds=4))  # 4 s after the last update: still quiet
    assert fakes.world.index_updates == []

    cloud.advance(timedelta(seconds=2))

    updates = sorted(fakes.world.index_updates, key=lambda u: u["entityId"])
    assert [(u["entityId"], u["version"]) for u in updates] == [("e-1", 3), ("e-2", 1)]  # the latest event wins
    assert len(executions(client, "search-index-update", "SUCCEEDED")) == 2


def test_a_later_burst_updates_the_index_again(cloud, client):
    client.send_event("Entity.updated", {"entityId": "e-1", "version": 1})
    cloud.advance(timedelta(seconds=6))
    client.send_event("Entity.updated", {"entityId": "e-1", "version": 2})
    cloud.advance(timedelta(seconds=6))

    assert [u["version"] for u in fakes.world.index_updates] == [1, 2]
    assert fakes.world.search_index["e-1"]["version"] == 2


def test_broadcast_tolerates_ten_percent_bounces(cloud, client):
    subscribers = [f"user{i}@acme.example" for i in range(18)] + ["bounce1@acme.example", "bounce2@acme.example"]

    result = client.start("broadcast-announcement", subscribers).result()

    assert result == {"delivered": 18, "bounced": ["bounce1@acme.example", "bounce2@acme.example"],
                      "reason": "all_completed"}
    assert fakes.world.calls["notify"] == 18


def test_broadcast_over_the_tolerance_fails_and_starts_no_more_notifications(cloud, client):
    import pytest

    from stepbridge import ExecutionFailedError, NonRetryableError

    subscribers = [f"bounce{i}@x.example" for i in range(1, 5)] + [f"user{i}@x.example" for i in range(26)]
    h = client.start("broadcast-announcement", subscribers)
    with pytest.raises((ExecutionFailedError, NonRetryableError), match="bounce1"):
        h.result()
    history = client.history(h.execution_id)
    decided = [e.detail for e in history if e.detail_type == "Batch.decided"]
    assert decided and decided[0]["reason"] == "failure_tolerance_exceeded"  # 4 > 10 % of 30 = 3
    assert fakes.world.calls["notify"] < 26  # the items after the decision never started
