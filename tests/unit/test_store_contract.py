"""One contract for every ``Store``: the in-memory store and the DynamoDB store (in moto) must agree.

The runtime's correctness rests on these guarantees (conditional creates and journal appends,
optimistic versions, expiry on the store's clock, ordering, the 400 KB limit), so each test runs
against both implementations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from moto import mock_aws

from stepbridge.errors import PayloadTooLarge
from stepbridge.infra.dynamodb import DynamoStore, execution_attrs, table_definition
from stepbridge.infra.memory import InMemoryStore
from stepbridge.runtime.ports import Item, Store
from stepbridge.runtime.records import (
    CANCELLED,
    FAILED,
    RUNNING,
    SCHEDULED,
    SUCCEEDED,
    ExecutionGlance,
    ExecutionRecord,
    JournalRecord,
    iso,
)

TABLE = "stepbridge-contract"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


class Clock:
    """A settable clock, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def dynamo(aws_env: None) -> Iterator[object]:
    """A moto DynamoDB client with the stepbridge table created from ``table_definition``."""
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**table_definition(TABLE))
        yield client


@pytest.fixture(params=["memory", "dynamodb"])
def store(request: pytest.FixtureRequest, clock: Clock) -> Store:
    if request.param == "memory":
        return InMemoryStore(clock=clock)
    client = request.getfixturevalue("dynamo")
    return DynamoStore(TABLE, client=client, clock=clock)


def execution(
    execution_id: str,
    *,
    workflow: str = "wf",
    status: str = RUNNING,
    created: int = 0,
    payload: object = None,
) -> ExecutionRecord:
    return ExecutionRecord(
        execution_id=execution_id,
        workflow=workflow,
        status=status,
        input=payload,
        created_at=iso(T0 + timedelta(seconds=created)),
    )


def journal(key: str, **data: object) -> JournalRecord:
    return JournalRecord(key=key, op=key, type="step", kind="result", data=dict(data), at=iso(T0))


# ---- executions -----------------------------------------------------------------------------


def test_create_execution_is_idempotent_by_id(store: Store) -> None:
    assert store.create_execution(execution("e1", payload={"n": 1}))
    assert not store.create_execution(execution("e1", workflow="other", payload={"n": 2}))
    got = store.get_execution("e1")
    assert got is not None
    assert (got.workflow, got.input, got.version) == ("wf", {"n": 1}, 0)
    assert store.get_execution("missing") is None


def test_execution_round_trips_every_field(store: Store) -> None:
    rec = execution("e1", payload={"a": [1, 2.5, None, "é"]})
    rec.parent_id, rec.parent_op, rec.progress = "p", "child-1", {"step": 1, "total": 2, "message": None}
    assert store.create_execution(rec)
    assert store.get_execution("e1") == rec


def test_glance_reads_status_workflow_and_cancel_flag_and_follows_every_save(store: Store) -> None:
    assert store.glance_execution("e1") is None
    assert store.glance_execution("e1", consistent=True) is None
    store.create_execution(execution("e1", workflow="orders", payload=list(range(1000))))
    assert store.glance_execution("e1") == ExecutionGlance("orders", RUNNING, False)
    rec = store.get_execution("e1")
    assert rec is not None
    rec.cancel_requested = True
    assert store.save_execution(rec)
    glance = store.glance_execution("e1", consistent=True)
    assert glance == ExecutionGlance("orders", RUNNING, True) and not glance.terminal
    rec.version, rec.status, rec.cancel_requested = 1, CANCELLED, False
    assert store.save_execution(rec)
    glance = store.glance_execution("e1")
    assert glance == ExecutionGlance("orders", CANCELLED, False) and glance.terminal


def test_dynamo_glance_is_one_projected_get_that_leaves_the_body_behind(dynamo: object, clock: Clock) -> None:
    store = DynamoStore(TABLE, client=dynamo, clock=clock)  # type: ignore[arg-type]
    store.create_execution(execution("e1", payload=list(range(1000))))
    sent: list[dict[str, object]] = []
    real_get = dynamo.get_item  # type: ignore[attr-defined]

    def spy(**kwargs: object) -> object:
        sent.append(kwargs)
        return real_get(**kwargs)

    dynamo.get_item = spy  # type: ignore[attr-defined]
    try:
        assert store.glance_execution("e1") == ExecutionGlance("wf", RUNNING, False)
    finally:
        dynamo.get_item = real_get  # type: ignore[attr-defined]
    (request,) = sent
    assert request["ConsistentRead"] is False
    names = request["ExpressionAttributeNames"]
    assert isinstance(names, dict)
    projected = {names[n.strip()] for n in str(request["ProjectionExpression"]).split(",")}
    assert projected == {"status", "workflow", "cancel"}
    assert store.calls == {"PutItem": 1, "GetItem": 1}


def test_save_execution_checks_and_bumps_version(store: Store) -> None:
    store.create_execution(execution("e1"))
    first = store.get_execution("e1")
    stale = store.get_execution("e1")
    assert first is not None and stale is not None

    first.status = SUCCEEDED
    assert store.save_execution(first)
    assert first.version == 0  # the caller bumps its own copy
    saved = store.get_execution("e1")
    assert saved is not None and (saved.status, saved.version) == (SUCCEEDED, 1)

    stale.status = FAILED
    assert not store.save_execution(stale)  # lost the race: nothing written
    kept = store.get_execution("e1")
    assert kept is not None and (kept.status, kept.version) == (SUCCEEDED, 1)

    assert not store.save_execution(execution("never-created"))


def test_list_executions_newest_first_with_filters(store: Store) -> None:
    store.create_execution(execution("a1", workflow="a", created=1))
    store.create_execution(execution("b1", workflow="b", created=2))
    store.create_execution(execution("a2", workflow="a", created=3, status=SUCCEEDED))
    store.create_execution(execution("a3", workflow="a", created=4))
    store.append_journal("a3", journal("s1"))  # journal items are not executions

    def ids(**kw: object) -> list[str]:
        return [r.execution_id for r in store.list_executions(**kw)]  # type: ignore[arg-type]

    assert ids() == ["a3", "a2", "b1", "a1"]
    assert ids(workflow="a") == ["a3", "a2", "a1"]
    assert ids(status=SUCCEEDED) == ["a2"]
    assert ids(workflow="a", status=RUNNING) == ["a3", "a1"]
    assert ids(workflow="a", status=RUNNING, limit=1) == ["a3"]
    assert ids(limit=2) == ["a3", "a2"]
    assert ids(workflow="nope") == []

    # The status filter follows updates (DynamoDB: the top-level attribute is rewritten on save).
    rec = store.get_execution("a1")
    assert rec is not None
    rec.status = FAILED
    assert store.save_execution(rec)
    assert ids(workflow="a", status=RUNNING) == ["a3"]
    assert ids(status=FAILED) == ["a1"]


def test_other_items_under_the_meta_sort_key_are_not_listed_as_executions(store: Store) -> None:
    """A human task is ``TASK#{id}`` / ``META``: listing executions (the console's list) must skip it."""
    store.create_execution(execution("e1", workflow="a", created=1))
    assert store.put_item(Item("TASK#tk-1", "META", {"task_id": "tk-1", "status": "open"}))
    assert [r.execution_id for r in store.list_executions()] == ["e1"]
    assert [r.execution_id for r in store.list_executions(status=RUNNING)] == ["e1"]
    assert [r.execution_id for r in store.list_executions(workflow="a")] == ["e1"]


def test_unfinished_executions_are_listed_from_the_sparse_status_index(store: Store) -> None:
    """RUNNING/SCHEDULED without a workflow is a Query on ``by-status`` (no Scan); finishing leaves the index."""
    store.create_execution(execution("r1", workflow="a", created=1))
    store.create_execution(execution("s1", workflow="b", created=2, status=SCHEDULED))
    store.create_execution(execution("r2", workflow="b", created=3))
    store.create_execution(execution("done", workflow="a", created=4, status=SUCCEEDED))
    store.append_journal("r2", journal("s1"))

    def ids(status: str, limit: int = 100) -> list[str]:
        return [r.execution_id for r in store.list_executions(status=status, limit=limit)]

    assert ids(RUNNING) == ["r2", "r1"]
    assert ids(RUNNING, limit=1) == ["r2"]
    assert ids(SCHEDULED) == ["s1"]

    scheduled = store.get_execution("s1")
    assert scheduled is not None
    scheduled.status = RUNNING
    assert store.save_execution(scheduled)
    assert ids(SCHEDULED) == []
    assert ids(RUNNING) == ["r2", "s1", "r1"]

    finished = store.get_execution("r2")
    assert finished is not None
    finished.status = SUCCEEDED
    assert store.save_execution(finished)
    assert ids(RUNNING) == ["s1", "r1"]
    assert ids(SUCCEEDED) == ["done", "r2"]  # terminal statuses still come from the headers
    if isinstance(store, DynamoStore):
        before = dict(store.calls)
        ids(RUNNING)
        assert store.calls.get("Scan", 0) == before.get("Scan", 0)  # the sweeper's IAM has no Scan


def test_execution_status_index_keys_are_sparse() -> None:
    running = execution_attrs(execution("x", status=RUNNING, created=5), 0)
    assert running["gsi2pk"] == {"S": "STATUS#RUNNING"}
    assert running["gsi2sk"]["S"].endswith("#x")
    for status in (SUCCEEDED, FAILED, CANCELLED):
        assert "gsi2pk" not in execution_attrs(execution("x", status=status), 0)


# ---- journal --------------------------------------------------------------------------------


def test_append_journal_once_per_key(store: Store) -> None:
    store.create_execution(execution("e1"))
    assert store.append_journal("e1", journal("step-a", result=1))
    assert store.append_journal("e1", journal("step-b", result=2))
    assert not store.append_journal("e1", journal("step-a", result=99))
    records = {r.key: r for r in store.load_journal("e1")}
    assert set(records) == {"step-a", "step-b"}
    assert records["step-a"].data == {"result": 1}
    assert records["step-a"] == journal("step-a", result=1)
    assert store.load_journal("other") == []


def test_put_journal_overwrites_bookkeeping_records_only(store: Store) -> None:
    """The ``$replayed`` marker is replaced in place; operation records stay append-only."""
    store.create_execution(execution("e1"))
    store.append_journal("e1", journal("step-a", result=1))
    first = JournalRecord(key="$replayed", op="$replayed", type="replayed", kind="replayed", at=iso(T0), seen=1)
    later = JournalRecord(
        key="$replayed", op="$replayed", type="replayed", kind="replayed", at=iso(T0 + timedelta(minutes=5)), seen=2
    )
    store.put_journal("e1", first)
    store.put_journal("e1", later)
    records = {r.key: r for r in store.load_journal("e1")}
    assert set(records) == {"step-a", "$replayed"}
    assert records["$replayed"] == later and records["$replayed"].seen == 2
    with pytest.raises(ValueError, match="bookkeeping"):
        store.put_journal("e1", journal("step-a", result=2))
    assert {r.key: r for r in store.load_journal("e1")}["step-a"].data == {"result": 1}


def test_the_orchestrators_records_form_an_ordered_log_beside_the_keyed_reports(store: Store) -> None:
    own = [JournalRecord(f"op{i}", f"op{i}", "step", "result", {"i": i}, seq=i) for i in (3, 1, 2, 11)]
    for rec in own:
        assert store.append_journal("e1", rec)
    report = journal("declared", result=5)  # seq 0: another writer's, stored under its key
    assert store.append_journal("e1", report)
    claim = JournalRecord("declared#a1", "declared", "step", "attempt", {}, seq=12, shared=True)
    assert store.append_journal("e1", claim)
    # the log, in write order, from a position on: only the orchestrator's logged records
    assert [r.seq for r in store.load_journal_since("e1", 0)] == [1, 2, 3, 11]
    assert [r.key for r in store.load_journal_since("e1", 2)] == ["op3", "op11"]
    assert store.load_journal_since("e1", 11) == []
    # records outside the log are read by key; a logged record is not stored under its key
    got = store.get_journal("e1", "declared")
    assert got is not None and got.data == {"result": 5}
    shared = store.get_journal("e1", "declared#a1")
    assert shared is not None and shared.shared and shared.seq == 12
    assert store.get_journal("e1", "op1") is None and store.get_journal("e1", "nope") is None
    # the whole journal holds both
    assert {r.key for r in store.load_journal("e1")} == {"op1", "op2", "op3", "op11", "declared", "declared#a1"}
    # a log slot is taken once, whatever the key of the second writer
    assert not store.append_journal("e1", JournalRecord("other", "other", "step", "result", {}, seq=2))
    assert [r.key for r in store.load_journal_since("e1", 1)] == ["op2", "op3", "op11"]


def test_load_execution_reads_the_header_and_the_whole_journal_together(store: Store) -> None:
    assert store.load_execution("e1") == (None, [])
    rec = execution("e1", payload={"n": 1})
    assert store.create_execution(rec)
    assert store.load_execution("e1") == (store.get_execution("e1"), [])
    for i in (2, 1):
        assert store.append_journal("e1", JournalRecord(f"op{i}", f"op{i}", "step", "result", {"i": i}, seq=i))
    assert store.append_journal("e1", journal("declared", result=5))  # a report, stored under its key
    store.put_journal("e1", JournalRecord("$replayed", "$replayed", "marker", "replayed", {}))
    # neighbours that must not be read with it: another execution, and other items of the table
    assert store.create_execution(execution("e10")) and store.append_journal("e10", journal("x"))
    assert store.put_item(Item("EXEC#e1x", "META", {"not": "it"}))
    header, records = store.load_execution("e1")
    assert header is not None and header.input == {"n": 1} and header.version == rec.version
    assert {r.key: r for r in records} == {r.key: r for r in store.load_journal("e1")}
    assert {r.key for r in records} == {"op1", "op2", "declared", "$replayed"}
    # a journal without its header (written by a racing report before a start, or left after an expiry)
    assert store.append_journal("orphan", journal("s"))
    assert [r.key for r in store.load_execution("orphan")[1]] == ["s"] and store.load_execution("orphan")[0] is None


def test_load_execution_is_one_request(store: Store) -> None:
    assert store.create_execution(execution("e1"))
    assert store.append_journal("e1", journal("a"))
    if isinstance(store, DynamoStore):
        before = dict(store.calls)
        store.load_execution("e1")
        assert {k: v - before.get(k, 0) for k, v in store.calls.items() if v != before.get(k, 0)} == {"Query": 1}
    else:
        assert isinstance(store, InMemoryStore)
        reads = store.calls["reads"]
        store.load_execution("e1")
        assert store.calls["reads"] == reads + 1


def test_the_log_range_read_stays_ordered_after_a_delete_and_apart_from_other_executions(store: Store) -> None:
    """``load_journal_since`` after a log slot was deleted, out-of-order writes and other executions' logs
    (the in-memory store answers from an ordered index of log slots: same records, same order as the Query)."""
    for eid in ("e1", "e10", "e2"):  # "e1" and "e10" share a prefix: partitions must not bleed into each other
        for i in (5, 1, 3, 2, 4, 12):
            assert store.append_journal(eid, JournalRecord(f"{eid}-op{i}", "op", "step", "result", {"i": i}, seq=i))
    store.put_journal("e1", JournalRecord("$replayed", "$replayed", "replayed", "replayed", at=iso(T0)))
    assert store.delete_item("EXEC#e1", "J#$L0000000003")  # a slot removed (as a TTL deletion would)
    assert not store.delete_item("EXEC#e1", "J#$L0000000003")
    assert [r.seq for r in store.load_journal_since("e1", 0)] == [1, 2, 4, 5, 12]
    assert [r.seq for r in store.load_journal_since("e1", 2)] == [4, 5, 12]
    assert [r.seq for r in store.load_journal_since("e1", 3)] == [4, 5, 12]
    assert [r.key for r in store.load_journal_since("e10", 4)] == ["e10-op5", "e10-op12"]
    assert [r.seq for r in store.load_journal_since("e2", 0)] == [1, 2, 3, 4, 5, 12]
    assert store.load_journal_since("e1", 12) == [] and store.load_journal_since("nobody", 0) == []
    # the slot is free again: a new record there is found in its place
    assert store.append_journal("e1", JournalRecord("again", "again", "step", "result", {}, seq=3))
    assert [r.key for r in store.load_journal_since("e1", 2)] == ["again", "e1-op4", "e1-op5", "e1-op12"]
    for i in (1, 2, 3, 4, 5, 12):  # every slot deleted: the range is empty, the partition's reports stay
        store.delete_item("EXEC#e1", f"J#$L{i:010d}")
    assert store.load_journal_since("e1", 0) == []
    assert [r.key for r in store.load_journal("e1")] == ["$replayed"]
    assert store.append_journal("e1", JournalRecord("late", "late", "step", "result", {}, seq=7))
    assert [r.key for r in store.load_journal_since("e1", 0)] == ["late"]


def test_a_dense_log_read_gives_what_the_range_read_gives(store: Store) -> None:
    """``load_journal_since(..., dense=True)`` on a log without holes (a running execution's): the same records;
    DynamoDB answers "nothing new" with one GetItem of the next slot, not a Query (issue 17: moto's Query walks
    the whole table)."""
    for i in (1, 2, 3):
        assert store.append_journal("e1", JournalRecord(f"op{i}", "op", "step", "result", {"i": i}, seq=i))
    assert store.append_journal("e1", JournalRecord("report", "op", "step", "result", {}))  # a report: no slot
    for after in (0, 1, 2, 3, 7):
        assert store.load_journal_since("e1", after, dense=True) == store.load_journal_since("e1", after)
    assert [r.seq for r in store.load_journal_since("e1", 1, dense=True)] == [2, 3]
    if isinstance(store, DynamoStore):
        store.calls.clear()
        assert store.load_journal_since("e1", 3, dense=True) == []
        assert dict(store.calls) == {"GetItem": 1}
        store.calls.clear()
        assert [r.seq for r in store.load_journal_since("e1", 2, dense=True)] == [3]
        assert dict(store.calls) == {"GetItem": 1, "Query": 1}


def test_load_journal_reads_every_page(store: Store) -> None:
    # ~1.5 MB of journal: more than one DynamoDB Query page (1 MB).
    for i in range(5):
        assert store.append_journal("big", journal(f"s{i}", blob="x" * 300_000))
    assert sorted(r.key for r in store.load_journal("big")) == [f"s{i}" for i in range(5)]
    assert store.create_execution(execution("big"))
    header, records = store.load_execution("big")  # the header sorts last: on the second page
    assert header is not None and sorted(r.key for r in records) == [f"s{i}" for i in range(5)]


# ---- generic items --------------------------------------------------------------------------


def test_put_item_if_absent(store: Store) -> None:
    assert store.put_item(Item("LOCK#x", "STATE", {"owner": 1}), if_absent=True)
    assert not store.put_item(Item("LOCK#x", "STATE", {"owner": 2}), if_absent=True)
    got = store.get_item("LOCK#x", "STATE")
    assert got is not None and got.body == {"owner": 1}


def test_put_item_if_version(store: Store) -> None:
    assert store.put_item(Item("SM#order", "k1", {"state": "draft"}, version=0))
    assert store.put_item(Item("SM#order", "k1", {"state": "pending"}), if_version=0)
    got = store.get_item("SM#order", "k1")
    assert got is not None and (got.body, got.version) == ({"state": "pending"}, 1)

    assert not store.put_item(Item("SM#order", "k1", {"state": "stale"}), if_version=0)
    assert store.put_item(Item("SM#order", "k1", {"state": "paid"}), if_version=1)
    got = store.get_item("SM#order", "k1")
    assert got is not None and (got.body, got.version) == ({"state": "paid"}, 2)

    assert not store.put_item(Item("SM#order", "missing", {}), if_version=0)
    assert store.get_item("SM#order", "missing") is None


def test_plain_put_overwrites_and_keeps_given_version(store: Store) -> None:
    assert store.put_item(Item("P", "s", {"v": 1}, version=7))
    assert store.put_item(Item("P", "s", {"v": 2}, version=3))
    assert store.get_item("P", "s") == Item("P", "s", {"v": 2}, version=3)


def test_put_item_rejects_both_conditions(store: Store) -> None:
    with pytest.raises(ValueError, match="not both"):
        store.put_item(Item("P", "s", {}), if_absent=True, if_version=0)


def test_empty_keys_are_rejected(store: Store) -> None:
    with pytest.raises(ValueError, match="empty"):
        store.put_item(Item("P", "", {}))


def test_keys_over_dynamodbs_sizes_are_refused_on_reads_writes_and_deletes(store: Store) -> None:
    # DynamoDB quotas: partition key 2048 bytes, sort key 1024 bytes (bytes of UTF-8, not characters).
    store.put_item(Item("p" * 2048, "s" * 1024, {"ok": True}))
    assert store.get_item("p" * 2048, "s" * 1024) is not None
    for pk, sk in (("p" * 2047 + "\u00e9", "s"), ("p", "s" * 1023 + "\u00e9")):
        with pytest.raises(ValueError, match="key too long"):
            store.get_item(pk, sk)
        with pytest.raises(ValueError, match="key too long"):
            store.delete_item(pk, sk)
        with pytest.raises(ValueError, match="key too long"):
            store.put_item(Item(pk, sk, {}))


def test_query_items_order_prefix_and_lower_bound(store: Store) -> None:
    for sk in ["b#2", "a#1", "c", "b#1", "a#2", "b#10"]:
        store.put_item(Item("Q", sk, {"sk": sk}))
    store.put_item(Item("OTHER", "a#0", {}))

    def sks(**kw: object) -> list[str]:
        return [i.sk for i in store.query_items("Q", **kw)]  # type: ignore[arg-type]

    assert sks() == ["a#1", "a#2", "b#1", "b#10", "b#2", "c"]
    assert sks(sk_prefix="b#") == ["b#1", "b#10", "b#2"]
    assert sks(sk_from="a#2") == ["a#2", "b#1", "b#10", "b#2", "c"]  # inclusive
    assert sks(sk_prefix="b#", sk_from="b#10") == ["b#10", "b#2"]
    assert sks(sk_prefix="b#", sk_from="a") == ["b#1", "b#10", "b#2"]  # bound below the prefix
    assert sks(sk_prefix="a#", sk_from="b") == []  # bound above every key with the prefix
    assert sks(limit=2) == ["a#1", "a#2"]
    assert sks(sk_prefix="b#", sk_from="b#1", limit=2) == ["b#1", "b#10"]
    assert sks(sk_prefix="zz") == []
    assert [i.body for i in store.query_items("Q", sk_prefix="c")] == [{"sk": "c"}]


def test_query_items_event_log_since(store: Store) -> None:
    # How wait_for looks back: sort keys are "{received iso}#{event id}", lower bound = start time.
    for minute, event_id in [(1, "e1"), (5, "e2"), (9, "e3")]:
        sk = f"{iso(T0 + timedelta(minutes=minute))}#{event_id}"
        store.put_item(Item("EVT#Order.paid", sk, {"id": event_id}))
    since = iso(T0 + timedelta(minutes=5))
    assert [i.body["id"] for i in store.query_items("EVT#Order.paid", sk_from=since)] == ["e2", "e3"]


# ---- expiry ---------------------------------------------------------------------------------


def test_expired_items_are_absent(store: Store, clock: Clock) -> None:
    expires = iso(clock.now + timedelta(seconds=10))
    store.put_item(Item("CACHE#k", "CACHE", {"result": 1}, expires_at=expires))
    store.put_item(Item("CACHE#k", "KEEP", {"result": 2}))
    got = store.get_item("CACHE#k", "CACHE")
    assert got is not None and got.expires_at == expires

    clock.advance(9.999)
    assert store.get_item("CACHE#k", "CACHE") is not None
    clock.advance(0.001)  # expires_at <= now: gone
    assert store.get_item("CACHE#k", "CACHE") is None
    assert [i.sk for i in store.query_items("CACHE#k")] == ["KEEP"]
    assert not store.put_item(Item("CACHE#k", "CACHE", {}), if_version=0)  # expired: no version to match
    assert not store.delete_item("CACHE#k", "CACHE", if_version=0)
    assert store.put_item(Item("CACHE#k", "CACHE", {"result": 3}), if_absent=True)  # expired counts as absent
    got = store.get_item("CACHE#k", "CACHE")
    assert got is not None and got.body == {"result": 3} and got.expires_at is None


def test_unconditional_delete_of_expired_item_reports_nothing_deleted(store: Store, clock: Clock) -> None:
    store.put_item(Item("D", "s", {}, expires_at=iso(clock.now)))
    assert not store.delete_item("D", "s")


def test_expiry_accepts_any_iso_form(store: Store, clock: Clock) -> None:
    store.put_item(Item("E", "z", {}, expires_at="2030-01-01T12:00:05Z"))
    got = store.get_item("E", "z")
    assert got is not None and got.expires_at == "2030-01-01T12:00:05.000000+00:00"
    clock.advance(5)
    assert store.get_item("E", "z") is None


def test_query_limit_counts_live_items_only(store: Store, clock: Clock) -> None:
    for i in range(6):
        expires = iso(clock.now + timedelta(seconds=1)) if i % 2 == 0 else None
        store.put_item(Item("L", f"s{i}", {}, expires_at=expires))
    clock.advance(1)
    assert [i.sk for i in store.query_items("L", limit=2)] == ["s1", "s3"]
    assert [i.sk for i in store.query_items("L")] == ["s1", "s3", "s5"]


# ---- limits ---------------------------------------------------------------------------------


def test_items_over_400_kb_raise_payload_too_large(store: Store) -> None:
    big = "x" * 420_000
    with pytest.raises(PayloadTooLarge, match="400 KB") as err:
        store.create_execution(execution("e1", payload=big))
    assert "execution 'e1'" in str(err.value)
    assert store.get_execution("e1") is None

    store.create_execution(execution("e2"))
    with pytest.raises(PayloadTooLarge, match="journal record 'huge' of execution 'e2'"):
        store.append_journal("e2", journal("huge", result=big))
    assert store.load_journal("e2") == []
    logged = JournalRecord("huge-logged", "huge-logged", "step", "result", {"result": big}, seq=7)
    with pytest.raises(PayloadTooLarge, match="journal record 'huge-logged' of execution 'e2'"):
        store.append_journal("e2", logged)  # stored at a log slot, but named by its key

    with pytest.raises(PayloadTooLarge, match="CACHE#k"):
        store.put_item(Item("CACHE#k", "CACHE", {"result": big}))
    assert store.get_item("CACHE#k", "CACHE") is None

    rec = store.get_execution("e2")
    assert rec is not None
    rec.result = big
    with pytest.raises(PayloadTooLarge):
        store.save_execution(rec)


def test_items_just_under_the_limit_are_stored(store: Store) -> None:
    assert store.put_item(Item("P", "s", {"blob": "x" * 390_000}))
    got = store.get_item("P", "s")
    assert got is not None and len(got.body["blob"]) == 390_000


# ---- delete ---------------------------------------------------------------------------------


def test_delete_item_with_and_without_version(store: Store) -> None:
    store.put_item(Item("W", "a", {}, version=2))
    store.put_item(Item("W", "b", {}))
    assert not store.delete_item("W", "a", if_version=1)
    assert store.get_item("W", "a") is not None
    assert store.delete_item("W", "a", if_version=2)
    assert store.get_item("W", "a") is None
    assert store.delete_item("W", "b")
    assert not store.delete_item("W", "b")
    assert not store.delete_item("W", "never", if_version=0)


# ---- implementation specifics ---------------------------------------------------------------


def test_call_counters(store: Store) -> None:
    store.create_execution(execution("e1"))
    store.get_execution("e1")
    calls: dict[str, int] = store.calls  # type: ignore[attr-defined]
    if isinstance(store, InMemoryStore):
        assert calls == {"reads": 1, "writes": 1}
    else:
        assert calls == {"PutItem": 1, "GetItem": 1}


def test_dynamo_item_layout(dynamo: object, clock: Clock) -> None:
    store = DynamoStore(TABLE, client=dynamo, clock=clock)  # type: ignore[arg-type]
    store.create_execution(execution("e1", workflow="orders", created=5))
    store.put_item(Item("CACHE#k", "CACHE", {"r": 1}, expires_at=iso(T0 + timedelta(seconds=1.5))))
    raw = dynamo.get_item(TableName=TABLE, Key={"pk": {"S": "EXEC#e1"}, "sk": {"S": "META"}})["Item"]  # type: ignore[attr-defined]
    assert raw["status"] == {"S": RUNNING}
    assert raw["workflow"] == {"S": "orders"}
    assert raw["gsi1pk"] == {"S": "WF#orders"}
    assert raw["gsi1sk"] == {"S": f"{iso(T0 + timedelta(seconds=5))}#e1"}
    assert raw["version"] == {"N": "0"}
    assert json.loads(raw["body"]["S"])["execution_id"] == "e1"
    cached = dynamo.get_item(TableName=TABLE, Key={"pk": {"S": "CACHE#k"}, "sk": {"S": "CACHE"}})["Item"]  # type: ignore[attr-defined]
    assert cached["ttl"] == {"N": str(int(T0.timestamp()) + 2)}  # rounded up: TTL never deletes early


def test_dynamo_translates_service_item_size_errors(dynamo: object) -> None:
    # Under our 409,600-byte estimate but over moto's (and AWS's measured ~405-410 KB) limit: the
    # ValidationException from the service must still surface as PayloadTooLarge.
    store = DynamoStore(TABLE, client=dynamo)  # type: ignore[arg-type]
    with pytest.raises(PayloadTooLarge, match="400 KB"):
        store.put_item(Item("P", "s", {"blob": "x" * 407_000}))


def test_dynamo_creates_its_client_lazily(dynamo: object) -> None:
    store = DynamoStore(TABLE)
    assert not store.client_created
    assert store.create_execution(execution("e1"))
    assert store.get_execution("e1") is not None
    assert store.client_created


def test_racing_writers_exactly_one_wins(store: Store) -> None:
    # Sync steps run in worker threads: conditional writes must stay atomic under concurrency.
    from concurrent.futures import ThreadPoolExecutor

    if isinstance(store, DynamoStore):
        pytest.skip("AWS makes conditional writes atomic; moto's in-process backend has no per-request lock")

    store.create_execution(execution("e1"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        claims = list(pool.map(lambda i: store.put_item(Item("LOCK#r", "S", {}), if_absent=True), range(16)))
        appends = list(pool.map(lambda i: store.append_journal("e1", journal("same", i=i)), range(16)))
        saves = list(pool.map(lambda _: store.save_execution(execution("e1")), range(16)))
    assert claims.count(True) == 1
    assert appends.count(True) == 1
    assert saves.count(True) == 1
    got = store.get_execution("e1")
    assert got is not None and got.version == 1


def test_unfinished_executions_are_paged_oldest_first_after_a_cursor(store: Store) -> None:
    """The sweeper's page: oldest first from the ``by-status`` index, resuming after a cursor (its sort key)."""
    from stepbridge.runtime.records import status_cursor

    for n in range(5):
        store.create_execution(execution(f"r{n}", workflow="a", created=n + 1))
    store.create_execution(execution("s1", workflow="a", created=9, status=SCHEDULED))
    store.create_execution(execution("done", workflow="a", created=0, status=SUCCEEDED))

    first = store.list_unfinished(RUNNING, after=None, limit=2)
    assert [r.execution_id for r in first] == ["r0", "r1"]
    second = store.list_unfinished(RUNNING, after=status_cursor(first[-1]), limit=2)
    assert [r.execution_id for r in second] == ["r2", "r3"]
    rest = store.list_unfinished(RUNNING, after=status_cursor(second[-1]), limit=2)
    assert [r.execution_id for r in rest] == ["r4"]
    assert store.list_unfinished(RUNNING, after=status_cursor(rest[-1]), limit=2) == []
    assert [r.execution_id for r in store.list_unfinished(SCHEDULED, after=None, limit=10)] == ["s1"]
    with pytest.raises(ValueError, match="RUNNING or SCHEDULED"):
        store.list_unfinished(SUCCEEDED, after=None, limit=10)


# ---- the by-assignee index (task inbox) -------------------------------------------------------


def test_assignee_index_lists_indexed_items_by_key_and_prefix_and_drops_unindexed_ones(store: Store) -> None:
    store.put_item(Item("TASK#a", "A#maria", {"n": 1}, index=("ASSIGNEE#maria", "open#2030#a")))
    store.put_item(Item("TASK#b", "A#maria", {"n": 2}, index=("ASSIGNEE#maria", "completed#2030#b")))
    store.put_item(Item("TASK#c", "A#maria", {"n": 3}, index=("ASSIGNEE#maria", "open#2031#c")))
    store.put_item(Item("TASK#c", "A#victor", {"n": 4}, index=("ASSIGNEE#victor", "open#2031#c")))
    assert [i.body["n"] for i in store.query_index("ASSIGNEE#maria")] == [2, 1, 3]
    assert [i.body["n"] for i in store.query_index("ASSIGNEE#maria", sk_prefix="open#")] == [1, 3]
    assert [i.body["n"] for i in store.query_index("ASSIGNEE#maria", sk_prefix="open#", limit=1)] == [1]
    got = store.get_item("TASK#a", "A#maria")
    assert got is not None and got.index == ("ASSIGNEE#maria", "open#2030#a")
    # rewritten without index keys (the assignee lost access): out of the inbox, still readable
    store.put_item(Item("TASK#a", "A#maria", {"n": 1}))
    assert [i.body["n"] for i in store.query_index("ASSIGNEE#maria", sk_prefix="open#")] == [3]
    assert store.query_index("ASSIGNEE#nobody") == []
