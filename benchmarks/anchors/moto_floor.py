"""Anchor: the raw moto cost floor, i.e. the DynamoDB calls alone that a step needs, made with boto3 directly.

An inline step needs exactly one conditional PutItem of its journal record. The floor makes
that call ``n`` times into a fresh table with stepbridge's own schema (``table_definition``),
with journal-shaped items of the same size (built with ``journal_attrs``, outside the timing)
into one partition, as the execution's journal grows in one partition, under the same
``attribute_not_exists(pk)`` condition. Same process, same moto, same boto3.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from stepbridge.infra.dynamodb import journal_attrs, table_definition
from stepbridge.local.backends import LOCAL_AWS_ENV
from stepbridge.runtime.records import JournalRecord

# moto's credentials and region, as LocalCloud sets them (its Powertools switches are not needed here)
_ENV = {k: v for k, v in LOCAL_AWS_ENV.items() if k.startswith("AWS_")}
TABLE = "floor-table"


@contextmanager
def _moto() -> Iterator[Any]:
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in _ENV}
    os.environ.update(_ENV)
    mock = mock_aws()
    mock.start()
    try:
        # Unsigned, as LocalCloud's own clients are without IAM enforcement (local/backends.py): the floor
        # and stepbridge's calls pay the same client overhead.
        client = boto3.client("dynamodb", region_name="us-east-1", config=Config(signature_version=UNSIGNED))
        client.create_table(**table_definition(TABLE))
        yield client
    finally:
        mock.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def journal_items(n: int, execution_id: str = "floor-exec") -> list[dict[str, dict[str, str]]]:
    """``n`` journal items shaped like the records of ``n`` inline steps ``s0``..``s{n-1}``."""
    at = "2027-01-04T08:30:00.000000+00:00"
    records = [
        JournalRecord(key=f"s{i}", op=f"s{i}", type="step", kind="result", data={"result": i + 1, "attempts": 1}, at=at)
        for i in range(n)
    ]
    return [journal_attrs(execution_id, record) for record in records]


def put_item_seconds(n: int) -> float:
    """Seconds for ``n`` conditional PutItems of journal items into one partition (fresh table; set-up untimed)."""
    items = journal_items(n)
    with _moto() as client:
        warm = journal_items(1, execution_id="floor-warm-up")[0]
        client.put_item(TableName=TABLE, Item=warm, ConditionExpression="attribute_not_exists(pk)")
        start = time.perf_counter()
        for item in items:
            client.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(pk)")
        return time.perf_counter() - start
