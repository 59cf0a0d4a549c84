"""Where the cost meter's "inside AWS" window falls in one botocore call (benchmarks/meter.py).

The Lambda's own time is its handler's time minus the seconds between botocore's ``before-call`` and
``after-call`` events. A fake clock that each stage of a moto PutItem advances by its own amount shows
which stages land inside that window: moto's whole handling of the request (its ``before-send`` stubber)
is inside, so none of moto's work is billed as the Lambda's; the client-side request building (parameter
events, endpoint resolution, validation and serialization) is outside, as the Lambda's own CPU; signing
and response parsing are inside, as part of the assumed call latency (``LATENCY_MS``: a latency seen by
the calling client, which includes them).
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.botocore_stubber import BotocoreStubber

from benchmarks import meter as meter_module
from benchmarks.meter import AwsMeter
from stepbridge.local.backends import LOCAL_AWS_ENV

# One distinct amount per stage, so the sum says exactly which stages were inside the window.
BUILD, SIGN, MOTO, PARSE = 1.0, 10.0, 100.0, 1000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    now = [0.0]
    monkeypatch.setattr(meter_module, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))
    for key, value in LOCAL_AWS_ENV.items():
        monkeypatch.setenv(key, value)
    original = BotocoreStubber.__call__

    def moto_call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        now[0] += MOTO
        return original(self, event_name, request, **kwargs)

    monkeypatch.setattr(BotocoreStubber, "__call__", moto_call)
    with mock_aws():
        yield now


def _advance(now: list[float], by: float) -> Any:
    def handler(**_: Any) -> None:
        now[0] += by

    return handler


def test_moto_signing_and_parsing_are_inside_the_window_request_building_is_not(clock: list[float]) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(
        TableName="t", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    )
    aws = AwsMeter()
    aws.attach(client)
    events = client.meta.events
    events.register("before-parameter-build.dynamodb.PutItem", _advance(clock, BUILD))
    events.register("before-sign.dynamodb.PutItem", _advance(clock, SIGN))
    events.register("before-parse.dynamodb.PutItem", _advance(clock, PARSE))
    clock[0] = 0.0

    client.put_item(TableName="t", Item={"pk": {"S": "a"}, "v": {"S": "x"}})

    assert clock[0] == BUILD + SIGN + MOTO + PARSE  # every stage ran once
    assert aws.calls["DynamoDB.PutItem"] == 1
    assert aws.seconds["DynamoDB.PutItem"] == SIGN + MOTO + PARSE
    assert aws.busy == SIGN + MOTO + PARSE  # what LambdaMeter subtracts from the handler's time
