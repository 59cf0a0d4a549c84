"""A warm orchestrator's copy of the journals it replayed recently: a resume reads only what is new.

Without it every wake-up re-reads the whole journal (one Query of every record), so N declared
steps cost O(N^2) read units. With it, a resume of an execution this process replayed before
costs one range Query of the orchestrator's ordered log past the last slot it knows (usually
empty: one read unit) plus the records other writers announced:

* a step's or child's report names its key in the wake-up, and carries the record itself when
  its write certainly won and it is small (``records.report_wake``), so most resumes read it
  from the message;
* log records written by replays elsewhere name the reports those replays read and the keys
  they claimed (``JournalRecord.acks``); the ones not in the copy are read one by one.

Every log write is conditional on its slot, so a copy is never silently out of date: a replay
that writes a slot someone else took gets ``JournalConflict`` and the copy is dropped. A copy
is also dropped whenever an invocation fails, when the execution ends, and on a sweeper's
wake-up (which exists precisely because an announcement may have been lost). The cache is a
plain LRU per process, bounded in executions, records and bytes; Lambda reuses the process between
invocations (a warm container), LocalCloud keeps one per emulated container.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from stepbridge.runtime.ports import Store
from stepbridge.runtime.records import JournalRecord

#: Executions kept; the least recently resumed is dropped first.
MAX_EXECUTIONS = 512
#: Journal records kept over all executions (a few hundred bytes each for typical steps).
MAX_RECORDS = 200_000
#: Approximate bytes of journal kept (record sizes as stored); the orchestrator function has 512 MB by
#: default, and a few large step results (up to 400 KB each) must not crowd it out. At least
#: ``limits.MAX_JOURNAL_BYTES`` (and ``MAX_RECORDS`` at least ``MAX_JOURNAL_RECORDS``), so any journal an
#: execution may have can be kept (tests/unit/test_journal_bytes_cap.py checks it).
MAX_BYTES = 64 * 1024 * 1024


@dataclass
class _Entry:
    records: dict[str, JournalRecord]
    last_seq: int
    size: int


@dataclass
class JournalCache:
    """Per-process LRU of journals by execution id, bounded in executions, records and bytes;
    ``stats`` counts hits, misses and records read."""

    max_executions: int = MAX_EXECUTIONS
    max_records: int = MAX_RECORDS
    max_bytes: int = MAX_BYTES
    stats: dict[str, int] = field(
        default_factory=lambda: {"hits": 0, "misses": 0, "log_records_read": 0, "reports_read": 0}
    )
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _records: int = 0
    _bytes: int = 0

    def load(self, store: Store, execution_id: str, reports: Iterable[dict[str, object]] = ()) -> list[JournalRecord]:
        """The execution's journal: from the copy plus what is new, or the whole journal on a miss.

        ``reports`` are the announcements of the wake-ups being processed (``WakeMessage.reports``).
        The copy is taken out of the cache while the replay runs; :meth:`remember` puts it back.
        """
        entry = self._take(execution_id)
        if entry is None:
            self.stats["misses"] += 1
            return store.load_journal(execution_id)
        self.stats["hits"] += 1
        records = entry.records
        wanted: list[str] = []
        for rec in store.load_journal_since(execution_id, entry.last_seq):
            self.stats["log_records_read"] += 1
            records[rec.key] = rec
            wanted.extend(rec.acks)
        for report in reports:
            key = str(report["key"])
            if key in records:
                continue
            body = report.get("record")
            if isinstance(body, dict):
                try:
                    carried = JournalRecord.from_dict(body)
                    carried.size = len(json.dumps(body, separators=(",", ":"), default=str))
                    records[key] = carried
                    continue
                except (KeyError, TypeError, ValueError):
                    pass  # a malformed copy: read the stored record instead
            wanted.append(key)
        for key in dict.fromkeys(wanted):
            if key not in records:
                self.stats["reports_read"] += 1
                found = store.get_journal(execution_id, key)
                if found is not None:
                    records[key] = found
        return list(records.values())

    def remember(self, execution_id: str, journal: dict[str, JournalRecord]) -> None:
        """Keep the journal as the replay left it (its own writes included) for the next resume.

        Records of unknown size count as 1 KB. A journal larger than the whole budget is not kept.
        """
        self.forget(execution_id)
        size = sum(r.size or 1024 for r in journal.values())
        if size > self.max_bytes or len(journal) > self.max_records:
            return
        last_seq = max((r.seq for r in journal.values() if r.logged), default=0)
        self._entries[execution_id] = _Entry(journal, last_seq, size)
        self._records += len(journal)
        self._bytes += size
        while self._entries and (
            len(self._entries) > self.max_executions
            or self._records > self.max_records
            or self._bytes > self.max_bytes
        ):
            _, dropped = self._entries.popitem(last=False)
            self._records -= len(dropped.records)
            self._bytes -= dropped.size

    def forget(self, execution_id: str) -> None:
        """Drop the copy (the execution ended, or an invocation failed part-way)."""
        self._take(execution_id)

    def clear(self) -> None:
        """Drop every copy (the process is gone)."""
        self._entries.clear()
        self._records = self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, execution_id: object) -> bool:
        return execution_id in self._entries

    def _take(self, execution_id: str) -> _Entry | None:
        entry = self._entries.pop(execution_id, None)
        if entry is not None:
            self._records -= len(entry.records)
            self._bytes -= entry.size
        return entry
