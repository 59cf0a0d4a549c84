"""The cost meter bills a projected GetItem by the whole item, as DynamoDB does (benchmarks/meter.py).

``Store.glance_execution`` reads three attributes of an execution header by projection; DynamoDB's read
units still count the whole item (rounded up to 4 KB), so a meter that sized the response would under-bill it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from benchmarks.meter import AwsMeter
from stepbridge.infra.dynamodb import DynamoStore, attrs_size, execution_attrs, table_definition
from stepbridge.local.backends import LOCAL_AWS_ENV
from stepbridge.runtime.records import RUNNING, ExecutionGlance, ExecutionRecord


@pytest.fixture
def store(monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoStore]:
    for key, value in LOCAL_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**table_definition("t"))
        yield DynamoStore("t", client=client)


def test_a_projected_header_read_is_billed_by_the_whole_header(store: DynamoStore) -> None:
    meter = AwsMeter()
    meter.attach(store.client)
    # A header of about 15 KB (a map child batch's input): 4 blocks of 4 KB, half a unit each (eventually consistent).
    record = ExecutionRecord("e1", "wf", RUNNING, input=list(range(3000, 6000)))
    blocks = math.ceil(attrs_size(execution_attrs(record, 0)) / 4096)
    assert blocks == 4
    store.create_execution(record)
    assert store.glance_execution("e1") == ExecutionGlance("wf", RUNNING, False)
    assert meter.calls["DynamoDB.GetItem"] == 1
    assert meter.rru["GetItem"] == 2.0  # not 0.5: the projection's three attributes are a few bytes
    store.get_execution("e1", consistent=False)  # the same header, read whole: the same units
    assert meter.rru["GetItem"] == 4.0
