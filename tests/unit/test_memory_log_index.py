"""The in-memory store's ordered index of log slots (``InMemoryStore._log_slots``, issue 17).

``load_journal_since`` reads the index instead of scanning the partition; these tests hold it to what
a scan of the partition answers (DynamoDB's range Query: the same records in sort-key order), through
appends, overwrites, deletes and many executions, and check that a read costs O(new records).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

from stepbridge.infra.dynamodb import Attrs, decode_journal
from stepbridge.infra.memory import InMemoryStore
from stepbridge.runtime import keys
from stepbridge.runtime.ports import Item
from stepbridge.runtime.records import JournalRecord

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _scan(store: InMemoryStore, execution_id: str, after_seq: int) -> list[dict[str, object]]:
    """What a full scan of the partition finds in the log range (the behaviour before the index)."""
    low, high = keys.log_sk_from(after_seq + 1), keys.LOG_SK_END
    partition = store._partitions.get(keys.execution_pk(execution_id), {})
    return [decode_journal(a).to_dict() for sk, a in sorted(partition.items()) if low <= sk <= high]


def test_the_index_answers_what_a_scan_answers_through_random_writes_and_deletes() -> None:
    rng = random.Random(17)
    store = InMemoryStore(clock=lambda: T0)
    executions = [f"x{i}" for i in range(12)]
    for step in range(3000):
        eid = rng.choice(executions)
        seq = rng.randint(1, 60)
        roll = rng.random()
        if roll < 0.6:
            store.append_journal(eid, JournalRecord(f"k{step}", "op", "step", "result", {"n": step}, seq=seq))
        elif roll < 0.75:
            store.append_journal(eid, JournalRecord(f"r{step}", "op", "step", "result", {"n": step}))  # keyed report
        elif roll < 0.9:
            store.delete_item(keys.execution_pk(eid), keys.log_sk_from(seq))
        else:  # a generic item in the same partition, outside the journal
            store.put_item(Item(keys.execution_pk(eid), f"X#{step}", {"n": step}))
        if step % 50 == 0:
            for e in executions:
                after = rng.randint(0, 61)
                assert [r.to_dict() for r in store.load_journal_since(e, after)] == _scan(store, e, after)
    for e in executions:
        for after in (0, 1, 30, 59, 60):
            assert [r.to_dict() for r in store.load_journal_since(e, after)] == _scan(store, e, after)
    assert any(store.load_journal_since(e, 0) for e in executions)  # the random walk left logs to compare


class _NoScan(dict[str, Attrs]):
    """A partition that refuses to be walked: a read that scans it fails."""

    def items(self) -> Any:
        raise AssertionError("the partition was scanned")

    def __iter__(self) -> Any:
        raise AssertionError("the partition was scanned")

    def values(self) -> Any:
        raise AssertionError("the partition was scanned")


def test_a_log_read_looks_up_its_slots_without_walking_the_partition() -> None:
    """O(log n + new records), like DynamoDB's range Query: the partition of 2,000 records is not walked."""
    store = InMemoryStore(clock=lambda: T0)
    for i in range(1, 2001):
        store.append_journal("big", JournalRecord(f"op{i}", "op", "step", "result", {"i": i}, seq=i))
    pk = keys.execution_pk("big")
    store._partitions[pk] = _NoScan(store._partitions[pk])
    assert [r.seq for r in store.load_journal_since("big", 1990)] == list(range(1991, 2001))
    assert store.load_journal_since("big", 2000) == []
