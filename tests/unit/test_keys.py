"""Every stored key (runtime/keys.py), pinned literally: builders, parsers and the items the stores write.

Keys are part of the stored format (DynamoDB items, Scheduler schedule names, SQS bodies): a
journal written before any change here must replay unchanged, so each expected value below is
the literal string written today.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from stepbridge.infra.dynamodb import execution_attrs, journal_attrs
from stepbridge.runtime import keys
from stepbridge.runtime.keys import RecordKey, parse_key
from stepbridge.runtime.records import ExecutionRecord, JournalRecord, WakeMessage, status_cursor
from stepbridge.runtime.vocabulary import Kind, OpType, Status, TimerReason


def test_journal_record_keys() -> None:
    assert keys.attempt_key("charge", 2) == "charge#a2"
    assert keys.dispatch_key("charge", 1) == "charge#d1"
    assert keys.retry_key("charge", 3) == "charge#r3"
    assert keys.wait_key("approval") == "approval#w"
    assert keys.started_marker("charge", 2) == "charge#s2"
    assert keys.at_most_once_marker("charge") == "charge#started"
    assert keys.batch_op("charge") == "$batch:charge"  # a ctx.map completion decision (runtime/batch.py)
    assert keys.batch_late_key("$batch:charge", 7) == "$batch:charge#late7"
    assert keys.ack_key(7) == "$ack#7"
    assert keys.log_slot(12) == "$L0000000012"
    assert (keys.ACK_OP, keys.REPLAYED, keys.CACHE_OP, keys.LOG_SLOT_PREFIX) == ("$ack", "$replayed", "$cache", "$L")


@pytest.mark.parametrize("op", ["charge", "send#2", "a#b#c", "x#w#a1", "ship@0.1#3", "é#started"])
@pytest.mark.parametrize(
    ("build", "part", "attempt"),
    [
        (lambda op: op, "", 0),
        (lambda op: keys.attempt_key(op, 1), "attempt", 1),
        (lambda op: keys.attempt_key(op, 12), "attempt", 12),
        (lambda op: keys.dispatch_key(op, 3), "dispatch", 3),
        (lambda op: keys.retry_key(op, 2), "retry", 2),
        (lambda op: keys.started_marker(op, 4), "started", 4),
        (lambda op: keys.wait_key(op), "wait", 0),
        (lambda op: keys.at_most_once_marker(op), "at_most_once", 0),
    ],
)
def test_parse_key_inverts_every_builder(op: str, build: object, part: str, attempt: int) -> None:
    key = build(op)  # type: ignore[operator]
    parsed = parse_key(key)
    if part == "" and parse_key(op).part:
        # an operation named like a suffixed key (``x#w#a1``) reads as that key: the builders never
        # produce such a name from another operation, and parse_key documents the ambiguity
        assert parsed == parse_key(op)
    else:
        assert parsed == RecordKey(op, part, attempt)


@pytest.mark.parametrize("key", ["plain", "send#2", "a#", "#w", "x#a", "x#a0", "x#d01", "x#s-1", "x#W"])
def test_parse_key_reads_other_hashes_as_part_of_the_name(key: str) -> None:
    assert parse_key(key) == RecordKey(key)


def test_wait_timer_key_names_its_operation() -> None:
    assert keys.waited_op("approval#w") == "approval"
    assert keys.waited_op("approval#d1") is None


def test_table_layout() -> None:
    assert keys.execution_key("e-1") == ("EXEC#e-1", "META")
    assert keys.execution_id_of("EXEC#e-1") == "e-1" and keys.execution_id_of("WAIT#x") is None
    assert keys.journal_sk("charge#a1") == "J#charge#a1"
    assert keys.slot_of_sk("J#$L0000000001") == "$L0000000001" and keys.slot_of_sk("META") is None
    assert keys.log_sk_from(5) == "J#$L0000000005"
    assert keys.LOG_SK_END == "J#$L~"
    assert keys.workflow_pk("orders") == "WF#orders"
    assert keys.status_pk(Status.RUNNING) == "STATUS#RUNNING"
    assert keys.created_cursor("2026-01-01T00:00:00.000000+00:00", "e-1") == "2026-01-01T00:00:00.000000+00:00#e-1"
    assert keys.waiter_pk("Order.paid") == "WAIT#Order.paid"
    assert keys.waiter_sk("e-1", "pay") == "e-1#pay"
    assert keys.event_log_pk("Order.paid") == "EVT#Order.paid"
    assert keys.event_log_sk("2026-01-01T00:00:00.000000+00:00", "ev-1") == "2026-01-01T00:00:00.000000+00:00#ev-1"
    assert keys.cache_pk(keys.step_cache_key("quote", "abc")) == "CACHE#step:quote:abc"
    assert keys.cache_pk(keys.explicit_cache_key("k1")) == "CACHE#step:k1"
    assert keys.cache_pk(keys.workflow_cache_key("orders", "h")) == "CACHE#wf:orders:h"
    assert keys.CACHE_SK == "CACHE"
    assert keys.debounce_pk("batch") == "DEBOUNCE#batch"
    assert keys.machine_pk("door") == "SM#door"
    assert keys.machine_lock_sk("d1") == "d1#lock"
    assert keys.machine_rejections_sk("d1") == "d1#rejections"
    assert keys.idempotency_pk("app") == "IDEMPOTENCY#app"
    assert keys.SWEEPER_PK == "SWEEPER"
    assert keys.breaker_key("api") == ("BREAKER#api", "STATE")
    assert keys.bulkhead_key("db") == ("BULKHEAD#db", "SLOTS")


def test_fitted_key_parts_and_automatic_operation_names() -> None:
    assert keys.fit_key("k" * 512) == "k" * 512
    long = "é" * 400  # 800 bytes of UTF-8
    fitted = keys.fit_key(long)
    assert len(fitted.encode()) <= 512 and fitted.endswith("#h" + hashlib.sha256(long.encode()).hexdigest())
    assert keys.scoped_name("sleep", "") == "sleep" and keys.scoped_name("sleep", "0.1.") == "sleep@0.1"
    assert [keys.numbered_name("sleep@0.1", n) for n in (1, 2, 3)] == ["sleep@0.1", "sleep@0.1#2", "sleep@0.1#3"]


def test_timer_names_are_the_schedules_already_created() -> None:
    """A pending schedule is found (and deleted) by the name it was created under."""
    digest = hashlib.sha256(b"e-1|charge#d1").hexdigest()[:48]
    assert keys.timer_name("e-1", "charge#d1") == f"sb-{digest}"
    assert keys.start_timer_name("e-1") == "sb-" + hashlib.sha256(b"e-1|$start").hexdigest()[:48]
    assert keys.deadline_timer_name("e-1") == "sb-" + hashlib.sha256(b"e-1|$deadline").hexdigest()[:48]
    assert keys.debounce_timer_name("t", "k", 3) == "sb-d-" + hashlib.sha256(b"t|k|3").hexdigest()[:40]
    names = (keys.timer_name("e" * 128, "x" * 500), keys.start_timer_name("é"), keys.debounce_timer_name("t", "k", 1))
    for name in names:
        assert re.fullmatch(r"[0-9A-Za-z_.-]{1,64}", name)  # EventBridge Scheduler's Name constraint


def test_wake_up_values() -> None:
    assert keys.timer_reason(TimerReason.SLEEP, "nap") == "sleep:nap"
    assert keys.timer_reason(TimerReason.WAIT_TIMEOUT, "ok") == "wait-timeout:ok"
    assert keys.timer_dedup("nap") == "timer:nap"
    assert keys.timer_key_of("timer:charge#r1") == "charge#r1" and keys.timer_key_of("start") is None
    assert keys.sweep_dedup("2026-01-01T00:05") == "sweep:2026-01-01T00:05"
    assert keys.event_dedup("ev-1", "pay") == "event:ev-1:pay"
    assert keys.event_dedup("ev-1", None) == "event:ev-1:None"  # a waiter item without ``op`` (as before)
    assert keys.child_dedup("sub") == "child:sub"
    assert keys.step_report_dedup("charge", 2, Kind.RESULT) == "step:charge:2:result"
    assert keys.continue_dedup("big", 1, "t0") == "continue:big:1:t0"
    assert (keys.START_DEDUP, keys.CANCEL_DEDUP) == ("start", "cancel")
    assert keys.schedule_id("nightly") == "$schedule:nightly"
    assert keys.debounce_message_id("t", "k") == "$debounce:" + hashlib.sha256(b"t|k").hexdigest()[:40]
    merged = WakeMessage("e-1", "timer", keys.timer_dedup("a"), {"timers": ["b", "a"]})
    assert merged.timer_keys == ["a", "b"]


def test_store_items_are_byte_identical() -> None:
    """The DynamoDB items of a header and of journal records, as written before keys.py existed."""
    header = ExecutionRecord("e-1", "orders", Status.RUNNING, created_at="2026-01-01T00:00:00.000000+00:00")
    attrs = execution_attrs(header, 1)
    assert {k: v["S"] for k, v in attrs.items() if "S" in v and k != "body"} == {
        "pk": "EXEC#e-1",
        "sk": "META",
        "status": "RUNNING",
        "workflow": "orders",
        "gsi1pk": "WF#orders",
        "gsi1sk": "2026-01-01T00:00:00.000000+00:00#e-1",
        "gsi2pk": "STATUS#RUNNING",
        "gsi2sk": "2026-01-01T00:00:00.000000+00:00#e-1",
    }
    assert status_cursor(header) == "2026-01-01T00:00:00.000000+00:00#e-1"
    assert json.loads(attrs["body"]["S"])["status"] == "RUNNING"

    logged = JournalRecord("charge#d1", "charge", OpType.STEP, Kind.DISPATCH, {"attempt": 1}, "t", seq=3)
    report = JournalRecord("charge", "charge", OpType.STEP, Kind.RESULT, {"result": 1}, "t")
    assert journal_attrs("e-1", logged)["sk"]["S"] == "J#$L0000000003"
    assert journal_attrs("e-1", report)["sk"]["S"] == "J#charge"
    assert journal_attrs("e-1", report)["body"]["S"] == (
        '{"at":"t","data":{"result":1},"key":"charge","kind":"result","op":"charge","type":"step"}'
    )


#: Key prefixes and suffixes that only runtime/keys.py may spell (a copy elsewhere could drift).
_KEY_LITERALS = re.compile(
    # a table prefix
    r"""["'](EXEC|WAIT|EVT|CACHE|DEBOUNCE|SM|STATUS|WF|J|IDEMPOTENCY|BREAKER|BULKHEAD|TASK|ASSIGNEE|CALLBACK)#"""
    r"""|f["'][^"']*\}#(a|d|r|s|w|h|started|lock|rejections)"""  # a key suffix in an f-string
    r"""|["']\$(schedule|debounce|start|cache|replayed|ack)\b"""  # an engine-reserved id or key
)


def test_no_key_is_spelled_outside_keys_py() -> None:
    for spelled in ('f"{op}#a{k}"', "f'{inv.op}#started'", '"EXEC#"', 'f"WAIT#{t}"', 'f"$schedule:{n}"', '"$cache"'):
        assert _KEY_LITERALS.search(spelled), spelled  # the guard sees what it guards against
    root = Path(__file__).resolve().parents[2] / "stepbridge"
    offenders = [
        f"{path.relative_to(root)}:{n}: {line.strip()}"
        for path in sorted(root.rglob("*.py"))
        if path.name != "keys.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if _KEY_LITERALS.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def test_task_keys() -> None:
    """Human task items and the by-assignee index (issue 15; runtime/tasks.py)."""
    tid = "tk-" + "0" * 32
    assert keys.task_pk(tid) == f"TASK#{tid}"
    assert keys.assignment_sk("maria@acme.example") == "A#maria@acme.example"
    assert keys.inbox_pk("maria@acme.example") == "ASSIGNEE#maria@acme.example"
    created = "2026-12-24T09:00:00.000000+00:00"
    assert keys.inbox_sk("open", created, tid) == f"open#{created}#{tid}"


def _literals(source: str) -> set[str]:
    """Every string literal of a module, and the literal text of each f-string (what a key is built from)."""
    import ast

    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found


def _sorts_among_header_and_journal(text: str) -> bool:
    """Whether a sort key ``text`` (or a key starting with it) sorts between the journal's first key and the header."""
    low, high = keys.EXECUTION_SK_RANGE
    return low <= text <= high or (bool(text) and low.startswith(text))


def test_only_the_journal_and_the_header_sort_in_the_range_a_cold_wake_up_reads() -> None:
    """``Store.load_execution`` reads ``sk BETWEEN "J#" AND "META"`` and takes every item there for the header or
    the journal: a new key (prefix) that sorts there would be read (and paid for) on every cold wake-up."""
    assert keys.EXECUTION_SK_RANGE == ("J#", "META") == (keys.JOURNAL_PREFIX, keys.META)
    for inside in ("J#", "J#$L0000000001", "J#charge", "J#~", "K", "LOCK#1", "MAX", "META", "J"):
        assert _sorts_among_header_and_journal(inside), inside  # the guard sees what it guards against
    for outside in ("IDEMPOTENCY#x", "J!", "METAX", "N", "TASK#1", "CACHE", "CALLBACK", "$L", "a", "started"):
        assert not _sorts_among_header_and_journal(outside), outside
    source = (Path(__file__).resolve().parents[2] / "stepbridge" / "runtime" / "keys.py").read_text()
    offenders = sorted(
        text
        for text in _literals(source)
        if text not in (keys.META, keys.JOURNAL_PREFIX)
        and not text.startswith(keys.JOURNAL_PREFIX)
        and " " not in text  # docstrings and messages
        and _sorts_among_header_and_journal(text)
    )
    assert offenders == []


def test_recorded_execution_partitions_hold_only_the_header_and_the_journal() -> None:
    """Every execution partition of the golden journals (tests/fixtures/journals: the example app's workflows)."""
    recorded = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "journals").glob("*.json"))
    assert recorded
    seen = 0
    for path in recorded:
        for item in json.loads(path.read_text())["items"]:
            pk, sk = item["pk"]["S"], item["sk"]["S"]
            if pk.startswith(keys.EXEC_PREFIX):
                seen += 1
                assert sk == keys.META or sk.startswith(keys.JOURNAL_PREFIX), f"{path.name}: {pk} {sk}"
    assert seen > 100
