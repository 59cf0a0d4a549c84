"""Callbacks (issue 14, item 1) on the memory backend: success, failure, timeout, heartbeats, single use,
unknown tokens, replay after the token is journaled, large results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import (
    App,
    CallbackAlreadyCompleted,
    CallbackFailed,
    CallbackNotFound,
    Context,
    Retry,
)
from stepbridge.local import LocalCloud
from stepbridge.runtime import keys

app = App("callbacks")
SUBMITTED: list[str] = []
FLAKY: dict[str, int] = {}


def ask_bank(token: str) -> dict[str, Any]:
    SUBMITTED.append(token)
    if FLAKY.get("fail", 0) > 0:
        FLAKY["fail"] -= 1
        raise ConnectionError("bank unreachable")
    return {"sent": True}


@app.workflow("confirm")
async def confirm(ctx: Context, _: Any) -> Any:
    try:
        return {"ok": await ctx.wait_for_callback("bank", ask_bank, timeout=timedelta(hours=1))}
    except CallbackFailed as exc:
        return {"failed": exc.error, "message": exc.message}


@app.workflow("alive")
async def alive(ctx: Context, _: Any) -> Any:
    cb = await ctx.callback("kyc", timeout=timedelta(hours=1), heartbeat=timedelta(seconds=60))
    await ctx.step("ask-kyc", ask_bank, cb.token)
    return await cb.result()


@app.workflow("two")
async def two(ctx: Context, _: Any) -> Any:
    first = await ctx.wait_for_callback("one", ask_bank)
    second = await ctx.wait_for_callback("other", ask_bank)
    return [first, second]


@pytest.fixture
def cloud() -> Iterator[LocalCloud]:
    SUBMITTED.clear()
    FLAKY.clear()
    with LocalCloud(app, backend="memory") as c:
        yield c


def _item(cloud: LocalCloud, token: str) -> dict[str, Any]:
    item = cloud.store.get_item(*keys.callback_key(token))
    assert item is not None
    return dict(item.body)


def test_complete_callback_returns_the_result_to_the_workflow(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("confirm", None)
    assert client.describe(h.execution_id).status == "RUNNING" and len(SUBMITTED) == 1
    token = SUBMITTED[0]
    assert len(token) >= 22 and keys.callback_key(token)[0] == f"CALLBACK#{token}"  # >= 128 bits
    assert client.complete_callback(token, {"iban": "DE00", "amount": 12}) == {
        "execution_id": h.execution_id, "callback": "bank", "status": "SUCCEEDED"}
    assert h.result() == {"ok": {"iban": "DE00", "amount": 12}}
    ops = {r.op for r in cloud.store.load_journal(h.execution_id) if r.type == "step" and r.kind == "result"}
    assert ops == {"bank", "bank-submit", "bank-check-1"}


def test_fail_callback_raises_callback_failed_with_the_callers_error_and_message(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("confirm", None)
    client.fail_callback(SUBMITTED[0], error="Declined", message="insufficient funds")
    assert h.result() == {"failed": "Declined", "message": "insufficient funds"}
    assert _item(cloud, SUBMITTED[0])["status"] == "FAILED"


def test_timeout_raises_callback_timeout_and_a_late_completion_gets_409(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("confirm", None)
    cloud.advance(timedelta(minutes=59))
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud.advance(timedelta(minutes=2))
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.CallbackTimeout"
    assert "not completed within its timeout of 3600 s" in desc.error["message"]
    assert _item(cloud, SUBMITTED[0])["status"] == "TIMED_OUT"
    with pytest.raises(CallbackAlreadyCompleted, match="TIMED_OUT"):
        client.complete_callback(SUBMITTED[0], 1)


def test_heartbeats_keep_a_callback_alive_then_a_missed_one_times_it_out(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("alive", None)
    token = SUBMITTED[0]
    for _ in range(4):  # 200 s in all, well past one 60 s heartbeat interval
        cloud.advance(timedelta(seconds=50))
        client.heartbeat_callback(token)
    cloud.advance(timedelta(seconds=50))
    assert client.describe(h.execution_id).status == "RUNNING"
    cloud.advance(timedelta(seconds=20))  # 70 s since the last heartbeat
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.CallbackTimeout"
    assert "no heartbeat within 60 s" in desc.error["message"]
    with pytest.raises(CallbackAlreadyCompleted):
        client.heartbeat_callback(token)


def test_heartbeat_then_completion_returns_the_result(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("alive", None)
    cloud.advance(timedelta(seconds=59))
    client.heartbeat_callback(SUBMITTED[0])
    cloud.advance(timedelta(seconds=59))
    client.complete_callback(SUBMITTED[0], "verified")
    assert h.result() == "verified"


def test_a_second_completion_gets_409_and_changes_nothing(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("confirm", None)
    token = SUBMITTED[0]
    client.complete_callback(token, "first")
    before = cloud.store.get_item(*keys.callback_key(token))
    with pytest.raises(CallbackAlreadyCompleted, match="already SUCCEEDED; a token is single-use"):
        client.complete_callback(token, "second")
    with pytest.raises(CallbackAlreadyCompleted):
        client.fail_callback(token, error="Late")
    assert cloud.store.get_item(*keys.callback_key(token)) == before
    assert h.result() == {"ok": "first"}


def test_unknown_and_malformed_tokens_are_not_found(cloud: LocalCloud) -> None:
    client = cloud.client()
    with pytest.raises(CallbackNotFound, match="never issued, or expired"):
        client.complete_callback("A" * 43, 1)
    with pytest.raises(CallbackNotFound, match="malformed"):
        client.heartbeat_callback("../etc")


def test_completion_before_the_wait_is_not_lost_and_tokens_are_distinct(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("two", None)
    client.complete_callback(SUBMITTED[0], 1)
    client.complete_callback(SUBMITTED[1], 2)
    assert h.result() == [1, 2]
    assert len(set(SUBMITTED)) == 2


def test_a_crashed_submit_is_retried_with_the_same_journaled_token(cloud: LocalCloud) -> None:
    FLAKY["fail"] = 1
    client = cloud.client()
    h = client.start("confirm", None)
    cloud.advance(timedelta(seconds=30))  # the retry's backoff
    assert len(SUBMITTED) == 2 and SUBMITTED[0] == SUBMITTED[1]  # the token step is not run again
    issued = [r for r in cloud.store.load_journal(h.execution_id) if r.op == "bank" and r.kind == "result"]
    assert len(issued) == 1
    client.complete_callback(SUBMITTED[0], "ok")
    assert h.result() == {"ok": "ok"}


def test_a_large_result_is_a_claim_check_in_the_item(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("confirm", None)
    big = {"statement": "x" * 200_000}
    client.complete_callback(SUBMITTED[0], big)
    assert "$stepbridge.payload" in _item(cloud, SUBMITTED[0])["result"]
    assert h.result() == {"ok": big}


def test_bad_arguments_fail_clearly(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("confirm", None)
    with pytest.raises(ValueError, match="error has 300 characters; at most 256"):
        client.fail_callback(SUBMITTED[0], error="E" * 300)
    assert _item(cloud, SUBMITTED[0])["status"] == "PENDING"
    assert client.describe(h.execution_id).status == "RUNNING"


def test_a_completion_after_the_execution_was_cancelled_gets_409(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("confirm", None)
    client.cancel(h.execution_id)
    # The ended execution's open callback is marked at once (not left PENDING until its TTL).
    assert _item(cloud, SUBMITTED[0])["status"] == "CANCELLED"
    assert _item(cloud, SUBMITTED[0])["cancelled_because"] == "its execution ended CANCELLED"
    with pytest.raises(CallbackAlreadyCompleted, match="was cancelled: its execution ended CANCELLED"):
        client.complete_callback(SUBMITTED[0], 1)
    with pytest.raises(CallbackAlreadyCompleted, match="was cancelled"):
        client.heartbeat_callback(SUBMITTED[0])
    assert _item(cloud, SUBMITTED[0])["status"] == "CANCELLED" and "result" not in _item(cloud, SUBMITTED[0])


def test_a_lost_wake_up_is_sent_again_by_the_callers_retry(cloud: LocalCloud, monkeypatch: pytest.MonkeyPatch) -> None:
    from stepbridge.runtime import callbacks

    client = cloud.client()
    h = client.start("two", None)  # no timeout: without a wake-up it would wait for ever
    real = callbacks._wake

    def crash(effects: Any, item: Any) -> None:
        raise RuntimeError("crashed after the write, before the publish")

    monkeypatch.setattr(callbacks, "_wake", crash)
    with pytest.raises(RuntimeError):
        client.complete_callback(SUBMITTED[0], "first")
    monkeypatch.setattr(callbacks, "_wake", real)
    cloud.run_until_idle()
    assert client.describe(h.execution_id).status == "RUNNING" and len(SUBMITTED) == 1
    with pytest.raises(CallbackAlreadyCompleted):
        client.complete_callback(SUBMITTED[0], "retried")  # 409, and the wake-up goes out again
    assert len(SUBMITTED) == 2  # the first callback returned "first": the second one was issued
    client.complete_callback(SUBMITTED[1], "second")
    assert h.result() == ["first", "second"]


@app.step(timeout=10, retry=Retry(max_attempts=3, initial_delay=600, max_delay=600, jitter=False))
def slow_submit(token: str) -> str:
    SUBMITTED.append(token)
    if len(SUBMITTED) == 1:
        raise ConnectionError("first attempt fails; retried after 10 minutes")
    return "sent"


@app.workflow("slow")
async def slow(ctx: Context, _: Any) -> Any:
    return await ctx.wait_for_callback("late", slow_submit, timeout=timedelta(minutes=30))


def test_the_timeout_counts_from_the_token_not_from_a_slow_submit(cloud: LocalCloud) -> None:
    client = cloud.client()
    h = client.start("slow", None)
    cloud.advance(timedelta(minutes=11))
    assert len(SUBMITTED) == 2 and client.describe(h.execution_id).status == "RUNNING"
    cloud.advance(timedelta(minutes=20))  # 31 minutes after the token was issued
    desc = client.describe(h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.CallbackTimeout"
