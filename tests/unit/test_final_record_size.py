"""Issue 13, reproduction 1: nothing too large for a DynamoDB item leaves an execution stuck.

The execution header holds the input together with the result or the error. When the two did not
fit in one 400 KB item, the status write failed inside the orchestrator, the message was
dead-lettered on every sweep and the execution stayed RUNNING. Now every such execution ends
FAILED with ``PayloadTooLarge`` naming the sizes (or is refused at ``start``), never stuck. The
same holds for the other records a value travels through: step results and errors (inline and
declared), child results, progress messages, ``continue_as_new`` inputs and cached results.

Each case runs on the in-memory backend and through LocalCloud on moto (real DynamoDB limits).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, PayloadTooLarge, Retry
from stepbridge.errors import ExecutionNotFound
from stepbridge.local import LocalCloud
from stepbridge.runtime.limits import DYNAMODB_ITEM_BYTES, MAX_ERROR_MESSAGE_BYTES, MAX_INPUT_BYTES

# These pin the limits of a function without a payload bucket; claim checks: tests/unit/test_payloads.py.
pytestmark = pytest.mark.usefixtures("without_payload_bucket")

KB = 1024


def make(n: int) -> str:
    return "r" * n


def explode(n: int) -> None:
    raise ValueError("e" * n)


def size_app() -> App:
    app = App("sizes")

    @app.step(timeout=30, retry=Retry(max_attempts=2, initial_delay=1))
    def declared_explode(n: int) -> None:
        raise ValueError("d" * n)

    @app.workflow("echo-big")
    async def echo_big(ctx: Context, data: Any) -> Any:
        return await ctx.step("make", make, int(data["result_bytes"]))

    @app.workflow("raise-big")
    async def raise_big(ctx: Context) -> Any:
        raise ValueError("e" * 500_000)

    @app.workflow("step-raises-big")
    async def step_raises_big(ctx: Context, where: str) -> Any:
        try:
            if where == "inline":
                await ctx.step("explode", explode, 500_000, retry=Retry(max_attempts=2, initial_delay=1))
            else:
                await ctx.step("explode", declared_explode, 500_000)
        except ValueError as exc:  # the type survives; only the message is cut
            return len(str(exc).encode())
        return "no error"

    @app.workflow("big-child")
    async def big_child(ctx: Context, pad: str) -> Any:
        return await ctx.step("make", make, 350 * KB)  # fits a journal record, not beside the input

    @app.workflow("parent")
    async def parent(ctx: Context) -> Any:
        return await ctx.child("big-child", "i" * (100 * KB))

    @app.workflow("big-progress")
    async def big_progress(ctx: Context) -> Any:
        await ctx.progress(1, 2, "p" * (300 * KB))
        return "done"

    @app.workflow("big-continue")
    async def big_continue(ctx: Context, data: Any) -> Any:
        if data == "first":
            await ctx.continue_as_new("c" * (MAX_INPUT_BYTES + 1))
        return "second generation"

    @app.workflow("cached-big", cache_ttl=3600)
    async def cached_big(ctx: Context) -> Any:
        return await ctx.step("make", make, 300 * KB) + await ctx.step("more", make, 120 * KB)

    return app


@pytest.fixture(params=["memory", "moto"])
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    with LocalCloud(size_app(), backend=request.param) as c:
        yield c


def _ended(cloud: LocalCloud, execution_id: str) -> Any:
    cloud.advance(timedelta(hours=1))  # retry timers, step deadlines
    cloud.sweep()  # the sweeper finds nothing left to do: the execution already ended
    desc = cloud.client().describe(execution_id)
    assert desc.status in ("SUCCEEDED", "FAILED"), f"{execution_id} is stuck {desc.status}"
    assert cloud.dead_letters() == []
    return desc


def test_input_and_result_of_250_kb_each_fail_with_the_sizes_named(cloud: LocalCloud) -> None:
    h = cloud.client().start("echo-big", {"pad": "i" * (250 * KB), "result_bytes": 250 * KB})
    desc = _ended(cloud, h.execution_id)
    assert desc.status == "FAILED"
    assert desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
    message = desc.error["message"]
    assert "workflow 'echo-big'" in message and f"{DYNAMODB_ITEM_BYTES:,} bytes" in message
    assert "256,002 bytes" in message  # the result's JSON size (two quotes)


def test_input_near_the_cap_with_a_small_result_succeeds(cloud: LocalCloud) -> None:
    pad = MAX_INPUT_BYTES - 100  # the reserve keeps room for the outcome
    h = cloud.client().start("echo-big", {"pad": "i" * pad, "result_bytes": 300})
    desc = _ended(cloud, h.execution_id)
    assert desc.status == "SUCCEEDED" and desc.result == "r" * 300


def test_input_of_408_777_bytes_is_refused_at_start_and_creates_nothing(cloud: LocalCloud) -> None:
    with pytest.raises(PayloadTooLarge) as info:
        cloud.client().start("echo-big", {"pad": "i" * 408_700, "result_bytes": 300}, execution_id="too-big")
    assert "408,7" in str(info.value) and f"{MAX_INPUT_BYTES:,}" in str(info.value)
    assert "workflow 'echo-big'" in str(info.value)
    with pytest.raises(ExecutionNotFound):
        cloud.client().describe("too-big")
    assert cloud.run_until_idle() == 0


def test_a_workflow_raising_a_500_kb_message_fails_with_its_type_and_a_cut_message(cloud: LocalCloud) -> None:
    h = cloud.client().start("raise-big")
    desc = _ended(cloud, h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "builtins.ValueError"
    message = desc.error["message"]
    assert message.startswith("eeee") and "truncated" in message and "500,000 bytes" in message
    assert len(message.encode()) <= MAX_ERROR_MESSAGE_BYTES


@pytest.mark.parametrize("where", ["inline", "declared"])
def test_a_step_raising_a_500_kb_message_reaches_the_workflow_as_its_own_type(cloud: LocalCloud, where: str) -> None:
    h = cloud.client().start("step-raises-big", where)
    desc = _ended(cloud, h.execution_id)
    assert desc.status == "SUCCEEDED", desc.error
    assert MAX_ERROR_MESSAGE_BYTES - 100 <= desc.result <= MAX_ERROR_MESSAGE_BYTES


def test_a_child_result_too_large_fails_the_child_and_the_parent_hears_why(cloud: LocalCloud) -> None:
    h = cloud.client().start("parent", execution_id="p")
    desc = _ended(cloud, h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.ChildFailed"
    assert "PayloadTooLarge" in desc.error["message"] or "400 KB" in desc.error["message"]
    child = _ended(cloud, "p.child:big-child")
    assert child.status == "FAILED" and child.error["type"] == "stepbridge.errors.PayloadTooLarge"


def test_a_300_kb_progress_message_fails_naming_it(cloud: LocalCloud) -> None:
    h = cloud.client().start("big-progress")
    desc = _ended(cloud, h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
    assert "progress" in desc.error["message"] and "307,200 bytes" in desc.error["message"]
    assert not [e for e in cloud.events if e.detail_type == "Workflow.progress"]


def test_continue_as_new_with_a_too_large_input_fails_naming_it(cloud: LocalCloud) -> None:
    h = cloud.client().start("big-continue", "first", execution_id="gen")
    desc = _ended(cloud, h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
    assert "continue_as_new" in desc.error["message"] and f"{MAX_INPUT_BYTES:,}" in desc.error["message"]
    with pytest.raises(ExecutionNotFound):
        cloud.client().describe("gen~2")


def test_a_cached_workflow_with_a_result_over_the_item_limit_fails_instead_of_sticking(cloud: LocalCloud) -> None:
    h = cloud.client().start("cached-big")
    desc = _ended(cloud, h.execution_id)
    assert desc.status == "FAILED" and desc.error["type"] == "stepbridge.errors.PayloadTooLarge"
