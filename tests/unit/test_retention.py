"""App(retention=) (issue 14, item 8): a finished execution leaves nothing that never expires.

Runs on both backends (the memory store keeps DynamoStore's attribute maps, ttl included; moto stores
DynamoDB's TTL attribute and the bucket's lifecycle rule without acting on them, so the test reads them)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from stepbridge import App, Context, WorkflowDefinitionError
from stepbridge.local import LocalCloud
from stepbridge.runtime.records import parse_iso
from stepbridge.runtime.retention import PAYLOAD_GRACE_DAYS

DAYS = 30
app = App("keeper", retention=timedelta(days=DAYS))


@app.step(timeout=30)
def fetch(n: int) -> dict[str, Any]:
    return {"rows": ["r" * 100] * n}


@app.workflow("child")
async def child(ctx: Context, x: int) -> int:
    return x * 2


@app.workflow("everything")
async def everything(ctx: Context, n: int) -> dict[str, Any]:
    await ctx.set_status({"stage": "start"})
    big = await ctx.step("fetch", fetch, n)  # over 64 KiB: a payload object
    cached = await ctx.step("square", lambda: n * n, cache_ttl=3600)
    await ctx.sleep(timedelta(minutes=5))
    ev = await ctx.wait_for("Go.ahead", match={"n": n}, timeout=timedelta(hours=1), default=None)
    late = await ctx.wait_for("Never.comes", timeout=timedelta(minutes=1), default="late")
    doubled = await ctx.child(child, n)
    polled = await ctx.poll("ready", lambda s: (s or 0) + 1, every=10, until=lambda s: s >= 2)
    await ctx.send("Everything.done", {"n": n})
    return {"rows": len(big["rows"]), "cached": cached, "ev": ev, "late": late, "child": doubled, "polled": polled}


def _items(cloud: LocalCloud) -> list[dict[str, Any]]:
    if cloud.backend == "memory":
        return [dict(a) for part in cloud.store._partitions.values() for a in part.values()]
    ddb = boto3.client("dynamodb", region_name=cloud.region)
    pages = ddb.get_paginator("scan").paginate(TableName=cloud.resources.config.table)
    return [item for page in pages for item in page["Items"]]


@pytest.fixture(params=["memory", "moto"])
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    with LocalCloud(app, backend=request.param) as c:
        yield c


def test_a_finished_execution_leaves_nothing_that_never_expires(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("everything", 1000, execution_id="e-1")
    cloud.advance(timedelta(minutes=6))
    client.send_event("Go.ahead", {"n": 1000})
    cloud.advance(timedelta(minutes=5))
    assert h.result()["polled"] == 2
    ended = parse_iso(client.describe("e-1").ended_at or "")
    items = _items(cloud)
    kinds = {i["pk"]["S"].split("#")[0] for i in items}
    assert {"EXEC", "CACHE", "EVT"} <= kinds  # headers and journals, the step cache, the event log
    never = [(i["pk"]["S"], i["sk"]["S"]) for i in items if "ttl" not in i]
    assert never == []
    # the execution itself and its journal expire exactly `retention` after its end
    own = [i for i in items if i["pk"]["S"] == "EXEC#e-1"]
    assert len(own) > 10
    assert {int(i["ttl"]["N"]) for i in own} == {int((ended + timedelta(days=DAYS)).timestamp())}
    if cloud.backend == "moto":
        s3 = boto3.client("s3", region_name=cloud.region)
        bucket = cloud.resources.config.payload_bucket
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        expire = next(r for r in rules if r["ID"] == "expire-payloads")
        assert expire["Expiration"]["Days"] == DAYS + PAYLOAD_GRACE_DAYS
        assert keys and all(k.startswith(expire["Filter"]["Prefix"]) for k in keys)
    else:
        assert cloud.blobs.objects  # the memory bucket has no lifecycle; the compiled one is checked in test_compiler


def test_without_retention_execution_items_have_no_ttl() -> None:
    plain = App("plain")

    @plain.workflow("w")
    async def w(ctx: Context, _: Any) -> int:
        return await ctx.step("one", lambda: 1)

    with LocalCloud(plain, backend="memory") as c:
        assert c.client().start("w", None, execution_id="p-1").result() == 1
        own = [a for a in c.store._partitions["EXEC#p-1"].values()]
    assert own and all("ttl" not in a for a in own)


def test_retention_under_a_day_is_refused_naming_it() -> None:
    with pytest.raises(WorkflowDefinitionError, match=r"retention must be at least 1 day"):
        App("short", retention=timedelta(hours=2))


def test_the_compiled_template_expires_items_and_payloads() -> None:
    from stepbridge import config
    from stepbridge.compiler.template import compile_app

    res = compile_app(app).template["Resources"]
    assert res["Table"]["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "ttl", "Enabled": True}
    bucket = res["PayloadBucket"]["Properties"]
    rules = {r["Id"]: r for r in bucket["LifecycleConfiguration"]["Rules"]}
    assert rules["expire-payloads"]["ExpirationInDays"] == DAYS + PAYLOAD_GRACE_DAYS
    assert rules["expire-payloads"]["Prefix"] == "payloads/"
    enc = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert enc == {"SSEAlgorithm": "AES256"}
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    env = compile_app(app).template["Globals"]["Function"]["Environment"]["Variables"]
    assert env[config.ENV_RETENTION] == str(DAYS * 86_400)
