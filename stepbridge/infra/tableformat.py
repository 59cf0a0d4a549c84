"""The single table's format: its schema, and the item encoding both stores share.

``InMemoryStore`` keeps exactly the attribute maps ``DynamoStore`` writes, so both stores agree on
sizes, expiry and ordering and one contract suite tests both (tests/unit/test_store_contract.py).
Every function here is pure: no boto3 call, no clock.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Mapping
from typing import Any

from stepbridge.errors import PayloadTooLarge
from stepbridge.runtime import keys
from stepbridge.runtime.codec import dumps
from stepbridge.runtime.keys import LOG_SLOT_PREFIX, META, execution_key
from stepbridge.runtime.limits import DYNAMODB_ITEM_BYTES, DYNAMODB_PARTITION_KEY_BYTES, DYNAMODB_SORT_KEY_BYTES
from stepbridge.runtime.ports import Item
from stepbridge.runtime.records import ExecutionGlance, ExecutionRecord, JournalRecord, iso, parse_iso, status_cursor
from stepbridge.runtime.vocabulary import UNFINISHED

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
#: Present (``N`` 1) on an execution header while a cancel is requested: with ``status`` and ``workflow``, what
#: a step's advisory check reads, by projection, without the body (``Store.glance_execution``). Headers written
#: before it existed lack it: their steps run after a cancel and the orchestrator drops the results, as it
#: drops those of a step already running when the cancel came.
CANCEL_ATTRIBUTE = "cancel"
#: The attributes ``Store.glance_execution`` reads (DynamoDB bills a projected read by the whole item's size; what
#: it saves is the transfer and the decoding of the body, which holds the execution's input).
GLANCE_ATTRIBUTES = ("status", "workflow", CANCEL_ATTRIBUTE)

#: DynamoDB key size limits (DynamoDB quotas: partition key 2048 bytes, sort key 1024 bytes).
_PK_BYTES = DYNAMODB_PARTITION_KEY_BYTES
_SK_BYTES = DYNAMODB_SORT_KEY_BYTES


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


def attr_s(value: str) -> dict[str, str]:
    """A string attribute value, as the low-level API spells it."""
    return {"S": value}


def attr_n(value: int) -> dict[str, str]:
    """A number attribute value (numbers travel as strings)."""
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
        "pk": attr_s(pk),
        "sk": attr_s(sk),
        "body": attr_s(dumps(body)),
        "version": attr_n(version),
        "status": attr_s(record.status),
        "workflow": attr_s(record.workflow),
        "gsi1pk": attr_s(keys.workflow_pk(record.workflow)),
        "gsi1sk": attr_s(keys.created_cursor(record.created_at, record.execution_id)),
    }
    if record.cancel_requested:
        attrs[CANCEL_ATTRIBUTE] = attr_n(1)
    if record.status in INDEXED_STATUSES:
        attrs["gsi2pk"] = attr_s(keys.status_pk(record.status))
        attrs["gsi2sk"] = attr_s(status_cursor(record))
    return attrs


def journal_attrs(execution_id: str, record: JournalRecord) -> Attrs:
    """One journal record under its execution's partition (one Query loads the whole journal).

    The orchestrator's records sort in write order (``J#$L{seq}``), so the new part of the log is
    one range Query; reports of other writers and shared claims sit under ``J#{key}``, where the
    conditional put makes the key unique.
    """
    return {
        "pk": attr_s(keys.execution_pk(execution_id)),
        "sk": attr_s(keys.journal_sk(record.slot)),
        "body": attr_s(dumps(record.to_dict())),
        "version": attr_n(0),
    }


def item_attrs(item: Item, version: int) -> Attrs:
    """A generic item; ``expires_at`` is kept exact (ISO) for reads and in epoch seconds in ``ttl``."""
    attrs: Attrs = {
        "pk": attr_s(item.pk),
        "sk": attr_s(item.sk),
        "body": attr_s(dumps(item.body)),
        "version": attr_n(version),
    }
    expires = normalize_expiry(item.expires_at)
    if expires is not None:
        attrs["expires_at"] = attr_s(expires)
        # Rounded up: TTL must never delete an item before it has expired on our clock.
        attrs[TTL_ATTRIBUTE] = attr_n(math.ceil(parse_iso(expires).timestamp()))
    if item.index is not None:
        attrs["gsi3pk"], attrs["gsi3sk"] = attr_s(item.index[0]), attr_s(item.index[1])
    return attrs


def attrs_size(attrs: Mapping[str, Mapping[str, str]]) -> int:
    """DynamoDB's item size: attribute-name bytes plus value bytes (numbers ~1 byte per 2 digits + 1).

    Text is measured in UTF-8 bytes. ASCII text (names, keys and most JSON bodies) has one byte per
    character, which ``str.isascii`` answers without a scan (CPython keeps the flag on the string), so
    only non-ASCII text is encoded to be measured: the check before every write copies nothing.
    """
    total = 0
    for name, value in attrs.items():
        total += len(name) if name.isascii() else len(name.encode())
        text = value.get("S")
        if text is not None:
            total += len(text) if text.isascii() else len(text.encode())
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


def too_large(what: str, size: int | None) -> PayloadTooLarge:
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
        raise too_large(describe_key(attrs), size)


def is_live(attrs: Mapping[str, Mapping[str, str]], now_iso: str) -> bool:
    """Whether an item has not expired at ``now_iso`` (expiry strings are normalized, so they compare)."""
    expires = attrs.get("expires_at")
    return expires is None or expires["S"] > now_iso


def live_item(attrs: Mapping[str, Mapping[str, str]] | None, now_iso: str) -> Item | None:
    """The item stored as ``attrs``; ``None`` when absent or expired (what ``get_item`` answers, both stores)."""
    return decode_item(attrs) if attrs is not None and is_live(attrs, now_iso) else None


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


def decode_glance(attrs: Mapping[str, Mapping[str, str]]) -> ExecutionGlance:
    """An execution header's :data:`GLANCE_ATTRIBUTES` (the whole header's or a projection's)."""
    return ExecutionGlance(attrs["workflow"]["S"], attrs["status"]["S"], CANCEL_ATTRIBUTE in attrs)


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
