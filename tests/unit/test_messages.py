"""Work-queue messages are parsed once into typed messages; their JSON is what earlier versions sent."""

from __future__ import annotations

import json

import pytest

from stepbridge.handlers.orchestrator import _group
from stepbridge.runtime.messages import (
    DebounceFire,
    ScheduleFire,
    message_group,
    parse_message,
    schedule_fire_body,
)
from stepbridge.runtime.records import WakeMessage

#: Bodies exactly as earlier versions wrote them (router, LocalCloud, the compiled template, provision.py).
OLD_SCHEDULE = {
    "execution_id": "$schedule:nightly",
    "reason": "schedule",
    "dedup": "2026-01-01T00:00:00Z",
    "data": {"schedule": "nightly", "scheduled_time": "2026-01-01T00:00:00Z"},
}
OLD_TEMPLATE_SCHEDULE = (
    '{"execution_id": "$schedule:nightly", "reason": "schedule", "dedup": "<aws.scheduler.scheduled-time>", '
    '"data": {"schedule": "nightly", "scheduled_time": "<aws.scheduler.scheduled-time>"}}'
)
OLD_PROVISION_SCHEDULE = {"execution_id": "$schedule:nightly", "reason": "schedule"}
OLD_DEBOUNCE = {
    "execution_id": "$debounce:" + "0" * 40,
    "reason": "debounce",
    "dedup": "3",
    "data": {"trigger": "on-order", "key": "cust-1", "version": 3},
}
OLD_WAKES = [
    {"execution_id": "e-1", "reason": "start", "dedup": "start"},
    {"execution_id": "e-1", "reason": "step", "dedup": "report:charge",
     "data": {"reports": [{"key": "charge", "record": {"op": "charge"}}]}},
    {"execution_id": "e-1", "reason": "timer", "dedup": "timer:nap"},
    {"execution_id": "e-1", "reason": "event", "dedup": "event:ev-1:w"},
    {"execution_id": "e-1", "reason": "child", "dedup": "child:c"},
    {"execution_id": "e-1", "reason": "cancel", "dedup": "cancel"},
    {"execution_id": "e-1", "reason": "sweep", "dedup": "sweep:1"},
]


@pytest.mark.parametrize("body", OLD_WAKES, ids=[w["reason"] for w in OLD_WAKES])
def test_every_wake_reason_parses_to_a_wake_and_serializes_back_unchanged(body: dict[str, object]) -> None:
    message = parse_message(body)
    assert isinstance(message, WakeMessage)
    assert message.execution_id == "e-1" and message.reason == body["reason"]
    assert message_group(message) == "e-1"
    assert json.dumps(message.to_dict()) == json.dumps(body)


def test_schedule_fire_parses_and_keeps_its_bytes() -> None:
    fire = parse_message(OLD_SCHEDULE)
    assert fire == ScheduleFire("nightly", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z")
    assert json.dumps(fire.to_dict()) == json.dumps(OLD_SCHEDULE)
    assert message_group(fire) == "$schedule:nightly"
    assert json.dumps(schedule_fire_body("nightly")) == OLD_TEMPLATE_SCHEDULE


def test_a_schedule_body_without_data_names_its_schedule_by_the_id() -> None:
    assert parse_message(OLD_PROVISION_SCHEDULE) == ScheduleFire("nightly", None, "")


def test_debounce_fire_parses_and_keeps_its_bytes_and_made_up_group() -> None:
    fire = parse_message(OLD_DEBOUNCE)
    assert fire == DebounceFire("on-order", "cust-1", 3)
    assert isinstance(fire, DebounceFire)
    assert fire.group.startswith("$debounce:") and len(fire.group) == 50
    assert fire.to_dict()["data"] == OLD_DEBOUNCE["data"] and fire.to_dict()["dedup"] == "3"
    rearmed = DebounceFire("on-order", "cust-1", 3, rearmed="2026-01-01T00:00:05+00:00")
    assert parse_message(rearmed.to_dict()) == rearmed
    assert list(rearmed.to_dict()["data"]) == ["trigger", "key", "version", "rearmed"]  # type: ignore[call-overload]


def test_the_debounce_group_is_the_hash_earlier_versions_used() -> None:
    import hashlib

    expected = "$debounce:" + hashlib.sha256(b"on-order|cust-1").hexdigest()[:40]
    assert DebounceFire("on-order", "cust-1", 1).group == expected


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "start"},  # no execution id
        {"execution_id": "$debounce:x", "reason": "debounce", "data": {"key": "k", "version": 1}},  # no trigger
        {"execution_id": "$debounce:x", "reason": "debounce", "data": {"trigger": "t", "key": "k", "version": [1]}},
    ],
)
def test_malformed_bodies_raise_what_the_handler_drops(body: dict[str, object]) -> None:
    with pytest.raises((KeyError, ValueError, TypeError)):
        parse_message(body)


def test_receive_count_is_kept_on_wakes_only() -> None:
    wake = parse_message(OLD_WAKES[0], receives=3)
    assert isinstance(wake, WakeMessage) and wake.receives == 3
    assert parse_message(OLD_SCHEDULE, receives=3) == ScheduleFire("nightly", "2026-01-01T00:00:00Z",
                                                                    "2026-01-01T00:00:00Z")


def test_a_batch_merges_wakes_per_execution_and_keeps_every_fire_apart() -> None:
    records = [
        {"messageId": str(i), "body": json.dumps(body)}
        for i, body in enumerate([OLD_WAKES[1], OLD_SCHEDULE, OLD_WAKES[6], OLD_SCHEDULE, OLD_DEBOUNCE, OLD_WAKES[2]])
    ]
    grouped = _group(records)
    kinds = [(type(m).__name__, ids) for m, ids in grouped]
    assert kinds == [
        ("WakeMessage", ["0", "2", "5"]),
        ("ScheduleFire", ["1"]),
        ("ScheduleFire", ["3"]),
        ("DebounceFire", ["4"]),
    ]
    merged = grouped[0][0]
    assert isinstance(merged, WakeMessage)
    assert merged.reason == "sweep" and merged.timer_keys == ["nap"]
    assert merged.reports == [{"key": "charge", "record": {"op": "charge"}}]
