"""Rules that used to be written several times now have one source (issue 16, finding 7)."""

from __future__ import annotations

import ast
import inspect
import json
from dataclasses import replace

import pydantic
import pytest

from stepbridge import App, Retry
from stepbridge.compiler.model import build_model
from stepbridge.errors import (
    CompileError,
    DuplicateStepError,
    NonRetryableError,
    PayloadTooLarge,
    ResultNotSerializable,
    StepInterrupted,
    StepTimeout,
    WorkflowDefinitionError,
    never_retried,
)
from stepbridge.local import handlerports
from stepbridge.runtime.errorcodec import error_dict
from stepbridge.runtime.messages import schedule_fire_body
from stepbridge.runtime.steps import retryable, step_error


class _Model(pydantic.BaseModel):
    n: int


def _validation_error() -> pydantic.ValidationError:
    try:
        _Model.model_validate({"n": "x"})
    except pydantic.ValidationError as exc:
        return exc
    raise AssertionError("pydantic accepted a bad value")


NEVER = [
    NonRetryableError("no"),
    StepInterrupted("started, never reported"),
    WorkflowDefinitionError("bad definition"),
    DuplicateStepError("twice"),
    ResultNotSerializable("a socket"),
    PayloadTooLarge("500 KB"),
    _validation_error(),
    SystemExit(3),
    KeyboardInterrupt(),
]
RETRIED = [ValueError("flaky"), StepTimeout("slow"), ConnectionError("reset"), TimeoutError()]


@pytest.mark.parametrize("exc", NEVER, ids=lambda e: type(e).__name__)
def test_an_error_no_retry_can_fix_is_judged_so_by_every_caller(exc: BaseException) -> None:
    policy = Retry(max_attempts=5)
    err = step_error(exc)
    assert never_retried(exc)
    assert err.get("fatal") is True  # the mark a step's Lambda records
    assert not retryable(policy, err)  # the orchestrator's decision on the record
    if isinstance(exc, Exception):  # a record without the mark is judged by its class names alone
        assert not retryable(policy, {k: v for k, v in err.items() if k != "fatal"})
    assert not policy.is_retryable(exc)  # the public helper


@pytest.mark.parametrize("exc", RETRIED, ids=lambda e: type(e).__name__)
def test_an_ordinary_error_is_retried_by_every_caller(exc: BaseException) -> None:
    policy = Retry(max_attempts=5)
    err = step_error(exc)
    assert not never_retried(exc) and "fatal" not in err
    assert retryable(policy, err) and policy.is_retryable(exc)
    assert retryable(policy, error_dict(exc))


def _app_with_step(**settings: object) -> App:
    app = App("limits")

    @app.step(**settings)  # type: ignore[arg-type]
    async def work(x: int) -> int:
        return x

    return app


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"timeout": 901}, "step 'work': timeout 901 s is outside Lambda's 1-900 s range"),
        ({"memory": 64}, "step 'work': memory 64 MB is outside Lambda's (128, 10240) MB range"),
        ({"concurrency": 0}, "step 'work': concurrency must be >= 1, got 0"),
    ],
)
def test_step_limits_read_the_same_in_the_decorator_and_the_compiler(settings: dict[str, object], message: str) -> None:
    with pytest.raises(WorkflowDefinitionError) as at_declaration:
        _app_with_step(**settings)
    assert str(at_declaration.value).startswith(message)
    app = _app_with_step()
    app.steps["work"] = replace(app.steps["work"], **settings)  # type: ignore[arg-type]  # past the decorator
    with pytest.raises(CompileError) as at_compile:
        build_model(app)
    assert message in str(at_compile.value)


def test_the_compiled_schedule_sends_the_body_the_runtime_parses() -> None:
    app = App("sched")

    @app.workflow()
    async def nightly(ctx: object) -> None:
        return None

    app.schedule("nightly-run", "0 2 * * *", workflow=nightly)
    (plan,) = build_model(app).schedules
    assert json.loads(plan.input) == schedule_fire_body("nightly-run")


def test_local_effects_reach_local_cloud_only_through_its_methods() -> None:
    tree = ast.parse(inspect.getsource(handlerports.LocalEffects))
    private = [
        ast.unparse(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_")
        and isinstance(node.value, ast.Attribute) and node.value.attr == "_cloud"
    ]
    assert private == []
    called = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
              and isinstance(node.value, ast.Attribute) and node.value.attr == "_cloud"}
    assert called == {"clock", "effect_send", "effect_invoke", "effect_call_step", "effect_set_timer",
                      "effect_cancel_timer", "effect_publish"}
