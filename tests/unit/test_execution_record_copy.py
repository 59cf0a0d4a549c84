"""``ExecutionRecord.copy`` and ``from_dict``'s fast path: the same results as ``dataclasses.replace`` and the
key-by-key filter they replace (runtime/records.py)."""

from __future__ import annotations

from dataclasses import replace

from stepbridge.runtime.records import ExecutionRecord
from stepbridge.runtime.vocabulary import Status


def header() -> ExecutionRecord:
    return ExecutionRecord(
        execution_id="e1", workflow="order", status=Status.RUNNING, input={"items": [1, 2]}, input_hash="h",
        created_at="2026-12-05T00:00:00.000000+00:00", deadline="2026-12-06T00:00:00.000000+00:00", version=3,
    )


def test_a_copy_equals_what_replace_gives_and_is_a_distinct_record() -> None:
    rec = header()
    twin = rec.copy()
    assert twin == replace(rec) and twin is not rec and type(twin) is ExecutionRecord
    twin.status, twin.version = Status.SUCCEEDED, 4  # a read-modify-write changes the copy only
    assert (rec.status, rec.version) == (Status.RUNNING, 3)
    assert twin.input is rec.input  # shallow, as replace: the JSON input is shared, not copied


def test_from_dict_reads_back_to_dict_and_ignores_keys_a_newer_version_wrote() -> None:
    rec = header()
    assert ExecutionRecord.from_dict(rec.to_dict()) == rec
    newer = {**rec.to_dict(), "written_by_a_newer_version": True}
    read = ExecutionRecord.from_dict(newer)
    assert read == rec and not hasattr(read, "written_by_a_newer_version")
    assert read.status is Status.RUNNING  # the stored string read back as the enum member
