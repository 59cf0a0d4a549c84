"""The ``Store`` port on one DynamoDB table (the single-table layout of docs/ARCHITECTURE.md).

The table's schema and item encoding live in ``infra/tableformat.py`` (shared with
``InMemoryStore``) and are re-exported here, where callers have always imported them. Expired
items count as absent on every read and conditional write, because TTL only deletes them
eventually (days later in AWS, never in moto).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from stepbridge.infra import expiry
from stepbridge.infra.clients import LazyClient
from stepbridge.infra.tableformat import ASSIGNEE_GSI_NAME as ASSIGNEE_GSI_NAME
from stepbridge.infra.tableformat import CANCEL_ATTRIBUTE as CANCEL_ATTRIBUTE
from stepbridge.infra.tableformat import GLANCE_ATTRIBUTES as GLANCE_ATTRIBUTES
from stepbridge.infra.tableformat import GSI_NAME as GSI_NAME
from stepbridge.infra.tableformat import INDEXED_STATUSES as INDEXED_STATUSES
from stepbridge.infra.tableformat import STATUS_GSI_NAME as STATUS_GSI_NAME
from stepbridge.infra.tableformat import TTL_ATTRIBUTE as TTL_ATTRIBUTE
from stepbridge.infra.tableformat import Attrs as Attrs
from stepbridge.infra.tableformat import attr_n, attr_s
from stepbridge.infra.tableformat import attrs_size as attrs_size
from stepbridge.infra.tableformat import check_item as check_item
from stepbridge.infra.tableformat import check_key as check_key
from stepbridge.infra.tableformat import decode_execution as decode_execution
from stepbridge.infra.tableformat import decode_glance as decode_glance
from stepbridge.infra.tableformat import decode_item as decode_item
from stepbridge.infra.tableformat import decode_journal as decode_journal
from stepbridge.infra.tableformat import describe_key as describe_key
from stepbridge.infra.tableformat import execution_attrs as execution_attrs
from stepbridge.infra.tableformat import is_live as is_live
from stepbridge.infra.tableformat import item_attrs as item_attrs
from stepbridge.infra.tableformat import journal_attrs as journal_attrs
from stepbridge.infra.tableformat import live_item as live_item
from stepbridge.infra.tableformat import normalize_expiry as normalize_expiry
from stepbridge.infra.tableformat import put_version as put_version
from stepbridge.infra.tableformat import sk_range as sk_range
from stepbridge.infra.tableformat import table_definition as table_definition
from stepbridge.infra.tableformat import too_large as too_large
from stepbridge.runtime import keys
from stepbridge.runtime.keys import EXEC_PREFIX as EXEC_PREFIX
from stepbridge.runtime.keys import JOURNAL_PREFIX as JOURNAL_PREFIX
from stepbridge.runtime.keys import LOG_SLOT_PREFIX as LOG_SLOT_PREFIX
from stepbridge.runtime.keys import META as META
from stepbridge.runtime.keys import STATUS_PREFIX as STATUS_PREFIX
from stepbridge.runtime.keys import WORKFLOW_PREFIX as WORKFLOW_PREFIX
from stepbridge.runtime.keys import execution_key as execution_key
from stepbridge.runtime.ports import Item
from stepbridge.runtime.records import ExecutionGlance, ExecutionRecord, JournalRecord, iso

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: ``glance_execution``'s projection, by placeholder names ("status" is a DynamoDB reserved word).
_GLANCE_PROJECTION: dict[str, Any] = {
    "ProjectionExpression": ", ".join(f"#{name}" for name in GLANCE_ATTRIBUTES),
    "ExpressionAttributeNames": {f"#{name}": name for name in GLANCE_ATTRIBUTES},
}


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
        self._client = LazyClient["DynamoDBClient"]("dynamodb", client)
        self._clock = clock or _utcnow
        self._lock = threading.Lock()
        #: API calls by operation name (PutItem, GetItem, Query, Scan, DeleteItem), for benchmarks.
        self.calls: dict[str, int] = {}

    @property
    def client(self) -> DynamoDBClient:
        """The low-level client, created on first use (cold starts that never touch the table skip it)."""
        return self._client.get()

    @property
    def client_created(self) -> bool:
        """Whether the client exists yet (injected, or made by a first call)."""
        return self._client.created

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
                raise too_large(describe_key(attrs), None) from exc
            raise
        return True

    def _get(
        self, pk: str, sk: str, *, consistent: bool = True, projection: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """One GetItem; ``projection``: its ``ProjectionExpression`` and ``ExpressionAttributeNames``."""
        self._count("GetItem")
        resp = self.client.get_item(
            TableName=self.table_name,
            Key={"pk": {"S": pk}, "sk": {"S": sk}},
            ConsistentRead=consistent,
            **(projection or {}),
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
        beyond: Callable[[Mapping[str, object]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Run a Query/Scan page by page until ``limit`` items came back, the end, or ``beyond(last key)``."""
        out: list[dict[str, Any]] = []
        request = dict(kwargs)
        while len(out) < limit:
            if page_limit:
                request["Limit"] = limit - len(out)
            self._count(op)
            resp: Mapping[str, object]
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

    def glance_execution(self, execution_id: str, *, consistent: bool = False) -> ExecutionGlance | None:
        """The header's :data:`GLANCE_ATTRIBUTES` by projection (the body, which holds the input, stays behind)."""
        attrs = self._get(*execution_key(execution_id), consistent=consistent, projection=_GLANCE_PROJECTION)
        return decode_glance(attrs) if attrs is not None else None

    def load_execution(self, execution_id: str) -> tuple[ExecutionRecord | None, list[JournalRecord]]:
        """Header and journal in one consistent Query over the partition's sort keys from ``J#`` to ``META``
        (only the journal and the header sort there: ``keys.EXECUTION_SK_RANGE``): one request and one rounding
        up to 4 KB of read units, where GetItem + Query pay two (more pages only past 1 MB)."""
        low, high = keys.EXECUTION_SK_RANGE
        kwargs: dict[str, object] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": attr_s(keys.execution_pk(execution_id)),
                ":lo": attr_s(low),
                ":hi": attr_s(high),
            },
            "ConsistentRead": True,
        }
        header: ExecutionRecord | None = None
        journal: list[JournalRecord] = []
        for attrs in self._collect("Query", kwargs, sys.maxsize, page_limit=False):
            sk = attrs["sk"]["S"]
            if sk == META:
                header = decode_execution(attrs)
            elif sk.startswith(JOURNAL_PREFIX):
                journal.append(decode_journal(attrs))
        return header, journal

    def save_execution(self, record: ExecutionRecord) -> bool:
        """Write at ``record.version + 1`` if the stored version is still ``record.version``.

        ``record`` itself is left unchanged: callers bump their copy on success.
        """
        attrs = execution_attrs(record, record.version + 1)
        saved = self._put(attrs, _SAME_VERSION, {":expected": attr_n(record.version)})
        if saved and self.retention is not None and expiry.ends_with_journal(attrs):
            self._expire_journal(record.execution_id)
        return saved

    def _expire_journal(self, execution_id: str) -> None:
        """The execution ended: its journal expires with its header (one Query, then one PutItem per record,
        each billed like the record's first write; an item deleted meanwhile is not brought back)."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :j)",
            "ExpressionAttributeValues": {":pk": attr_s(f"{EXEC_PREFIX}{execution_id}"), ":j": attr_s(JOURNAL_PREFIX)},
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
            kwargs_status: dict[str, object] = {
                "TableName": self.table_name,
                "IndexName": STATUS_GSI_NAME,
                "KeyConditionExpression": "gsi2pk = :st",
                "ExpressionAttributeValues": {":st": attr_s(keys.status_pk(status))},
                "ScanIndexForward": False,
            }
            return [decode_execution(a) for a in self._collect("Query", kwargs_status, limit)]
        values: Attrs = {}
        names: dict[str, str] = {}
        filters: list[str] = []
        if status is not None:
            filters.append("#status = :status")
            values[":status"] = attr_s(status)
            names["#status"] = "status"  # STATUS is a DynamoDB reserved word
        if workflow is not None:
            values[":wf"] = attr_s(keys.workflow_pk(workflow))
            kwargs: dict[str, object] = {
                "TableName": self.table_name,
                "IndexName": GSI_NAME,  # GSIs do not support ConsistentRead
                "KeyConditionExpression": "gsi1pk = :wf",
                "ScanIndexForward": False,
            }
            op = "Query"
        else:
            # other items may use the META sort key too (a human task: TASK#{id}); only execution headers count
            filters.insert(0, "sk = :meta AND begins_with(pk, :exec)")
            values[":meta"] = attr_s(META)
            values[":exec"] = attr_s(EXEC_PREFIX)
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
        values: Attrs = {":st": attr_s(keys.status_pk(status))}
        if after is not None:
            condition += " AND gsi2sk > :after"
            values[":after"] = attr_s(after)
        kwargs: dict[str, object] = {
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
        kwargs: dict[str, object] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :j)",
            "ExpressionAttributeValues": {
                ":pk": attr_s(keys.execution_pk(execution_id)),
                ":j": attr_s(JOURNAL_PREFIX),
            },
            "ConsistentRead": True,
        }
        return [decode_journal(a) for a in self._collect("Query", kwargs, sys.maxsize, page_limit=False)]

    def load_journal_since(self, execution_id: str, after_seq: int, *, dense: bool = False) -> list[JournalRecord]:
        """The orchestrator's log records with ``seq > after_seq``, in order: one consistent range Query.

        ``dense`` (a running execution's log, see ``Store.load_journal_since``): a consistent GetItem of slot
        ``after_seq + 1`` first, and the Query only when that slot exists. It answers the usual case, a warm
        wake-up's "did anyone else write the log?" (issue 17), for the read unit an empty Query costs too
        (1 RRU strongly consistent either way: "Read request units",
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html), and on
        moto in O(1) where its Query walks every item of the table (``moto/dynamodb/models/table.py``
        ``Table.query``; DynamoDB reads only the range)."""
        if dense and self._get(keys.execution_pk(execution_id), keys.log_sk_from(after_seq + 1)) is None:
            return []
        kwargs: dict[str, object] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":pk": attr_s(keys.execution_pk(execution_id)),
                ":lo": attr_s(keys.log_sk_from(after_seq + 1)),
                ":hi": attr_s(keys.LOG_SK_END),
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
            return self._put(attrs, _NEW_OR_EXPIRED, {":now": attr_s(self._now())})
        if if_version is not None:
            values = {":expected": attr_n(if_version), ":now": attr_s(self._now())}
            return self._put(attrs, _SAME_LIVE_VERSION, values)
        return self._put(attrs)

    def get_item(self, pk: str, sk: str) -> Item | None:
        """One live item, read consistently."""
        check_key(pk, sk)
        return live_item(self._get(pk, sk), self._now())

    def query_items(self, pk: str, *, sk_prefix: str = "", sk_from: str | None = None, limit: int = 1000) -> list[Item]:
        """Live items under ``pk`` in ascending sort-key order."""
        bounds = sk_range(sk_prefix, sk_from)
        if bounds is None or limit <= 0:
            return []
        prefix, lower = bounds
        values: Attrs = {":pk": attr_s(pk), ":now": attr_s(self._now())}
        filters = [_LIVE]
        beyond: Callable[[Mapping[str, object]], bool] | None = None
        if prefix and lower is not None:
            # One sort-key condition per Query: range on the bound, filter on the prefix, and stop
            # paging once the keys have left the prefix (keys come back sorted).
            key_condition = "pk = :pk AND sk >= :from"
            values[":from"] = attr_s(lower)
            values[":prefix"] = attr_s(prefix)
            filters.append("begins_with(sk, :prefix)")

            def left_prefix(last: Mapping[str, Any]) -> bool:
                return not str(last["sk"]["S"]).startswith(prefix)

            beyond = left_prefix
        elif prefix:
            key_condition = "pk = :pk AND begins_with(sk, :prefix)"
            values[":prefix"] = attr_s(prefix)
        elif lower is not None:
            key_condition = "pk = :pk AND sk >= :from"
            values[":from"] = attr_s(lower)
        else:
            key_condition = "pk = :pk"
        kwargs: dict[str, object] = {
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
        values: Attrs = {":k": attr_s(key), ":now": attr_s(self._now())}
        if sk_prefix:
            condition += " AND begins_with(gsi3sk, :p)"
            values[":p"] = attr_s(sk_prefix)
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
        kwargs: dict[str, Any] = {"TableName": self.table_name, "Key": {"pk": attr_s(pk), "sk": attr_s(sk)}}
        now = self._now()
        if if_version is not None:
            kwargs["ConditionExpression"] = _SAME_LIVE_VERSION
            kwargs["ExpressionAttributeValues"] = {":expected": attr_n(if_version), ":now": attr_s(now)}
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
