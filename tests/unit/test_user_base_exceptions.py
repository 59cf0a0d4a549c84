"""Issue 13, reproduction 4: a ``BaseException`` from user code fails its execution, and nothing else.

``asyncio.CancelledError`` (a step cancelling a task and awaiting it), ``sys.exit()`` and
``KeyboardInterrupt`` raised by a step or by the workflow body escaped the orchestrator handler:
the other executions of the SQS batch were not processed and LocalCloud's ``run_until_idle``
crashed. Now each fails its own execution with an error naming the exception type (a step's
becomes a non-retried step failure the workflow can catch), and its batch-mates proceed. The
engine's own signal (``Suspend``) still suspends, even when user code catches ``BaseException``.

Each case runs on the in-memory backend and through LocalCloud on moto.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, Context, Retry, StepFailed
from stepbridge.local import LocalCloud

CALLS: Counter[str] = Counter()


async def cancelled_step() -> str:
    CALLS["cancelled"] += 1
    t = asyncio.ensure_future(asyncio.sleep(10))
    t.cancel()
    await t
    return "not reached"


def exiting_step() -> str:
    CALLS["exit"] += 1
    sys.exit(3)


def interrupted_step() -> str:
    CALLS["interrupt"] += 1
    raise KeyboardInterrupt


def ok_step(n: int) -> int:
    return n + 1


def user_app() -> App:
    app = App("basex")

    @app.step(timeout=30)
    def declared_exit() -> str:
        CALLS["declared-exit"] += 1
        sys.exit("bye")

    @app.step(timeout=30)
    def slow() -> str:
        return "slow done"

    @app.workflow("step-raises")
    async def step_raises(ctx: Context, kind: str) -> Any:
        fn = {
            "cancelled": cancelled_step,
            "exit": exiting_step,
            "interrupt": interrupted_step,
            "declared-exit": declared_exit,
        }[kind]
        return await ctx.step("bad", fn, retry=Retry(max_attempts=3, initial_delay=1))

    @app.workflow("compensates")
    async def compensates(ctx: Context) -> Any:
        try:
            await ctx.step("bad", exiting_step)
        except StepFailed as exc:
            await ctx.step("undo", ok_step, 1)
            return f"compensated {exc.error_type}"
        return "no failure"

    @app.workflow("body-raises")
    async def body_raises(ctx: Context, kind: str) -> Any:
        await ctx.step("first", ok_step, 1)
        if kind == "exit":
            sys.exit(2)
        if kind == "interrupt":
            raise KeyboardInterrupt
        if kind == "generator-exit":
            raise GeneratorExit
        if kind == "cancelled":
            raise asyncio.CancelledError
        return "not reached"

    @app.workflow("fine")
    async def fine(ctx: Context, n: int) -> int:
        return int(await ctx.step("inc", ok_step, n))

    @app.workflow("swallows")
    async def swallows(ctx: Context) -> Any:
        try:
            value = await ctx.step("slow", slow)
        except BaseException:  # catches the engine's suspension too: the engine must still suspend
            return "swallowed the suspension"
        return value

    return app


@pytest.fixture(params=["memory", "moto"])
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    CALLS.clear()
    with LocalCloud(user_app(), backend=request.param) as c:
        yield c


def _run_with_batch_mates(cloud: LocalCloud, workflow: str, arg: Any) -> tuple[Any, list[Any]]:
    """Start the bad execution between healthy ones, so they share the orchestrator's SQS batch."""
    client = cloud.client()
    before = client.start("fine", 1, execution_id="mate-before")
    bad = client.start(workflow, arg, execution_id="bad")
    after = client.start("fine", 2, execution_id="mate-after")
    cloud.advance(timedelta(minutes=10))
    assert cloud.dead_letters() == []
    mates = [client.describe(h.execution_id) for h in (before, after)]
    return client.describe(bad.execution_id), mates


@pytest.mark.parametrize(
    ("kind", "type_name"),
    [
        ("cancelled", "asyncio.exceptions.CancelledError"),
        ("exit", "builtins.SystemExit"),
        ("interrupt", "builtins.KeyboardInterrupt"),
        ("declared-exit", "builtins.SystemExit"),
    ],
)
def test_a_step_raising_a_base_exception_fails_its_execution_once_and_the_batch_proceeds(
    cloud: LocalCloud, kind: str, type_name: str
) -> None:
    bad, mates = _run_with_batch_mates(cloud, "step-raises", kind)
    assert bad.status == "FAILED"
    assert bad.error["type"] == "stepbridge.errors.StepFailed"
    assert type_name in bad.error["message"] and "'bad'" in bad.error["message"]
    assert CALLS[kind] == 1  # not retried: the step's code asked to stop, not a transient failure
    assert [(m.status, m.result) for m in mates] == [("SUCCEEDED", 2), ("SUCCEEDED", 3)]


def test_the_workflow_can_catch_a_step_that_called_sys_exit_and_compensate(cloud: LocalCloud) -> None:
    h = cloud.client().start("compensates")
    cloud.run_until_idle()
    desc = cloud.client().describe(h.execution_id)
    assert (desc.status, desc.result) == ("SUCCEEDED", "compensated builtins.SystemExit")
    assert [
        e["detail"]["name"] for e in cloud.client().history(h.execution_id) if e["detail_type"] == "Step.completed"
    ] == ["undo"]


@pytest.mark.parametrize(
    ("kind", "type_name"),
    [
        ("exit", "builtins.SystemExit"),
        ("interrupt", "builtins.KeyboardInterrupt"),
        ("generator-exit", "builtins.GeneratorExit"),
        ("cancelled", "asyncio.exceptions.CancelledError"),
    ],
)
def test_the_workflow_body_raising_a_base_exception_fails_it_naming_the_type(
    cloud: LocalCloud, kind: str, type_name: str
) -> None:
    bad, mates = _run_with_batch_mates(cloud, "body-raises", kind)
    assert bad.status == "FAILED" and bad.error["type"] == type_name
    assert [(m.status, m.result) for m in mates] == [("SUCCEEDED", 2), ("SUCCEEDED", 3)]


def test_user_code_catching_base_exception_cannot_swallow_the_suspension(cloud: LocalCloud) -> None:
    h = cloud.client().start("swallows")
    cloud.run_until_idle()
    desc = cloud.client().describe(h.execution_id)
    assert (desc.status, desc.result) == ("SUCCEEDED", "slow done")
