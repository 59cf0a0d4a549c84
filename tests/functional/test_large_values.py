"""Large values on moto S3 (issue 14, item 4): a 5 MB step result round-trips through the payload bucket,
and a 60 MB one - past the documented 50 MiB maximum - fails the execution clearly, never stuck."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud
from stepbridge.runtime import payloads

MB = 1024 * 1024
app = App("bigvals", retention=timedelta(days=30))


@app.step(timeout=120, memory=1024)
def render(n: int) -> dict[str, Any]:
    return {"pdf": "x" * n}


@app.workflow("report")
async def report(ctx: Context, n: int) -> dict[str, Any]:
    doc = await ctx.step("render", render, n)
    await ctx.sleep(timedelta(minutes=5))
    return {"size": len(doc["pdf"]), "head": doc["pdf"][:3]}


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(app) as c:
        yield c


def test_a_5_mb_step_result_goes_through_the_encrypted_payload_bucket(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("report", 5 * MB)
    cloud.advance(timedelta(minutes=6))
    assert h.result() == {"size": 5 * MB, "head": "xxx"}
    s3 = boto3.client("s3", region_name=cloud.region)
    bucket = cloud.resources.config.payload_bucket
    objects = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Size"] for o in objects] == [len(payloads.encode({"pdf": "x" * (5 * MB)}))]
    assert objects[0]["Key"].startswith("payloads/")
    head = s3.head_object(Bucket=bucket, Key=objects[0]["Key"])
    assert head["ServerSideEncryption"] == "AES256"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    expire = next(r for r in rules if r["ID"] == "expire-payloads")
    assert expire["Expiration"]["Days"] == 30 + 365
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    record = next(r for r in cloud.store.load_journal(h.execution_id) if r.op == "render" and r.kind == "result")
    assert payloads.is_ref(record.data["result"])


def test_a_60_mb_step_result_fails_the_execution_naming_the_50_mib_maximum(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("report", 60_000_000)
    cloud.run_until_complete(h.execution_id)
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED"
    assert desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
    assert "the result of step 'render' is 60,000,010 bytes" in desc.error["message"]
    assert "maximum of 52,428,800 bytes (50 MiB)" in desc.error["message"]
    s3 = boto3.client("s3", region_name=cloud.region)
    assert s3.list_objects_v2(Bucket=cloud.resources.config.payload_bucket).get("KeyCount") == 0
