"""``LocalCloud(app, enforce_iam=True)``: user code in a function may do exactly what its ``policies=`` grant
(moto evaluates the policies), so a missing grant fails the local test as it would fail in AWS."""

from __future__ import annotations

import boto3
import pytest

from stepbridge import App, Context
from stepbridge.local import LocalCloud


def _app() -> App:
    app = App("iam")

    @app.step(policies=[{"S3WritePolicy": {"BucketName": "granted-bucket"}}])
    def write_granted(key: str) -> str:
        boto3.client("s3").put_object(Bucket="granted-bucket", Key=key, Body=b"ok")
        return key

    @app.step(policies=[{"S3WritePolicy": {"BucketName": "granted-bucket"}}])
    def write_elsewhere(key: str) -> str:
        boto3.client("s3").put_object(Bucket="other-bucket", Key=key, Body=b"no")  # not granted
        return key

    @app.step
    def write_without_grants(key: str) -> str:
        boto3.client("s3").put_object(Bucket="granted-bucket", Key=key, Body=b"no")
        return key

    @app.workflow("write")
    async def write(ctx: Context, step: str) -> str:
        fn = {"granted": write_granted, "elsewhere": write_elsewhere, "none": write_without_grants}[step]
        return await ctx.step("write", fn, f"{step}.txt")

    @app.workflow("inline-write")
    async def inline_write(ctx: Context) -> str:
        # inline steps run as the orchestrator, which declared no S3 grant
        return await ctx.step("put", lambda: boto3.client("s3").put_object(Bucket="granted-bucket", Key="i", Body=b"")
                              and "written")

    return app


@pytest.fixture
def cloud():
    with LocalCloud(_app(), enforce_iam=True) as c:
        s3 = boto3.client("s3")  # the test itself signs as the administrator
        s3.create_bucket(Bucket="granted-bucket")
        s3.create_bucket(Bucket="other-bucket")
        yield c


def test_a_granted_write_succeeds(cloud: LocalCloud) -> None:
    assert cloud.client().start("write", "granted", execution_id="w1").result() == "granted.txt"
    body = boto3.client("s3").get_object(Bucket="granted-bucket", Key="granted.txt")["Body"].read()
    assert body == b"ok"


@pytest.mark.parametrize("step", ["elsewhere", "none"])
def test_a_missing_grant_fails_like_aws(cloud: LocalCloud, step: str) -> None:
    client = cloud.client()
    with pytest.raises(Exception, match="AccessDenied"):
        client.start("write", step, execution_id=f"w-{step}").result()  # after its 3 attempts
    desc = client.describe(f"w-{step}")
    assert desc.status == "FAILED"
    assert "AccessDenied" in str(desc.error), desc.error
    keys = boto3.client("s3").list_objects_v2(Bucket="granted-bucket").get("KeyCount", 0)
    assert keys == 0


def test_inline_steps_run_with_the_orchestrators_grants(cloud: LocalCloud) -> None:
    client = cloud.client()
    with pytest.raises(Exception, match="AccessDenied"):
        client.start("inline-write", execution_id="i1").result()
    desc = client.describe("i1")
    assert desc.status == "FAILED" and "AccessDenied" in str(desc.error)


def test_enforcement_needs_moto() -> None:
    with pytest.raises(ValueError, match="enforce_iam=True needs backend='moto'"):
        LocalCloud(_app(), backend="memory", enforce_iam=True)
