"""Large values as claim checks (issue 14, item 4) on the memory backend: what is stored where, and what
user code and callers get back."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, PayloadTooLarge
from stepbridge.local import LocalCloud
from stepbridge.runtime import payloads

KB = 1024
MB = 1024 * 1024
RUNS: dict[str, int] = {}

app = App("claims")


def blob(n: int, fill: str = "x") -> dict[str, Any]:
    return {"data": fill * n}


@app.step(timeout=60)
def build_export(n: int) -> dict[str, Any]:
    RUNS["build_export"] = RUNS.get("build_export", 0) + 1
    return blob(n)


@app.step(timeout=60)
def measure(doc: dict[str, Any]) -> int:
    return len(doc["data"])


@app.workflow("inline-big")
async def inline_big(ctx: Context, n: int) -> int:
    doc = await ctx.step("build", lambda: blob(n))
    await ctx.sleep(timedelta(minutes=1))  # a replay after the sleep reads the result back from the bucket
    return len(doc["data"])


@app.workflow("declared-big")
async def declared_big(ctx: Context, n: int) -> int:
    doc = await ctx.step("export", build_export, n)
    return await ctx.step("measure", measure, doc)  # a large argument to a declared step


@app.workflow("echo")
async def echo(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    return {"size": len(data["data"]), "data": data["data"]}


@app.workflow("big-result")
async def big_result(ctx: Context, n: int) -> dict[str, Any]:
    return blob(n)


@app.workflow("parent")
async def parent(ctx: Context, n: int) -> int:
    res = await ctx.child(echo, blob(n, "p"))
    return int(res["size"])


@app.workflow("send-big")
async def send_big(ctx: Context, n: int) -> None:
    await ctx.send("Report.ready", {"id": "r1", "body": "b" * n})


@app.workflow("await-report")
async def await_report(ctx: Context, report_id: str) -> int:
    ev = await ctx.wait_for("Report.ready", match={"id": report_id}, timeout=timedelta(hours=1))
    return len(ev["body"])


@app.workflow("on-report")
async def on_report(ctx: Context, detail: dict[str, Any]) -> int:
    return len(detail["body"])


app.on("Report.ready", on_report)


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    RUNS.clear()
    with LocalCloud(app, backend="memory") as c:
        yield c


def _refs(value: Any) -> list[dict[str, Any]]:
    """Claim-check references anywhere in stored JSON."""
    if payloads.is_ref(value):
        return [value[payloads.REF]]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in _refs(v)]
    return []


def test_an_inline_step_result_of_400_kb_is_stored_in_the_bucket_and_read_back_on_replay(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("inline-big", 400 * KB)
    cloud.advance(timedelta(minutes=2))
    assert h.result() == 400 * KB
    journal = cloud.store.load_journal(h.execution_id)
    result = next(r for r in journal if r.op == "build" and r.kind == "result")
    ref = result.data["result"][payloads.REF]
    assert ref["bytes"] == len(payloads.encode(blob(400 * KB)))
    assert ref["uri"].startswith(f"s3://{cloud.blobs.bucket}/payloads/")
    key = ref["uri"].split("/", 3)[3]
    assert json.loads(cloud.blobs.objects[key]) == blob(400 * KB)
    assert len(json.dumps(result.to_dict())) < 1024  # the journal item holds the reference, not the value


def test_a_value_at_the_inline_limit_stays_inline(cloud: LocalCloud) -> None:
    client = cloud.client()
    n = payloads.INLINE_VALUE_BYTES - len('{"data":""}')
    h = client.start("inline-big", n)
    cloud.advance(timedelta(minutes=2))
    assert h.result() == n
    assert not cloud.blobs.objects
    assert not _refs([r.data for r in cloud.store.load_journal(h.execution_id)])


def test_a_declared_steps_large_result_and_argument_travel_as_references(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("declared-big", 2 * MB)
    assert h.result() == 2 * MB
    assert RUNS["build_export"] == 1
    refs = _refs([r.data for r in cloud.store.load_journal(h.execution_id)])
    assert [r["bytes"] for r in refs] == [len(payloads.encode(blob(2 * MB)))]
    assert len(cloud.blobs.objects) == 1  # the argument is the same value: same content hash, one object


def test_a_large_input_and_result_are_references_on_the_header_and_values_for_the_caller(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("echo", blob(1 * MB, "i"))
    assert h.result() == {"size": MB, "data": "i" * MB}
    header = cloud.store.get_execution(h.execution_id)
    assert payloads.is_ref(header.input) and payloads.is_ref(header.result)
    desc = client.describe(h.execution_id)
    assert desc.input == blob(MB, "i")
    assert desc.result["size"] == MB


def test_a_workflow_result_of_3_mb_succeeds(cloud: LocalCloud) -> None:
    h = cloud.client().start("big-result", 3 * MB)
    assert h.result() == blob(3 * MB)


def test_a_child_with_a_large_input_gets_the_value(cloud: LocalCloud) -> None:
    h = cloud.client().start("parent", 500 * KB)
    assert h.result() == 500 * KB


def test_a_step_result_over_the_maximum_fails_the_execution_naming_it_without_retries(
    cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(payloads, "MAX_VALUE_BYTES", 1 * MB)  # the real 50 MiB one: tests/functional
    h = cloud.client().start("declared-big", 2 * MB)
    cloud.run_until_complete(h.execution_id)
    desc = cloud.client().describe(h.execution_id)
    assert desc.status == "FAILED"
    assert desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
    assert "the result of step 'export'" in desc.error["message"]
    assert "maximum of 1,048,576 bytes" in desc.error["message"]
    assert RUNS["build_export"] == 1  # never retried: a retry cannot make it smaller
    assert not cloud.blobs.objects


def test_an_input_over_the_maximum_is_refused_at_start(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(payloads, "MAX_VALUE_BYTES", 1 * MB)
    with pytest.raises(PayloadTooLarge, match=r"the input of workflow 'echo' is 2,097,163 bytes"):
        cloud.client().start("echo", blob(2 * MB), execution_id="too-big")
    assert cloud.store.get_execution("too-big") is None


def test_an_expired_payload_fails_the_execution_clearly_instead_of_sticking(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("inline-big", 300 * KB)
    assert client.describe(h.execution_id).status == "RUNNING"  # sleeping after the step
    cloud.blobs.objects.clear()  # as the lifecycle rule would, past retention
    payloads.install(cloud.blobs)  # and a fresh container, without this process's copy
    cloud.redeploy()  # (nor a parked workflow holding the value: sticky executions)
    cloud.advance(timedelta(minutes=2))
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED"
    assert desc.error["type"] == "stepbridge.errors.PayloadMissing"
    assert "is gone" in desc.error["message"]


def test_an_event_over_256_kb_is_a_reference_that_waiters_and_triggers_resolve(cloud: LocalCloud) -> None:
    client = cloud.client()
    waiting = client.start("await-report", "r1")
    sender = client.start("send-big", 300 * KB)
    assert sender.result() is None
    assert waiting.result() == 300 * KB
    triggered = [e for e in client.list(workflow="on-report")]
    assert [client.result(e.execution_id) for e in triggered] == [300 * KB]
    published = [e for e in cloud.events if e.detail_type == "Report.ready"]
    assert len(published) == 1 and payloads.is_ref(published[0].detail)


def test_client_send_event_of_a_large_detail_reaches_a_waiter_that_looks_back(cloud: LocalCloud) -> None:
    client = cloud.client()
    waiting = client.start("await-report", "r2", execution_id="w2")
    client.send_event("Report.ready", {"id": "r2", "body": "c" * (400 * KB)})
    assert waiting.result() == 400 * KB
    assert client.history("w2")  # the journal's wait record holds the reference, readable
    rec = next(r for r in cloud.store.load_journal("w2") if r.op.startswith("Report.ready") or (r.type == "wait"
               and r.kind == "result"))
    assert payloads.is_ref(rec.data["event"]["detail"])


def test_without_a_bucket_values_stay_inline(without_payload_bucket: None, cloud: LocalCloud) -> None:
    h = cloud.client().start("echo", blob(100 * KB))
    assert h.result()["size"] == 100 * KB
    assert not payloads.is_ref(cloud.store.get_execution(h.execution_id).input)


@pytest.mark.parametrize("code", ["NoSuchKey", "AccessDenied"])
def test_s3_blobs_reads_a_missing_object_as_gone(code: str) -> None:
    """Without s3:ListBucket (the roles do not have it) S3 answers a missing key with AccessDenied."""
    from botocore.exceptions import ClientError

    from stepbridge.infra.blobs import S3Blobs

    class Client:
        def get_object(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": code, "Message": "x"}}, "GetObject")

    assert S3Blobs("b", client=Client()).get_blob("payloads/x.json") is None


def test_s3_blobs_raises_other_errors() -> None:
    from botocore.exceptions import ClientError

    from stepbridge.infra.blobs import S3Blobs

    class Client:
        def get_object(self, **_: Any) -> Any:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "x"}}, "GetObject")

    with pytest.raises(ClientError):
        S3Blobs("b", client=Client()).get_blob("payloads/x.json")
