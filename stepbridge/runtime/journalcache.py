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

Sticky executions (runtime/sticky.py) keep the parked workflow of an execution in its entry, so
the same rules decide when it may go on: it resumes only from a hit whose range Query found no
log record of another replay (nobody else advanced the execution); everything that drops the
copy closes the parked workflow too. Parked workflows are bounded separately (count and waiting
operations, below): the least recently resumed is closed first, its journal copy kept.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stepbridge.runtime.ports import Store
from stepbridge.runtime.records import JournalRecord
from stepbridge.runtime.sticky import STICKY_DEFAULT

if TYPE_CHECKING:
    from stepbridge.runtime.sticky import Parked

#: Executions kept; the least recently resumed is dropped first.
MAX_EXECUTIONS = 512
#: Journal records kept over all executions (a few hundred bytes each for typical steps).
MAX_RECORDS = 200_000
#: Approximate bytes of journal kept (record sizes as stored); the orchestrator function has 512 MB by
#: default, and a few large step results (up to 400 KB each) must not crowd it out. At least
#: ``limits.MAX_JOURNAL_BYTES`` (and ``MAX_RECORDS`` at least ``MAX_JOURNAL_RECORDS``), so any journal an
#: execution may have can be kept (tests/unit/test_journal_bytes_cap.py checks it).
MAX_BYTES = 64 * 1024 * 1024
#: Parked workflows kept (sticky executions). Each holds its coroutines, tasks and replay state on top of
#: its journal copy: 5-7 KB per operation waiting on a park future (a gather branch's task, its frames and
#: the future; tracemalloc, sticky on minus off, 1,000- and 2,000-way gathers; tests/unit/test_sticky.py
#: keeps it under 12 KB), so the two bounds below keep parked workflows near 100 MB of the orchestrator's
#: 512 MB, beside the journal copies' 64 MB.
MAX_PARKED = 256
#: Executions this process saw ended, remembered (ids only) so that a late wake-up of one (a step's report
#: after a failed gather, a duplicate) reads its header alone, not header and whole journal (``Orchestrator``'s
#: cold read, ``Store.load_execution``).
MAX_ENDED = 4096
#: Operations waiting on a park future over all parked workflows (a 10,000-way gather still fits; a
#: ``ctx.map`` parks at most its ``concurrency``).
MAX_PARKED_OPS = 15_000


@dataclass
class _Entry:
    records: dict[str, JournalRecord]
    last_seq: int
    size: int
    parked: Parked | None = None
    weight: int = 0


@dataclass
class JournalCache:
    """Per-process LRU of journals by execution id, bounded in executions, records and bytes;
    ``stats`` counts hits, misses and records read."""

    max_executions: int = MAX_EXECUTIONS
    max_records: int = MAX_RECORDS
    max_bytes: int = MAX_BYTES
    #: Sticky executions: keep suspended workflows parked in memory (``STEPBRIDGE_STICKY``, default on).
    sticky: bool = STICKY_DEFAULT
    max_parked: int = MAX_PARKED
    max_parked_ops: int = MAX_PARKED_OPS
    stats: dict[str, int] = field(
        default_factory=lambda: {
            "hits": 0,
            "misses": 0,
            "log_records_read": 0,
            "reports_read": 0,
            "resumed": 0,
            "parked": 0,
            "unparked": 0,
        }
    )
    max_ended: int = MAX_ENDED
    _entries: OrderedDict[str, _Entry] = field(default_factory=OrderedDict)
    _ended: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _records: int = 0
    _bytes: int = 0
    _parked: int = 0
    _weight: int = 0

    def load(self, store: Store, execution_id: str, reports: Iterable[dict[str, object]] = ()) -> list[JournalRecord]:
        """The execution's journal: from the copy plus what is new, or the whole journal on a miss.

        ``reports`` are the announcements of the wake-ups being processed (``WakeMessage.reports``).
        The copy is taken out of the cache while the replay runs; :meth:`remember` puts it back.
        A parked workflow of the execution is closed (the caller replays).
        """
        journal, parked = self.load_or_resume(store, execution_id, reports, resume=False)
        assert parked is None
        return journal

    def load_or_resume(
        self,
        store: Store,
        execution_id: str,
        reports: Iterable[dict[str, object]] = (),
        *,
        resume: bool = True,
        journal: list[JournalRecord] | None = None,
    ) -> tuple[list[JournalRecord], Parked | None]:
        """Like :meth:`load`; but when the execution is parked here and nobody else advanced it (no log
        record past the copy's last slot), ``(the records new since it parked, the parked workflow)``.

        ``journal``: the whole journal, already read with the header (``Store.load_execution``); a miss
        takes it instead of reading again (a hit ignores it: the copy's rules decide what is new)."""
        entry = self._take(execution_id)
        if entry is None:
            self.stats["misses"] += 1
            return (journal if journal is not None else store.load_journal(execution_id)), None
        self.stats["hits"] += 1
        try:
            new, advanced = self._new_since(store, execution_id, entry, reports)
        except BaseException:
            # (the copy is out of the cache now: its parked workflow is closed here, not left to the collector,
            # which would end its coroutines - running their ``finally`` blocks - at some later, arbitrary point)
            if entry.parked is not None:
                entry.parked.close()
            raise
        records = entry.records
        parked = entry.parked
        if parked is not None:
            if resume and not advanced and not parked.closed:
                self.stats["resumed"] += 1
                return list(new.values()), parked  # the parked replay's view takes them in (``engine.resume``)
            self.stats["unparked"] += 1
            parked.close()
        records.update(new)
        return list(records.values()), None

    def _new_since(
        self, store: Store, execution_id: str, entry: _Entry, reports: Iterable[dict[str, object]]
    ) -> tuple[dict[str, JournalRecord], bool]:
        """What is new for the copy ``entry``: log records past its last slot (``advanced``: someone else wrote
        the log) and the reports the wake-ups announce (carried in the message, else read)."""
        records = entry.records
        new: dict[str, JournalRecord] = {}
        wanted: list[str] = []
        advanced = False
        # (a parked or cached execution is running: its log has no hole past the copy's last slot)
        for rec in store.load_journal_since(execution_id, entry.last_seq, dense=True):
            self.stats["log_records_read"] += 1
            new[rec.key] = rec
            wanted.extend(rec.acks)
            advanced = True  # another replay wrote the log: a parked workflow is out of date
        for report in reports:
            key = str(report["key"])
            if key in records or key in new:
                continue
            body = report.get("record")
            if isinstance(body, dict):
                try:
                    carried = JournalRecord.from_dict(body)
                    carried.size = len(json.dumps(body, separators=(",", ":"), default=str))
                    new[key] = carried
                    continue
                except (KeyError, TypeError, ValueError):
                    pass  # a malformed copy: read the stored record instead
            wanted.append(key)
        for key in dict.fromkeys(wanted):
            if key not in records and key not in new:
                self.stats["reports_read"] += 1
                found = store.get_journal(execution_id, key)
                if found is not None:
                    new[key] = found
        return new, advanced

    def remember(
        self,
        execution_id: str,
        journal: dict[str, JournalRecord],
        parked: Parked | None = None,
        *,
        size: int | None = None,
        last_seq: int | None = None,
    ) -> None:
        """Keep the journal as the replay left it (its own writes included) for the next resume, and the
        workflow ``parked`` on it (sticky executions), if any.

        ``size`` (bytes) and ``last_seq`` (the last log slot) when the caller keeps them (``JournalView``:
        a resume then costs what is new, not a walk of the journal). Else records of unknown size count as
        1 KB. A journal larger than the whole budget is not kept (nor is its parked workflow: it is closed).
        """
        self.forget(execution_id, keep=parked)
        if size is None:
            size = sum(r.size or 1024 for r in journal.values())
        if size > self.max_bytes or len(journal) > self.max_records:
            if parked is not None:
                parked.close()
            return
        if last_seq is None:
            last_seq = max((r.seq for r in journal.values() if r.logged), default=0)
        entry = _Entry(journal, last_seq, size)
        self._entries[execution_id] = entry
        self._records += len(journal)
        self._bytes += size
        weight = parked.parked_ops + 1 if parked is not None else 0
        if parked is not None and weight > self.max_parked_ops:
            self.stats["unparked"] += 1
            parked.close()  # over the bound by itself: it replays next time (closing others would not help)
        elif parked is not None and not parked.closed:
            entry.parked, entry.weight = parked, weight
            self._parked += 1
            self._weight += entry.weight
            self.stats["parked"] += 1
        while self._entries and (
            len(self._entries) > self.max_executions
            or self._records > self.max_records
            or self._bytes > self.max_bytes
        ):
            _, dropped = self._entries.popitem(last=False)
            self._records -= len(dropped.records)
            self._bytes -= dropped.size
            self._unpark(dropped)
        if self._parked > self.max_parked or self._weight > self.max_parked_ops:
            for other in list(self._entries.values()):  # least recently resumed first
                if self._parked <= self.max_parked and self._weight <= self.max_parked_ops:
                    break
                self._unpark(other)

    def forget(self, execution_id: str, *, keep: Parked | None = None) -> None:
        """Drop the copy (the execution ended, or an invocation failed part-way) and close its parked
        workflow (unless it is ``keep``, the one being parked again)."""
        entry = self._take(execution_id)
        if entry is not None and entry.parked is not None and entry.parked is not keep:
            entry.parked.close()

    def cold(self, execution_id: str) -> bool:
        """Whether a wake-up of ``execution_id`` here will read its whole journal: no copy, and not seen ended
        (the caller then reads header and journal in one request)."""
        return execution_id not in self._entries and execution_id not in self._ended

    def ended(self, execution_id: str) -> None:
        """The execution was found (or made) terminal here: drop its copy; its next wake-ups read the header only."""
        self.forget(execution_id)
        self._ended[execution_id] = None
        self._ended.move_to_end(execution_id)
        while len(self._ended) > self.max_ended:
            self._ended.popitem(last=False)

    def clear(self) -> None:
        """Drop every copy (the process is gone) and close every parked workflow."""
        entries = list(self._entries.values())
        self._entries.clear()
        self._ended.clear()
        self._records = self._bytes = self._parked = self._weight = 0
        for entry in entries:
            if entry.parked is not None:
                entry.parked.close()

    def parked(self, execution_id: str) -> Parked | None:
        """The parked workflow of ``execution_id`` in this cache, if any."""
        entry = self._entries.get(execution_id)
        return entry.parked if entry is not None else None

    @property
    def parked_count(self) -> int:
        """How many executions are parked here."""
        return self._parked

    def _unpark(self, entry: _Entry) -> None:
        """Close the entry's parked workflow (its journal copy stays)."""
        parked = entry.parked
        if parked is None:
            return
        entry.parked = None
        self._parked -= 1
        self._weight -= entry.weight
        entry.weight = 0
        self.stats["unparked"] += 1
        parked.close()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, execution_id: object) -> bool:
        return execution_id in self._entries

    def _take(self, execution_id: str) -> _Entry | None:
        entry = self._entries.pop(execution_id, None)
        if entry is not None:
            self._records -= len(entry.records)
            self._bytes -= entry.size
            if entry.parked is not None:
                self._parked -= 1
                self._weight -= entry.weight
        return entry
