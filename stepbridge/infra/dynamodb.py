"""The ``Store`` port on one DynamoDB table (the single-table layout of docs/ARCHITECTURE.md).

The item encoding below (``execution_attrs``, ``journal_attrs``, ``item_attrs``,
``check_item``, the decoders) is public on purpose: ``InMemoryStore`` keeps exactly these
attribute maps, so both stores agree on sizes, expiry and ordering and one contract suite
tests both. Expired items count as absent on every read and conditional write, because TTL
only deletes them eventually (days later in AWS, never in moto).
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stepbridge.errors import PayloadTooLarge
from stepbridge.infra import expiry
from stepbridge.runtime import keys
from stepbridge.runtime.codec import dumps
from stepbridge.runtime.keys import EXEC_PREFIX as EXEC_PREFIX
from stepbridge.runtime.keys import JOURNAL_PREFIX as JOURNAL_PREFIX
from stepbridge.runtime.keys import LOG_SLOT_PREFIX as LOG_SLOT_PREFIX
from stepbridge.runtime.keys import META as META
from stepbridge.runtime.keys import STATUS_PREFIX as STATUS_PREFIX
from stepbridge.runtime.keys import WORKFLOW_PREFIX as WORKFLOW_PREFIX
from stepbridge.runtime.keys import execution_key as execution_key
from stepbridge.runtime.limits import DYNAMODB_ITEM_BYTES, DYNAMODB_PARTITION_KEY_BYTES, DYNAMODB_SORT_KEY_BYTES
from stepbridge.runtime.ports import Item
from stepbridge.runtime.records import (
    ExecutionRecord,
    JournalRecord,
    iso,
    parse_iso,
    status_cursor,
)
from stepbridge.runtime.vocabulary import UNFINISHED

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: An item as DynamoDB's low-level API spells it; stepbridge writes only S and N values.
Attrs = dict[str, dict[str, str]]

GSI_NAME = "by-workflow"
#: Sparse index of the executions that are not finished yet (RUNNING, SCHEDULED): the sweeper's Query.
STATUS_GSI_NAME = "by-status"
#: Statuses that carry the ``by-status`` keys; finished executions drop out of the index.
INDEXED_STATUSES = UNFINISHED
#: Sparse index of task assignments by assignee and status: the task inbox (runtime/tasks.py).
ASSIGNEE_GSI_NAME = "by-assignee"
TTL_ATTRIBUTE = "ttl"

#: DynamoDB key size limits (DynamoDB quotas: partition key 2048 bytes, sort key 1024 bytes).
_PK_BYTES = DYNAMODB_PARTITION_KEY_BYTES
_SK_BYTES = DYNAMODB_SORT_KEY_BYTES

# ---- conditional writes: each one names the race it prevents ------------------------------

#: create_execution, append_journal: two starts with one execution id, or a redelivered message
#: recording the same journal key again, must not overwrite the first writer's item.
_NEW_ITEM = "attribute_not_exists(pk)"
#: Re-writing an existing item (a journal record gaining its final ttl): never re-creates one deleted meanwhile.
_EXISTS = "attribute_exists(pk)"
#: put_item(if_absent): like _NEW_ITEM, but an item past its expires_at that TTL has not deleted
#: yet counts as absent, so an expired cache/debounce/lock key can be claimed again at once (by
#: exactly one of the racing writers) instead of after TTL's sweep.
_NEW_OR_EXPIRED = "attribute_not_exists(pk) OR expires_at <= :now"
#: save_execution: a writer holding a stale header (a racing orchestrator, a cancel, the API) must
#: not clobber a newer version; the loser re-reads and decides again.
_SAME_VERSION = "version = :expected"
#: put_item(if_version), delete_item(if_version): the same optimistic lock for generic items
#: (state machines, breakers); an expired item is absent, so its last version cannot win.
_SAME_LIVE_VERSION = "version = :expected AND (attribute_not_exists(expires_at) OR expires_at > :now)"
#: Read filter (not a write condition): hide expired items that TTL has not deleted yet.
_LIVE = "(attribute_not_exists(expires_at) OR expires_at > :now)"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def table_definition(table_name: str) -> dict[str, Any]:
    """``CreateTable`` kwargs of the table (LocalCloud and tests create it; the compiler mirrors it).

    TTL is not part of CreateTable: enable it with ``UpdateTimeToLive`` on ``TTL_ATTRIBUTE``.
    """
    return {
        "TableName": table_name,
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "gsi1pk", "AttributeType": "S"},
            {"AttributeName": "gsi1sk", "AttributeType": "S"},
            {"AttributeName": "gsi2pk", "AttributeType": "S"},
            {"AttributeName": "gsi2sk", "AttributeType": "S"},
            {"AttributeName": "gsi3pk", "AttributeType": "S"},
            {"AttributeName": "gsi3sk", "AttributeType": "S"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": GSI_NAME,
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": STATUS_GSI_NAME,
                "KeySchema": [
                    {"AttributeName": "gsi2pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi2sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": ASSIGNEE_GSI_NAME,
                "KeySchema": [
                    {"AttributeName": "gsi3pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi3sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        "BillingMode": "PAY_PER_REQUEST",
        "SSESpecification": {"Enabled": True},
    }


# ---- item encoding (shared with InMemoryStore) -------------------------------------------


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def normalize_expiry(expires_at: str | None) -> str | None:
    """One ISO form for every expiry, so expiries compare as strings (also inside DynamoDB conditions)."""
    return None if expires_at is None else iso(parse_iso(expires_at))


def execution_attrs(record: ExecutionRecord, version: int) -> Attrs:
    """An execution header at ``version``; status, workflow and the GSI keys are top-level for queries.

    ``gsi2pk``/``gsi2sk`` (the sparse ``by-status`` index) are present only while the execution is
    RUNNING or SCHEDULED, so the index holds exactly the executions the sweeper must look at.
    """
    pk, sk = execution_key(record.execution_id)
    body = record.to_dict()
    body["version"] = version
    attrs = {
        "pk": _s(pk),
        "sk": _s(sk),
        "body": _s(dumps(body)),
        "version": _n(version),
        "status": _s(record.status),
        "workflow": _s(record.workflow),
        "gsi1pk": _s(keys.workflow_pk(record.workflow)),
        "gsi1sk": _s(keys.created_cursor(record.created_at, record.execution_id)),
    }
    if record.status in INDEXED_STATUSES:
        attrs["gsi2pk"] = _s(keys.status_pk(record.status))
        attrs["gsi2sk"] = _s(status_cursor(record))
    return attrs


def journal_attrs(execution_id: str, record: JournalRecord) -> Attrs:
    """One journal record under its execution's partition (one Query loads the whole journal).

    The orchestrator's records sort in write order (``J#$L{seq}``), so the new part of the log is
    one range Query; reports of other writers and shared claims sit under ``J#{key}``, where the
    conditional put makes the key unique.
    """
    return {
        "pk": _s(keys.execution_pk(execution_id)),
        "sk": _s(keys.journal_sk(record.slot)),
        "body": _s(dumps(record.to_dict())),
        "version": _n(0),
    }


def item_attrs(item: Item, version: int) -> Attrs:
    """A generic item; ``expires_at`` is kept exact (ISO) for reads and in epoch seconds in ``ttl``."""
    attrs: Attrs = {
        "pk": _s(item.pk),
        "sk": _s(item.sk),
        "body": _s(dumps(item.body)),
        "version": _n(version),
    }
    expires = normalize_expiry(item.expires_at)
    if expires is not None:
        attrs["expires_at"] = _s(expires)
        # Rounded up: TTL must never delete an item before it has expired on our clock.
        attrs[TTL_ATTRIBUTE] = _n(math.ceil(parse_iso(expires).timestamp()))
    if item.index is not None:
        attrs["gsi3pk"], attrs["gsi3sk"] = _s(item.index[0]), _s(item.index[1])
    return attrs


def attrs_size(attrs: Mapping[str, Mapping[str, str]]) -> int:
    """DynamoDB's item size: attribute-name bytes plus value bytes (numbers ~1 byte per 2 digits + 1)."""
    total = 0
    for name, value in attrs.items():
        total += len(name.encode())
        if "S" in value:
            total += len(value["S"].encode())
        else:
            digits = value["N"].lstrip("-").replace(".", "")
            total += (len(digits) + 1) // 2 + 1
    return total


def describe_key(attrs: Mapping[str, Mapping[str, str]]) -> str:
    """A human name for an item in error messages."""
    pk, sk = attrs["pk"]["S"], attrs["sk"]["S"]
    execution_id, slot = keys.execution_id_of(pk), keys.slot_of_sk(sk)
    if execution_id is not None and sk == META:
        return f"execution '{execution_id}'"
    if execution_id is not None and slot is not None:
        key = slot
        if key.startswith(LOG_SLOT_PREFIX) and "body" in attrs:
            # a log slot: name the record by its operation key, as the user wrote it
            with contextlib.suppress(ValueError, AttributeError):
                key = str(json.loads(attrs["body"]["S"]).get("key", key))
        return f"journal record '{key}' of execution '{execution_id}'"
    return f"item pk={pk!r} sk={sk!r}"


def _too_large(what: str, size: int | None) -> PayloadTooLarge:
    measured = f"is {size:,} bytes, which is" if size is not None else "is"
    return PayloadTooLarge(
        f"{what} {measured} over DynamoDB's 400 KB item limit ({DYNAMODB_ITEM_BYTES:,} bytes); "
        "keep large data out of workflow inputs, step results and events (store it in S3 and pass its key)"
    )


def check_key(pk: str, sk: str, attrs: Mapping[str, Mapping[str, str]] | None = None) -> None:
    """Fail clearly before a read or write DynamoDB would reject for its key: empty, or over 2048/1024 bytes."""
    if not pk or not sk:
        raise ValueError(f"DynamoDB keys cannot be empty strings (pk={pk!r}, sk={sk!r})")
    if len(pk.encode()) > _PK_BYTES or len(sk.encode()) > _SK_BYTES:
        what = describe_key(attrs) if attrs is not None else f"item pk={pk[:80]!r}... sk={sk[:80]!r}..."
        raise ValueError(
            f"{what}: key too long (DynamoDB limits: partition key {_PK_BYTES} bytes, "
            f"sort key {_SK_BYTES} bytes); use shorter step names or ids"
        )


def check_item(attrs: Mapping[str, Mapping[str, str]]) -> None:
    """Fail clearly before writing what DynamoDB would reject: empty or long keys, items over 400 KB."""
    check_key(attrs["pk"]["S"], attrs["sk"]["S"], attrs)
    size = attrs_size(attrs)
    # DynamoDB quotas: maximum item size 400 KB, attribute names included.
    if size > DYNAMODB_ITEM_BYTES:
        raise _too_large(describe_key(attrs), size)


def is_live(attrs: Mapping[str, Mapping[str, str]], now_iso: str) -> bool:
    """Whether an item has not expired at ``now_iso`` (expiry strings are normalized, so they compare)."""
    expires = attrs.get("expires_at")
    return expires is None or expires["S"] > now_iso


def decode_item(attrs: Mapping[str, Mapping[str, str]]) -> Item:
    """The generic ``Item`` of an attribute map."""
    expires = attrs.get("expires_at")
    index = (attrs["gsi3pk"]["S"], attrs["gsi3sk"]["S"]) if "gsi3pk" in attrs and "gsi3sk" in attrs else None
    return Item(
        pk=attrs["pk"]["S"],
        sk=attrs["sk"]["S"],
        body=json.loads(attrs["body"]["S"]),
        version=int(attrs["version"]["N"]),
        expires_at=expires["S"] if expires is not None else None,
        index=index,
    )


def decode_execution(attrs: Mapping[str, Mapping[str, str]]) -> ExecutionRecord:
    """An execution header; the top-level ``version`` is authoritative."""
    record = ExecutionRecord.from_dict(json.loads(attrs["body"]["S"]))
    record.version = int(attrs["version"]["N"])
    return record


def decode_journal(attrs: Mapping[str, Mapping[str, str]]) -> JournalRecord:
    """A journal record (its ``size`` = the stored body's length)."""
    body = attrs["body"]["S"]
    record = JournalRecord.from_dict(json.loads(body))
    record.size = len(body)
    return record


def put_version(item: Item, if_absent: bool, if_version: int | None) -> int:
    """The version a successful ``put_item`` stores (``if_version + 1`` under an optimistic lock)."""
    if if_absent and if_version is not None:
        raise ValueError("put_item: pass if_absent or if_version, not both")
    return item.version if if_version is None else if_version + 1


def sk_range(sk_prefix: str, sk_from: str | None) -> tuple[str, str | None] | None:
    """Reduce ``(sk_prefix, sk_from)`` to ``(prefix, lower bound or None)``; ``None`` when nothing can match.

    A lower bound at or below the prefix is implied by the prefix; one above the prefix that does not
    start with it lies beyond every key with the prefix.
    """
    if sk_from is None or not sk_prefix:
        return sk_prefix, sk_from
    if sk_from <= sk_prefix:
        return sk_prefix, None
    if sk_from.startswith(sk_prefix):
        return sk_prefix, sk_from
    return None


class DynamoStore:
    """``Store`` on one table: racing writes are conditional, reads strongly consistent (except the GSI)."""

    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient | None = None,
        clock: Callable[[], datetime] | None = None,
        retention: float | None = None,
    ) -> None:
        self.table_name = table_name
        #: ``App(retention=)`` in seconds: execution items get a ``ttl`` (``infra/expiry.py``); ``None`` = kept.
        self.retention = retention
        self._client = client
        self._clock = clock or _utcnow
        self._lock = threading.Lock()
        #: API calls by operation name (PutItem, GetItem, Query, Scan, DeleteItem), for benchmarks.
        self.calls: dict[str, int] = {}

    @property
    def client(self) -> DynamoDBClient:
        """The low-level client, created on first use (cold starts that never touch the table skip it)."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3

                    self._client = boto3.client("dynamodb")
        return self._client

    def _count(self, op: str) -> None:
        with self._lock:
            self.calls[op] = self.calls.get(op, 0) + 1

    def _now(self) -> str:
        return iso(self._clock())

    # ---- primitives -------------------------------------------------------------------------

    def _put(self, attrs: Attrs, condition: str | None = None, values: Attrs | None = None) -> bool:
        """PutItem; ``False`` when ``condition`` failed (someone else won the race)."""
        attrs = expiry.stamp(attrs, self.retention, self._clock())
        check_item(attrs)
        kwargs: dict[str, Any] = {"TableName": self.table_name, "Item": attrs}
        if condition is not None:
            kwargs["ConditionExpression"] = condition
            if values:
                kwargs["ExpressionAttributeValues"] = values
        self._count("PutItem")
        try:
            self.client.put_item(**kwargs)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code, message = error.get("Code", ""), error.get("Message", "")
            if code == "ConditionalCheckFailedException":
                return False
            if code == "ValidationException" and "item size" in message.lower():
                raise _too_large(describe_key(attrs), None) from exc
            raise
        return True

    def _get(self, pk: str, sk: str, *, consistent: bool = True) -> dict[str, Any] | None:
        self._count("GetItem")
        resp = self.client.get_item(
            TableName=self.table_name, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=consistent
        )
        found: dict[str, Any] | None = resp.get("Item")
        return found

    def _collect(
        self,
        op: str,
        kwargs: dict[str, Any],
        limit: int,
        *,
        page_limit: bool = True,
        beyond: Callable[[Mapping[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Run a Query/Scan page by page until ``limit`` items came back, the end, or ``beyond(last key)``."""
        out: list[dict[str, Any]] = []
        request = dict(kwargs)
        while len(out) < limit:
            if page_limit:
                request["Limit"] = limit - len(out)
            self._count(op)
            resp: Mapping[str, Any]
            resp = self.client.query(**request) if op == "Query" else self.client.scan(**request)
            out.extend(resp.get("Items", []))
            last = resp.get("LastEvaluatedKey")
            if not last or (beyond is not None and beyond(last)):
                break
            request["ExclusiveStartKey"] = last
        return out[:limit]

    # ---- executions ---------------------------------------------------------------------------

    def create_execution(self, record: ExecutionRecord) -> bool:
        """Insert the header unless the id exists (idempotent starts)."""
        return self._put(execution_attrs(record, record.version), _NEW_ITEM)

    def get_execution(self, execution_id: str, *, consistent: bool = True) -> ExecutionRecord | None:
        """The header, read consistently unless ``consistent=False`` (the orchestrator decides on it)."""
        attrs = self._get(*execution_key(execution_id), consistent=consistent)
        return decode_execution(attrs) if attrs is not None else None

    def save_execution(self, record: ExecutionRecord) -> bool:
        """Write at ``record.version + 1`` if the stored version is still ``record.version``.

        ``record`` itself is left unchanged: callers bump their copy on success.
        """
        attrs = execution_attrs(record, record.version + 1)
        saved = self._put(attrs, _SAME_VERSION, {":expected": _n(record.version)})
        if saved and self.retention is not None and expiry.ends_with_journal(attrs):
            self._expire_journal(record.execution_id)
        return saved

    def _expire_journal(self, execution_id: str) -> None:
        """The execution ended: its journal expires with its header (one Query, then one PutItem per record,
        each billed like the record's first write; an item deleted meanwhile is not brought back)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :j)",
            "ExpressionAttributeValues": {":pk": _s(f"{EXEC_PREFIX}{execution_id}"), ":j": _s(JOURNAL_PREFIX)},
            "ConsistentRead": True,
        }
        now = self._clock()
        for attrs in self._collect("Query", kwargs, sys.maxsize, page_limit=False):
            self._put(expiry.finished(dict(attrs), self.retention, now), _EXISTS)

    def list_executions(
        self, workflow: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ExecutionRecord]:
        """Newest first: a GSI Query for one workflow or for an unfinished status (both eventually
        consistent), else a Scan of the headers."""
        if limit <= 0:
            return []
        if workflow is None and status in INDEXED_STATUSES:
            kwargs_status: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": STATUS_GSI_NAME,
                "KeyConditionExpression": "gsi2pk = :st",
                "ExpressionAttributeValues": {":st": _s(keys.status_pk(status))},
                "ScanIndexForward": False,
            }
            return [decode_execution(a) for a in self._collect("Query", kwargs_status, limit)]
        values: Attrs = {}
        names: dict[str, str] = {}
        filters: list[str] = []
        if status is not None:
            filters.append("#status = :status")
            values[":status"] = _s(status)
            names["#status"] = "status"  # STATUS is a DynamoDB reserved word
        if workflow is not None:
            values[":wf"] = _s(keys.workflow_pk(workflow))
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": GSI_NAME,  # GSIs do not support ConsistentRead
                "KeyConditionExpression": "gsi1pk = :wf",
                "ScanIndexForward": False,
            }
            op = "Query"
        else:
            # other items may use the META sort key too (a human task: TASK#{id}); only execution headers count
            filters.insert(0, "sk = :meta AND begins_with(pk, :exec)")
            values[":meta"] = _s(META)
            values[":exec"] = _s(EXEC_PREFIX)
            kwargs = {"TableName": self.table_name, "ConsistentRead": True}
            op = "Scan"
        kwargs["ExpressionAttributeValues"] = values
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if filters:
            kwargs["FilterExpression"] = " AND ".join(filters)
        if op == "Query":
            # A page Limit counts items before the filter, so only page by limit when nothing is filtered.
            items = self._collect(op, kwargs, limit, page_limit=status is None)
        else:
            items = self._collect(op, kwargs, sys.maxsize, page_limit=False)
            items.sort(key=lambda a: str(a["gsi1sk"]["S"]), reverse=True)
        return [decode_execution(a) for a in items[:limit]]

    def list_unfinished(self, status: str, *, after: str | None, limit: int) -> list[ExecutionRecord]:
        """Oldest first from the sparse ``by-status`` index, after the sort key ``after`` (eventually consistent)."""
        if status not in INDEXED_STATUSES:
            raise ValueError(f"list_unfinished: status must be RUNNING or SCHEDULED, got {status!r}")
        if limit <= 0:
            return []
        condition = "gsi2pk = :st"
        values: Attrs = {":st": _s(keys.status_pk(status))}
        if after is not None:
            condition += " AND gsi2sk > :after"
            values[":after"] = _s(after)
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": STATUS_GSI_NAME,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": True,
        }
        return [decode_execution(a) for a in self._collect("Query", kwargs, limit)]

    # ---- journal --------------------------------------------------------------------------------

    def load_journal(self, execution_id: str) -> list[JournalRecord]:
        """The whole journal in one consistent Query (more pages only past 1 MB)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :j)",
            "ExpressionAttributeValues": {
                ":pk": _s(keys.execution_pk(execution_id)),
                ":j": _s(JOURNAL_PREFIX),
            },
            "ConsistentRead": True,
        }
        return [decode_journal(a) for a in self._collect("Query", kwargs, sys.maxsize, page_limit=False)]

    def load_journal_since(self, execution_id: str, after_seq: int) -> list[JournalRecord]:
        """The orchestrator's log records with ``seq > after_seq``, in order: one consistent range Query."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": _s(keys.execution_pk(execution_id)),
                ":lo": _s(keys.log_sk_from(after_seq + 1)),
                ":hi": _s(keys.LOG_SK_END),
            },
            "ConsistentRead": True,
        }
        return [decode_journal(a) for a in self._collect("Query", kwargs, sys.maxsize, page_limit=False)]

    def get_journal(self, execution_id: str, key: str) -> JournalRecord | None:
        """The record stored under ``key`` (a report or shared claim), read consistently."""
        attrs = self._get(keys.execution_pk(execution_id), keys.journal_sk(key))
        return decode_journal(attrs) if attrs is not None else None

    def append_journal(self, execution_id: str, record: JournalRecord) -> bool:
        """Record once: a taken key or log slot (redelivery, racing orchestrator) returns ``False``."""
        return self._put(journal_attrs(execution_id, record), _NEW_ITEM)

    def put_journal(self, execution_id: str, record: JournalRecord) -> None:
        """Overwrite a bookkeeping record (``$`` keys only: operation records are append-only)."""
        if not keys.is_bookkeeping(record.key):
            raise ValueError(f"put_journal is for bookkeeping records ('$' keys), not '{record.key}'")
        self._put(journal_attrs(execution_id, record))

    # ---- generic items ----------------------------------------------------------------------

    def put_item(self, item: Item, *, if_absent: bool = False, if_version: int | None = None) -> bool:
        """Write an item, optionally only when absent (or expired) or at an expected version."""
        attrs = item_attrs(item, put_version(item, if_absent, if_version))
        if if_absent:
            return self._put(attrs, _NEW_OR_EXPIRED, {":now": _s(self._now())})
        if if_version is not None:
            values = {":expected": _n(if_version), ":now": _s(self._now())}
            return self._put(attrs, _SAME_LIVE_VERSION, values)
        return self._put(attrs)

    def get_item(self, pk: str, sk: str) -> Item | None:
        """One live item, read consistently."""
        check_key(pk, sk)
        attrs = self._get(pk, sk)
        if attrs is None or not is_live(attrs, self._now()):
            return None
        return decode_item(attrs)

    def query_items(self, pk: str, *, sk_prefix: str = "", sk_from: str | None = None, limit: int = 1000) -> list[Item]:
        """Live items under ``pk`` in ascending sort-key order."""
        bounds = sk_range(sk_prefix, sk_from)
        if bounds is None or limit <= 0:
            return []
        prefix, lower = bounds
        values: Attrs = {":pk": _s(pk), ":now": _s(self._now())}
        filters = [_LIVE]
        beyond: Callable[[Mapping[str, Any]], bool] | None = None
        if prefix and lower is not None:
            # One sort-key condition per Query: range on the bound, filter on the prefix, and stop
            # paging once the keys have left the prefix (keys come back sorted).
            key_condition = "pk = :pk AND sk >= :from"
            values[":from"] = _s(lower)
            values[":prefix"] = _s(prefix)
            filters.append("begins_with(sk, :prefix)")

            def left_prefix(last: Mapping[str, Any]) -> bool:
                return not str(last["sk"]["S"]).startswith(prefix)

            beyond = left_prefix
        elif prefix:
            key_condition = "pk = :pk AND begins_with(sk, :prefix)"
            values[":prefix"] = _s(prefix)
        elif lower is not None:
            key_condition = "pk = :pk AND sk >= :from"
            values[":from"] = _s(lower)
        else:
            key_condition = "pk = :pk"
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": key_condition,
            "FilterExpression": " AND ".join(filters),
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        return [decode_item(a) for a in self._collect("Query", kwargs, limit, beyond=beyond)]

    def query_index(self, key: str, *, sk_prefix: str = "", limit: int = 100) -> list[Item]:
        """The ``by-assignee`` index (the task inbox): one Query, never a scan; eventually consistent."""
        if limit <= 0:
            return []
        condition = "gsi3pk = :k"
        values: Attrs = {":k": _s(key), ":now": _s(self._now())}
        if sk_prefix:
            condition += " AND begins_with(gsi3sk, :p)"
            values[":p"] = _s(sk_prefix)
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": ASSIGNEE_GSI_NAME,
            "KeyConditionExpression": condition,
            "FilterExpression": _LIVE,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": True,
        }
        return [decode_item(a) for a in self._collect("Query", kwargs, limit, page_limit=False)]

    def delete_item(self, pk: str, sk: str, *, if_version: int | None = None) -> bool:
        """Delete; ``True`` only if a live item (at ``if_version``, when given) was deleted."""
        check_key(pk, sk)
        kwargs: dict[str, Any] = {"TableName": self.table_name, "Key": {"pk": _s(pk), "sk": _s(sk)}}
        now = self._now()
        if if_version is not None:
            kwargs["ConditionExpression"] = _SAME_LIVE_VERSION
            kwargs["ExpressionAttributeValues"] = {":expected": _n(if_version), ":now": _s(now)}
        else:
            kwargs["ReturnValues"] = "ALL_OLD"
        self._count("DeleteItem")
        try:
            resp = self.client.delete_item(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        if if_version is not None:
            return True
        old: Mapping[str, Any] | None = resp.get("Attributes")
        if not old:
            return False
        return is_live(old, now)
