"""Anchor: AWS Lambda durable functions, run by its local runner (``DurableFunctionTestRunner``).

The same workflow shapes as ``benchmarks.workflows``, written with the durable execution SDK:
``context.step`` for a step, ``context.wait`` for a durable sleep, ``context.map`` over
``context.invoke`` of a registered function for a fan-out to other Lambdas. The runner skips
time (``skip_time=True``, its default), like LocalCloud's virtual clock.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import time
from collections.abc import Callable
from typing import Any

PIP = "pip install aws-durable-execution-sdk-python-testing"


def available() -> bool:
    """Whether the SDK and its local runner are installed."""
    return (
        importlib.util.find_spec("aws_durable_execution_sdk_python") is not None
        and importlib.util.find_spec("aws_durable_execution_sdk_python_testing") is not None
    )


def _quiet() -> None:
    for name in ("aws_durable_execution_sdk_python", "aws_durable_execution_sdk_python_testing"):
        logging.getLogger(name).setLevel(logging.ERROR)


def seq_handler(n: int) -> Callable[..., Any]:
    """``n`` sequential steps, each returning its input + 1."""
    from aws_durable_execution_sdk_python.context import DurableContext
    from aws_durable_execution_sdk_python.execution import durable_execution

    def step_fn(x: int) -> Callable[[Any], int]:
        def run(_step_context: Any) -> int:
            return x + 1

        return run

    @durable_execution  # type: ignore[untyped-decorator,unused-ignore]
    def handler(event: Any, context: DurableContext) -> int:
        x = 0
        for i in range(n):
            x = context.step(step_fn(x), name=f"s{i}")
        return x

    result: Callable[..., Any] = handler
    return result


def sleeper_handler() -> Callable[..., Any]:
    """A durable wait of one hour, then return."""
    from aws_durable_execution_sdk_python.config import Duration
    from aws_durable_execution_sdk_python.context import DurableContext
    from aws_durable_execution_sdk_python.execution import durable_execution

    @durable_execution  # type: ignore[untyped-decorator,unused-ignore]
    def handler(event: Any, context: DurableContext) -> str:
        context.wait(Duration.from_seconds(3600))
        return "woke"

    result: Callable[..., Any] = handler
    return result


def fan_handler(n: int) -> Callable[..., Any]:
    """``context.map`` over ``n`` items, each a chained ``context.invoke`` of the function ``inc``."""
    from aws_durable_execution_sdk_python.context import DurableContext
    from aws_durable_execution_sdk_python.execution import durable_execution

    def one(ctx: DurableContext, item: int, index: int, items: Any) -> int:
        value: int = ctx.invoke("inc", item, name=f"f{index}")
        return value

    @durable_execution  # type: ignore[untyped-decorator,unused-ignore]
    def handler(event: Any, context: DurableContext) -> int:
        batch: Any = context.map(list(range(n)), one, name="fan")
        return sum(int(v) for v in batch.get_results())

    result: Callable[..., Any] = handler
    return result


def _inc(event: Any, context: Any) -> int:
    return int(event) + 1


def run_once(handler: Callable[..., Any], *, expect: Any, register_inc: bool = False) -> float:
    """Build a fresh runner (not timed), time one ``runner.run`` and check the result."""
    from aws_durable_execution_sdk_python.lambda_service import InvocationStatus
    from aws_durable_execution_sdk_python_testing.runner import DurableFunctionTestRunner

    _quiet()
    with DurableFunctionTestRunner(handler=handler, execution_timeout=900) as runner:
        if register_inc:
            runner.register_function("inc", _inc)
        start = time.perf_counter()
        result = runner.run(input="{}", execution_timeout=900)
        elapsed = time.perf_counter() - start
    if result.status is not InvocationStatus.SUCCEEDED:
        raise RuntimeError(f"durable-functions anchor did not succeed: {result.status} {result.error}")
    value = json.loads(result.result) if isinstance(result.result, str) else result.result
    if value != expect:
        raise RuntimeError(f"durable-functions anchor returned {value!r}, expected {expect!r}")
    return elapsed
