"""The engine's vocabulary (runtime/vocabulary.py): every member is pinned to the string stored today.

A rename of a member's value would change what is written to DynamoDB, SQS and Scheduler, and
journals written before it would no longer replay: these tables make such a change fail loudly.
"""

from __future__ import annotations

import json

import pytest

from stepbridge.runtime import engine, lifecycle, records
from stepbridge.runtime.executions import HISTORY_NAMES, history
from stepbridge.runtime.records import ExecutionRecord, JournalRecord, WakeMessage
from stepbridge.runtime.vocabulary import (
    FINAL_KINDS,
    INSTANT_TYPES,
    SPECIAL_REASONS,
    TERMINAL,
    TIMED_KINDS,
    UNFINISHED,
    Ending,
    Kind,
    OpType,
    Reason,
    Status,
    TimerReason,
    is_terminal,
    parse,
)

PINNED: dict[type, dict[str, str]] = {
    Status: {
        "RUNNING": "RUNNING",
        "SUCCEEDED": "SUCCEEDED",
        "FAILED": "FAILED",
        "CANCELLED": "CANCELLED",
        "SCHEDULED": "SCHEDULED",
        "TIMED_OUT": "TIMED_OUT",
    },
    Ending: {
        "SUCCEEDED": "succeeded",
        "FAILED": "failed",
        "CANCELLED": "cancelled",
        "SUSPENDED": "suspended",
        "CONTINUED": "continued",
        "TIMED_OUT": "timed_out",
    },
    OpType: {
        "STEP": "step",
        "SLEEP": "sleep",
        "WAIT": "wait",
        "CHILD": "child",
        "SEND": "send",
        "NOW": "now",
        "PROGRESS": "progress",
        "STATUS": "status",  # ctx.set_status (issue 14)
        "PATCH": "patch",
        "CACHE": "cache",
        "ACK": "ack",
        "REPLAYED": "replayed",
    },
    Kind: {
        "RESULT": "result",
        "ERROR": "error",
        "TIMEOUT": "timeout",
        "ATTEMPT": "attempt",
        "DISPATCH": "dispatch",
        "RETRY": "retry",
        "STARTED": "started",
        "WAIT": "wait",
        "TIMER": "timer",
        "SENT": "sent",
        "NOW": "now",
        "PROGRESS": "progress",
        "STATUS": "status",  # ctx.set_status (issue 14)
        "PATCH": "patch",
        "ACK": "ack",
        "ANNOUNCE": "announce",
        "REPLAYED": "replayed",
    },
    Reason: {
        "START": "start",
        "STEP": "step",
        "TIMER": "timer",
        "EVENT": "event",
        "CHILD": "child",
        "CANCEL": "cancel",
        "CONTINUE": "continue",
        "SWEEP": "sweep",
        "SCHEDULE": "schedule",
        "DEBOUNCE": "debounce",
    },
    TimerReason: {
        "SLEEP": "sleep",
        "RETRY": "retry",
        "DEADLINE": "deadline",
        "WAIT_TIMEOUT": "wait-timeout",
        "INTERRUPTED": "interrupted",
        "EXECUTION_DEADLINE": "execution-deadline",
    },
}


@pytest.mark.parametrize("enum", list(PINNED), ids=lambda e: e.__name__)
def test_every_member_is_the_string_stored_today(enum: type) -> None:
    assert {m.name: m.value for m in enum} == PINNED[enum]
    for name, value in PINNED[enum].items():
        member = enum[name]
        # the member IS its string wherever it goes: comparison, hashing, formatting, JSON, repr
        assert member == value and hash(member) == hash(value)
        assert str(member) == f"{member}" == value and type(str(member)) is str
        assert json.dumps({"v": member}) == json.dumps({"v": value})
        assert repr(member) == repr(value)
        assert {value: 1}[member] == 1


def test_the_sets_of_the_vocabulary() -> None:
    assert {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"} == TERMINAL
    assert {"RUNNING", "SCHEDULED"} == UNFINISHED
    assert {"result", "error", "timeout"} == FINAL_KINDS
    assert {"dispatch", "attempt", "retry", "wait"} == TIMED_KINDS
    assert {"send", "progress", "status", "now", "patch", "cache"} == INSTANT_TYPES
    assert {"schedule", "debounce"} == SPECIAL_REASONS
    assert [s for s in Status if s.terminal] == [Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.TIMED_OUT]
    assert [k for k in Kind if k.final] == [Kind.RESULT, Kind.ERROR, Kind.TIMEOUT]
    assert is_terminal("FAILED") and not is_terminal("RUNNING") and not is_terminal("succeeded")


def test_one_mapping_from_a_replay_ending_to_the_status_it_records() -> None:
    assert {e: e.status for e in (Ending.SUCCEEDED, Ending.FAILED, Ending.CANCELLED, Ending.TIMED_OUT)} == {
        Ending.SUCCEEDED: "SUCCEEDED",
        Ending.FAILED: "FAILED",
        Ending.CANCELLED: "CANCELLED",
        Ending.TIMED_OUT: "TIMED_OUT",
    }
    for ending in (Ending.SUSPENDED, Ending.CONTINUED):
        with pytest.raises(ValueError, match=f"ended '{ending.value}' records no execution status"):
            _ = ending.status


def test_old_module_constants_are_the_members() -> None:
    assert (records.RUNNING, records.SUCCEEDED, records.FAILED, records.CANCELLED, records.SCHEDULED) == (
        Status.RUNNING,
        Status.SUCCEEDED,
        Status.FAILED,
        Status.CANCELLED,
        Status.SCHEDULED,
    )
    assert records.TERMINAL is TERMINAL and set(PINNED[Status].values()) == records.STATUSES
    assert records.ANNOUNCE is Kind.ANNOUNCE
    assert (engine.SUCCEEDED, engine.SUSPENDED, engine.CONTINUED) == (
        Ending.SUCCEEDED,
        Ending.SUSPENDED,
        Ending.CONTINUED,
    )
    assert lifecycle.FINAL_KINDS is FINAL_KINDS
    assert [lifecycle.NOT_DISPATCHED, lifecycle.RETRY_WAIT, lifecycle.INTERRUPTED] == [
        "not_dispatched",
        "retry_wait",
        "interrupted",
    ]


def test_parse_keeps_unknown_words() -> None:
    assert parse(Kind, "result") is Kind.RESULT
    assert parse(Kind, "something-newer") == "something-newer"
    assert type(parse(Kind, "something-newer")) is str


def test_stored_records_read_back_as_members_and_write_the_same_bytes() -> None:
    """A journal item and a wake-up body written before the enums existed read back into members
    and serialize to the very same JSON."""
    stored = {
        "key": "charge#a1",
        "op": "charge",
        "type": "step",
        "kind": "attempt",
        "data": {"error": {"type": "x"}, "attempt": 1},
        "at": "2026-01-01T00:00:00.000000+00:00",
    }
    rec = JournalRecord.from_dict(json.loads(json.dumps(stored)))
    assert rec.type is OpType.STEP and rec.kind is Kind.ATTEMPT
    assert json.dumps(rec.to_dict(), sort_keys=True) == json.dumps(stored, sort_keys=True)

    newer = JournalRecord.from_dict({**stored, "type": "callback", "kind": "granted"})
    assert (newer.type, newer.kind) == ("callback", "granted")  # unknown words survive a round trip

    body = {"execution_id": "e-1", "reason": "timer", "dedup": "timer:nap"}
    message = WakeMessage.from_dict(body)
    assert message.reason is Reason.TIMER and message.to_dict() == body
    assert json.dumps(message.to_dict()) == json.dumps(body)

    header = ExecutionRecord.from_dict({"execution_id": "e-1", "workflow": "w", "status": "SUCCEEDED"})
    assert header.status is Status.SUCCEEDED and header.terminal
    assert json.dumps(header.to_dict()) == json.dumps(
        {**ExecutionRecord("e-1", "w", "SUCCEEDED").to_dict()}
    )


def _rec(key: str, op: str, type_: str, kind: str, seq: int = 0) -> JournalRecord:
    return JournalRecord(key=key, op=op, type=type_, kind=kind, at="2026-01-01T00:00:00.000000+00:00", seq=seq)


def test_record_predicates() -> None:
    assert [k for k in Kind if _rec("a", "a", "step", k).is_final] == [Kind.RESULT, Kind.ERROR, Kind.TIMEOUT]
    assert _rec("$ack#3", "$ack", "ack", "ack", seq=3).is_ack
    assert _rec("$ack#3", "$ack", "ack", "announce", seq=3).is_announcement
    assert not _rec("$ack#3", "$ack", "ack", "ack", seq=3).is_announcement
    assert _rec("a#d1", "a", "step", "dispatch", seq=1).is_dispatch
    assert _rec("a#s2", "a", "step", "started", seq=2).is_started
    # foreign: another writer's report (no seq, not bookkeeping, not a started marker)
    assert _rec("a", "a", "step", "result").foreign
    assert not _rec("a#started", "a", "step", "started").foreign
    assert not _rec("$replayed", "$replayed", "replayed", "replayed").foreign
    assert not _rec("a", "a", "step", "result", seq=4).foreign


def test_history_names_every_record_as_before() -> None:
    """``executions.history``'s names are public (``client.history``); the table is keyed by members
    but answers for plain strings (records read from JSON before parsing was added, or by tests)."""
    assert HISTORY_NAMES[("step", "result")] == "Step.completed"
    assert HISTORY_NAMES[("wait", "timeout")] == "Wait.timed_out"
    header = ExecutionRecord("e-1", "w", "FAILED", started_at="t0", ended_at="t9", error={"type": "x"})
    events = history(
        [
            _rec("nap", "nap", "sleep", "timer", seq=1),
            _rec("$ack#2", "$ack", "ack", "ack", seq=2),
            _rec("x", "x", "patch", "patch", seq=3),
        ],
        header,
    )
    assert [e["detail_type"] for e in events] == ["Workflow.started", "Timer.started", "Patch.patch", "Workflow.failed"]
