"""Issue 13, reproduction 8: an execution's journal is capped in bytes as well as in records.

Every cold replay reads the whole journal into the orchestrator's memory, yet only the record
count was capped: 20,000 records of 396 KB (7.9 GB) were allowed. Now the journal is capped at
``MAX_JOURNAL_BYTES`` (32 MiB, sized for the orchestrator's 512 MB) as well as
``MAX_JOURNAL_RECORDS``: the write that would pass either fails the execution with an error naming
the cap and suggesting ``ctx.continue_as_new`` (even if the workflow catches it) - never stuck.
Reports of declared steps count once read. The journal cache can hold any journal under the caps.

The mechanism runs on both backends with small caps (monkeypatched); the real 32 MiB cap runs on
the in-memory backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, Retry
from stepbridge.local import LocalCloud
from stepbridge.runtime import journalview
from stepbridge.runtime.journalcache import JournalCache
from stepbridge.runtime.limits import MAX_JOURNAL_BYTES, MAX_JOURNAL_RECORDS
from stepbridge.runtime.records import JournalRecord

# These pin the limits of a function without a payload bucket; claim checks: tests/unit/test_payloads.py.
pytestmark = pytest.mark.usefixtures("without_payload_bucket")

RUNS: Counter[str] = Counter()
KB = 1024


def make(n: int) -> str:
    RUNS["make"] += 1
    return "r" * n


def tiny(i: int) -> int:
    RUNS["tiny"] += 1
    return i


def cap_app() -> App:
    app = App("journalcap")

    @app.step(timeout=30, retry=Retry(max_attempts=1))
    def export(n: int) -> str:
        RUNS["export"] += 1
        return "d" * n

    @app.workflow("grow")
    async def grow(ctx: Context, data: dict[str, int]) -> Any:
        for i in range(data["steps"]):
            try:
                await ctx.step(f"part-{i}", make, data["bytes"])
            except Exception:  # the cap cannot be caught and ignored
                continue
        return "all parts"

    @app.workflow("many")
    async def many(ctx: Context, n: int) -> Any:
        for i in range(n):
            await ctx.step(f"t-{i}", tiny, i)
        return "all"

    @app.workflow("fan-out")
    async def fan_out(ctx: Context, n: int) -> Any:
        parts = await ctx.gather(*(ctx.step(f"export-{i}", export, 300 * KB) for i in range(n)))
        await ctx.step("combine", tiny, len(parts))  # the reports pushed the journal over the cap
        return "combined"

    @app.workflow("chunked")
    async def chunked(ctx: Context, data: dict[str, int]) -> Any:
        start = data["start"]
        for i in range(start, min(start + 2, data["total"])):
            await ctx.step(f"part-{i}", make, 300 * KB)
        if start + 2 < data["total"]:
            await ctx.continue_as_new({"start": start + 2, "total": data["total"]})
        return f"processed {data['total']}"

    return app


@pytest.fixture(params=["memory", "moto"])
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    RUNS.clear()
    with LocalCloud(cap_app(), backend=request.param) as c:
        yield c


def _failed_naming_the_cap(cloud: LocalCloud, execution_id: str, cap: str) -> str:
    cloud.advance(timedelta(minutes=10))
    cloud.sweep()
    desc = cloud.client().describe(execution_id)
    assert desc.status == "FAILED", desc
    assert desc.error["type"] == "stepbridge.errors.WorkflowDefinitionError"
    assert cap in desc.error["message"] and "continue_as_new" in desc.error["message"]
    assert cloud.dead_letters() == []
    return str(desc.error["message"])


def test_a_journal_growing_past_the_byte_cap_fails_naming_it(cloud: LocalCloud, monkeypatch: Any) -> None:
    monkeypatch.setattr(journalview, "MAX_JOURNAL_BYTES", 1024 * KB)
    h = cloud.client().start("grow", {"steps": 10, "bytes": 300 * KB})
    message = _failed_naming_the_cap(cloud, h.execution_id, "1,048,576-byte")
    assert "'part-3'" in message  # three 300 KB results fit, the fourth would not
    assert RUNS["make"] == 4  # it ran, but its result is not recorded and nothing runs after it


def test_reports_of_declared_steps_count_towards_the_cap(cloud: LocalCloud, monkeypatch: Any) -> None:
    monkeypatch.setattr(journalview, "MAX_JOURNAL_BYTES", 1024 * KB)
    h = cloud.client().start("fan-out", 5)  # five 300 KB results arrive while all are in flight
    message = _failed_naming_the_cap(cloud, h.execution_id, "1,048,576-byte")
    assert "'combine'" in message
    assert RUNS["export"] == 5 and RUNS["tiny"] == 0


def test_the_record_count_cap_fails_naming_it(cloud: LocalCloud, monkeypatch: Any) -> None:
    monkeypatch.setattr(journalview, "MAX_JOURNAL_RECORDS", 30)
    h = cloud.client().start("many", 100)
    _failed_naming_the_cap(cloud, h.execution_id, "30 journal records")
    assert RUNS["tiny"] <= 30


def test_continue_as_new_processes_more_than_the_cap_in_bounded_journals(cloud: LocalCloud, monkeypatch: Any) -> None:
    monkeypatch.setattr(journalview, "MAX_JOURNAL_BYTES", 1024 * KB)
    h = cloud.client().start("chunked", {"start": 0, "total": 10}, execution_id="chunks")
    cloud.advance(timedelta(minutes=10))
    assert cloud.client().describe("chunks~5").result == "processed 10"  # 3 MB in all, under 1 MB each
    assert RUNS["make"] == 10
    assert cloud.client().describe(h.execution_id).status == "SUCCEEDED"


def test_the_real_byte_cap_stops_a_journal_of_396_kb_records_at_32_mib() -> None:
    RUNS.clear()
    with LocalCloud(cap_app(), backend="memory") as cloud:
        h = cloud.client().start("grow", {"steps": 200, "bytes": 390 * KB})
        _failed_naming_the_cap(cloud, h.execution_id, f"{MAX_JOURNAL_BYTES:,}-byte")
        journal = cloud.store.load_journal(h.execution_id)
        assert sum(r.size for r in journal) <= MAX_JOURNAL_BYTES
        fit = MAX_JOURNAL_BYTES // (390 * KB)  # records are a little larger than their result
        assert fit - 2 <= RUNS["make"] <= fit + 1 < 200


def test_the_journal_cache_can_hold_any_journal_under_the_caps() -> None:
    cache = JournalCache()
    assert cache.max_bytes >= MAX_JOURNAL_BYTES and cache.max_records >= MAX_JOURNAL_RECORDS
    per = MAX_JOURNAL_BYTES // 100
    journal = {
        f"k{i}": JournalRecord(key=f"k{i}", op=f"k{i}", type="step", kind="result", seq=i + 1, size=per)
        for i in range(100)
    }
    cache.remember("e", journal)
    assert "e" in cache
