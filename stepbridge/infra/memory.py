"""The ``Store`` port in memory, for unit tests and benchmarks of the engine alone.

It keeps the very attribute maps ``DynamoStore`` writes (``stepbridge.infra.dynamodb``'s
encoders), so keys, ordering, expiry, versions and the 400 KB item limit behave the same;
the shared contract suite (tests/unit/test_store_contract.py) holds both to that.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from datetime import UTC, datetime

from stepbridge.infra import expiry
from stepbridge.infra.dynamodb import (
    EXEC_PREFIX,
    INDEXED_STATUSES,
    JOURNAL_PREFIX,
    META,
    Attrs,
    check_item,
    check_key,
    decode_execution,
    decode_glance,
    decode_item,
    decode_journal,
    execution_attrs,
    execution_key,
    is_live,
    item_attrs,
    journal_attrs,
    live_item,
    put_version,
    sk_range,
)
from stepbridge.runtime import keys
from stepbridge.runtime.ports import Item
from stepbridge.runtime.records import ExecutionGlance, ExecutionRecord, JournalRecord, iso


def _utcnow() -> datetime:
    return datetime.now(UTC)


#: Sort-key prefix of the orchestrator's log slots (``J#$L0000000001`` ...): the items ``_log_slots`` indexes.
#: Every sort key between ``log_sk_from(n)`` and ``LOG_SK_END`` starts with it.
_LOG_SK_PREFIX = keys.journal_sk(keys.LOG_SLOT_PREFIX)


class InMemoryStore:
    """A dict-of-partitions ``Store``; one lock makes every method atomic (sync steps run in threads)."""

    def __init__(self, clock: Callable[[], datetime] | None = None, retention: float | None = None) -> None:
        self._clock = clock or _utcnow
        #: ``App(retention=)`` in seconds: execution items get a ``ttl`` as in ``DynamoStore``.
        self.retention = retention
        self._lock = threading.RLock()
        self._partitions: dict[str, dict[str, Attrs]] = {}
        #: Per partition, the sort keys of its log slots in order, so ``load_journal_since`` costs O(log n + new)
        #: as DynamoDB's range Query does, instead of scanning the partition (issue 17: a 1,000-way gather).
        self._log_slots: dict[str, list[str]] = {}
        #: Logical reads and writes (one per call, like one DynamoDB request), for benchmarks.
        self.calls: dict[str, int] = {"reads": 0, "writes": 0}

    # ---- primitives (call with the lock held) ---------------------------------------------

    def _now(self) -> str:
        return iso(self._clock())

    def _read(self) -> None:
        self.calls["reads"] += 1

    def _write(self) -> None:
        self.calls["writes"] += 1

    def _get(self, pk: str, sk: str) -> Attrs | None:
        return self._partitions.get(pk, {}).get(sk)

    def _store(self, attrs: Attrs) -> None:
        if self.retention is not None:  # (the clock is read only when an item can get a ttl: not per write)
            attrs = expiry.stamp(attrs, self.retention, self._clock())
        pk, sk = attrs["pk"]["S"], attrs["sk"]["S"]
        partition = self._partitions.setdefault(pk, {})
        if sk not in partition and sk.startswith(_LOG_SK_PREFIX):
            insort(self._log_slots.setdefault(pk, []), sk)
        partition[sk] = attrs

    # ---- executions -----------------------------------------------------------------------

    def create_execution(self, record: ExecutionRecord) -> bool:
        """Insert the header unless the id exists."""
        attrs = execution_attrs(record, record.version)
        check_item(attrs)
        with self._lock:
            self._write()
            if self._get(*execution_key(record.execution_id)) is not None:
                return False
            self._store(attrs)
            return True

    def get_execution(self, execution_id: str, *, consistent: bool = True) -> ExecutionRecord | None:
        """The header (a fresh copy; callers may mutate it). Always current: ``consistent`` is accepted for the port."""
        attrs = self._header(execution_id)
        return decode_execution(attrs) if attrs is not None else None

    def glance_execution(self, execution_id: str, *, consistent: bool = False) -> ExecutionGlance | None:
        """The header's top-level status, workflow and cancel flag (``DynamoStore``'s projection); always current."""
        attrs = self._header(execution_id)
        return decode_glance(attrs) if attrs is not None else None

    def _header(self, execution_id: str) -> Attrs | None:
        """An execution header's stored attributes (one read), or ``None``."""
        with self._lock:
            self._read()
            return self._get(*execution_key(execution_id))

    def load_execution(self, execution_id: str) -> tuple[ExecutionRecord | None, list[JournalRecord]]:
        """Header and journal in one read (``DynamoStore``'s single Query over ``keys.EXECUTION_SK_RANGE``)."""
        pk, _ = execution_key(execution_id)
        low, high = keys.EXECUTION_SK_RANGE
        with self._lock:
            self._read()
            items = sorted((sk, a) for sk, a in self._partitions.get(pk, {}).items() if low <= sk <= high)
        header = next((decode_execution(a) for sk, a in items if sk == META), None)
        return header, [decode_journal(a) for sk, a in items if sk.startswith(JOURNAL_PREFIX)]

    def save_execution(self, record: ExecutionRecord) -> bool:
        """Write at ``version + 1`` if the stored version is ``record.version`` (``record`` unchanged)."""
        attrs = execution_attrs(record, record.version + 1)
        check_item(attrs)
        with self._lock:
            self._write()
            current = self._get(*execution_key(record.execution_id))
            if current is None or int(current["version"]["N"]) != record.version:
                return False
            self._store(attrs)
            if self.retention is not None and expiry.ends_with_journal(attrs):
                now = self._clock()
                partition = self._partitions.get(attrs["pk"]["S"], {})
                for sk, item in list(partition.items()):
                    if sk.startswith(JOURNAL_PREFIX):  # the journal expires with the header, as DynamoStore does
                        partition[sk] = expiry.finished(item, self.retention, now)
            return True

    def list_executions(
        self, workflow: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ExecutionRecord]:
        """Newest first (by ``created_at``, then id, like the GSI sort key).

        Like ``DynamoStore``, an unfinished status without a workflow reads the sparse ``by-status``
        keys (``gsi2pk``), so both stores answer from the same attributes.
        """
        if workflow is None and status in INDEXED_STATUSES:
            with self._lock:
                self._read()
                wanted = keys.status_pk(status)
                indexed = [
                    attrs
                    for partition in self._partitions.values()
                    if (attrs := partition.get(META)) is not None and attrs.get("gsi2pk", {}).get("S") == wanted
                ]
            indexed.sort(key=lambda a: a["gsi2sk"]["S"], reverse=True)
            return [decode_execution(a) for a in indexed[: max(limit, 0)]]
        with self._lock:
            self._read()
            headers = [
                attrs
                for pk, partition in self._partitions.items()
                if pk.startswith(EXEC_PREFIX)  # other items may use the META sort key too (a task: TASK#{id})
                and (attrs := partition.get(META)) is not None
                and (workflow is None or attrs["workflow"]["S"] == workflow)
                and (status is None or attrs["status"]["S"] == status)
            ]
        headers.sort(key=lambda a: a["gsi1sk"]["S"], reverse=True)
        return [decode_execution(a) for a in headers[: max(limit, 0)]]

    def list_unfinished(self, status: str, *, after: str | None, limit: int) -> list[ExecutionRecord]:
        """Oldest first by the ``by-status`` sort key, after ``after`` (as ``DynamoStore``)."""
        if status not in INDEXED_STATUSES:
            raise ValueError(f"list_unfinished: status must be RUNNING or SCHEDULED, got {status!r}")
        wanted = keys.status_pk(status)
        with self._lock:
            self._read()
            indexed = [
                attrs
                for partition in self._partitions.values()
                if (attrs := partition.get(META)) is not None
                and attrs.get("gsi2pk", {}).get("S") == wanted
                and (after is None or attrs["gsi2sk"]["S"] > after)
            ]
        indexed.sort(key=lambda a: a["gsi2sk"]["S"])
        return [decode_execution(a) for a in indexed[: max(limit, 0)]]

    # ---- journal --------------------------------------------------------------------------

    def load_journal(self, execution_id: str) -> list[JournalRecord]:
        """All journal records of the execution."""
        pk, _ = execution_key(execution_id)
        with self._lock:
            self._read()
            items = sorted(
                (sk, a) for sk, a in self._partitions.get(pk, {}).items() if sk.startswith(JOURNAL_PREFIX)
            )
        return [decode_journal(a) for _, a in items]  # in sort-key order, as DynamoDB's Query returns them

    def load_journal_since(self, execution_id: str, after_seq: int, *, dense: bool = False) -> list[JournalRecord]:
        """The orchestrator's log records with ``seq > after_seq``, in order (like DynamoDB's range Query; the
        ordered index answers ``dense`` reads as cheaply as the slot probe ``DynamoStore`` makes for them)."""
        pk, _ = execution_key(execution_id)
        low = keys.log_sk_from(after_seq + 1)
        high = keys.LOG_SK_END
        with self._lock:
            self._read()
            slots = self._log_slots.get(pk, [])
            partition = self._partitions.get(pk, {})
            found = slots[bisect_left(slots, low):bisect_right(slots, high)]
            if not found:  # (a warm wake-up's usual answer: nothing past the copy's last slot)
                return []
            items = [partition[sk] for sk in found]
        return [decode_journal(a) for a in items]

    def get_journal(self, execution_id: str, key: str) -> JournalRecord | None:
        """The record stored under ``key`` (a report or shared claim)."""
        pk, _ = execution_key(execution_id)
        with self._lock:
            self._read()
            attrs = self._get(pk, keys.journal_sk(key))
        return decode_journal(attrs) if attrs is not None else None

    def append_journal(self, execution_id: str, record: JournalRecord) -> bool:
        """Record once; a duplicate key returns ``False`` and keeps the original."""
        attrs = journal_attrs(execution_id, record)
        check_item(attrs)
        with self._lock:
            self._write()
            if self._get(attrs["pk"]["S"], attrs["sk"]["S"]) is not None:
                return False
            self._store(attrs)
            return True

    def put_journal(self, execution_id: str, record: JournalRecord) -> None:
        """Overwrite a bookkeeping record (``$`` keys only: operation records are append-only)."""
        if not keys.is_bookkeeping(record.key):
            raise ValueError(f"put_journal is for bookkeeping records ('$' keys), not '{record.key}'")
        attrs = journal_attrs(execution_id, record)
        check_item(attrs)
        with self._lock:
            self._write()
            self._store(attrs)

    # ---- generic items --------------------------------------------------------------------

    def put_item(self, item: Item, *, if_absent: bool = False, if_version: int | None = None) -> bool:
        """Write, optionally only when absent (expired counts as absent) or at an expected version."""
        attrs = item_attrs(item, put_version(item, if_absent, if_version))
        check_item(attrs)
        with self._lock:
            self._write()
            current = self._get(item.pk, item.sk)
            live = current is not None and is_live(current, self._now())
            if if_absent and live:
                return False
            if if_version is not None and not (
                live and current is not None and int(current["version"]["N"]) == if_version
            ):
                return False
            self._store(attrs)
            return True

    def get_item(self, pk: str, sk: str) -> Item | None:
        """One live item."""
        check_key(pk, sk)
        with self._lock:
            self._read()
            attrs = self._get(pk, sk)
        return live_item(attrs, self._now())

    def query_items(self, pk: str, *, sk_prefix: str = "", sk_from: str | None = None, limit: int = 1000) -> list[Item]:
        """Live items under ``pk``, ascending by sort key (code-point order = DynamoDB's UTF-8 byte order)."""
        bounds = sk_range(sk_prefix, sk_from)
        if bounds is None or limit <= 0:
            return []
        prefix, lower = bounds
        with self._lock:
            self._read()
            now = self._now()
            partition = self._partitions.get(pk, {})
            matched = [
                partition[sk]
                for sk in sorted(partition)
                if sk.startswith(prefix) and (lower is None or sk >= lower) and is_live(partition[sk], now)
            ]
        return [decode_item(a) for a in matched[:limit]]

    def query_index(self, key: str, *, sk_prefix: str = "", limit: int = 100) -> list[Item]:
        """The ``by-assignee`` index: items whose ``gsi3pk`` is ``key``, by ``gsi3sk`` (as ``DynamoStore``)."""
        if limit <= 0:
            return []
        with self._lock:
            self._read()
            now = self._now()
            found = [
                attrs
                for partition in self._partitions.values()
                for attrs in partition.values()
                if attrs.get("gsi3pk", {}).get("S") == key
                and attrs.get("gsi3sk", {}).get("S", "").startswith(sk_prefix)
                and is_live(attrs, now)
            ]
        found.sort(key=lambda a: a["gsi3sk"]["S"])
        return [decode_item(a) for a in found[:limit]]

    def delete_item(self, pk: str, sk: str, *, if_version: int | None = None) -> bool:
        """Delete; ``True`` only if a live item (at ``if_version``, when given) was deleted."""
        check_key(pk, sk)
        with self._lock:
            self._write()
            current = self._get(pk, sk)
            if current is None:
                return False
            live = is_live(current, self._now())
            if if_version is not None and not (live and int(current["version"]["N"]) == if_version):
                return False
            del self._partitions[pk][sk]
            if sk.startswith(_LOG_SK_PREFIX):
                slots = self._log_slots[pk]
                del slots[bisect_left(slots, sk)]
                if not slots:
                    del self._log_slots[pk]
            if not self._partitions[pk]:
                del self._partitions[pk]
            return live
