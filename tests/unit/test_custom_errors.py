"""Issue 13, reproduction 9: exceptions with constructor arguments come back as their own type.

``Declined(code)`` (its ``__init__`` builds the message and keeps ``code``) raised in a step came
back as ``StepFailed``, so ``except Declined`` never matched and the compensation was skipped. The
recorded error now keeps the exception's ``args`` and its plain attributes, and the workflow gets a
``Declined`` with the same message and ``code`` back - inline, declared, and as a child's
``ChildFailed.original``. Rebuilding never imports a module (only classes of modules the process
already loaded) and never calls the class's ``__init__``. A step exception whose ``__str__`` raises
is recorded and rebuilt without a spurious ``NonDeterminismError``.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from stepbridge import App, ChildFailed, Context, Retry, StepFailed
from stepbridge.local import LocalCloud
from stepbridge.runtime.errorcodec import error_dict, rebuild_error

INITS: Counter[str] = Counter()
UNDONE: list[str] = []


class Declined(Exception):
    def __init__(self, code: int) -> None:
        INITS["Declined"] += 1
        super().__init__(f"declined {code}")
        self.code = code


class Rejected(Exception):
    """Keyword-only state and a default: the arguments do not match the constructor."""

    def __init__(self, reason: str, *, retry_after: float | None = None, tags: list[str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.tags = tags or []


class Opaque(Exception):
    """An attribute that is not plain data: cannot be stored, so the type is not faked."""

    def __init__(self, code: int) -> None:
        super().__init__(f"opaque {code}")
        self.handle = object()


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def decline(code: int) -> None:
    raise Declined(code)


def unprintable() -> None:
    raise Unprintable("x")


def undo(what: str) -> str:
    UNDONE.append(what)
    return what


def errors_app() -> App:
    app = App("customerrors")

    @app.step(timeout=30, retry=Retry(max_attempts=1))
    def declared_decline(code: int) -> None:
        raise Declined(code)

    @app.step(timeout=30, retry=Retry(max_attempts=1))
    def declared_unprintable() -> None:
        raise Unprintable("y")

    @app.workflow("charge")
    async def charge(ctx: Context, where: str) -> Any:
        try:
            if where == "inline":
                await ctx.step("charge", decline, 51, retry=Retry(max_attempts=1))
            else:
                await ctx.step("charge", declared_decline, 51)
        except Declined as exc:
            await ctx.step("release", undo, "inventory")
            return {"code": exc.code, "message": str(exc), "args": list(exc.args)}
        return "charged"

    @app.workflow("weird")
    async def weird(ctx: Context, where: str) -> Any:
        try:
            if where == "inline":
                await ctx.step("weird", unprintable, retry=Retry(max_attempts=1))
            else:
                await ctx.step("weird", declared_unprintable)
        except Unprintable:
            await ctx.sleep(timedelta(seconds=5))  # a later replay rebuilds it again: same path
            return "caught Unprintable"
        return "no error"

    @app.workflow("declining-child")
    async def declining_child(ctx: Context) -> Any:
        await ctx.step("noop", undo, "child-ran")
        raise Declined(7)

    @app.workflow("parent")
    async def parent(ctx: Context) -> Any:
        try:
            await ctx.child("declining-child")
        except ChildFailed as exc:
            original = exc.original
            assert isinstance(original, Declined)
            await ctx.step("release", undo, "parent-compensated")
            return {"code": original.code, "message": str(original)}
        return "no failure"

    return app


@pytest.fixture(params=["memory", "moto"])
def cloud(request: pytest.FixtureRequest) -> Iterator[LocalCloud]:
    UNDONE.clear()
    with LocalCloud(errors_app(), backend=request.param) as c:
        yield c


def _finished(cloud: LocalCloud, execution_id: str) -> Any:
    cloud.advance(timedelta(minutes=10))
    desc = cloud.client().describe(execution_id)
    assert desc.status == "SUCCEEDED", desc.error
    return desc.result


@pytest.mark.parametrize("where", ["inline", "declared"])
def test_a_custom_exception_with_constructor_arguments_is_caught_by_its_type_and_compensated(
    cloud: LocalCloud, where: str
) -> None:
    h = cloud.client().start("charge", where)
    assert _finished(cloud, h.execution_id) == {"code": 51, "message": "declined 51", "args": ["declined 51"]}
    assert UNDONE == ["inventory"]


def test_a_child_failing_with_a_custom_exception_gives_the_parent_the_original(cloud: LocalCloud) -> None:
    h = cloud.client().start("parent")
    assert _finished(cloud, h.execution_id) == {"code": 7, "message": "declined 7"}
    assert UNDONE == ["child-ran", "parent-compensated"]


@pytest.mark.parametrize("where", ["inline", "declared"])
def test_a_step_exception_whose_str_raises_is_rebuilt_without_a_nondeterminism_error(
    cloud: LocalCloud, where: str
) -> None:
    h = cloud.client().start("weird", where)
    assert _finished(cloud, h.execution_id) == "caught Unprintable"


# ---- the codec itself ------------------------------------------------------------------------


def test_rebuilding_does_not_call_the_constructor_and_keeps_plain_attributes() -> None:
    err = error_dict(Declined(3))
    before = INITS["Declined"]
    rebuilt = rebuild_error(err, "op")
    assert INITS["Declined"] == before  # __init__ not run: state comes from the record
    assert type(rebuilt) is Declined and rebuilt.code == 3 and str(rebuilt) == "declined 3"


def test_keyword_only_state_round_trips() -> None:
    rebuilt = rebuild_error(error_dict(Rejected("busy", retry_after=1.5, tags=["a", "b"])), "op")
    assert type(rebuilt) is Rejected
    assert (rebuilt.reason, rebuilt.retry_after, rebuilt.tags) == ("busy", 1.5, ["a", "b"])


def test_an_exception_with_state_that_is_not_plain_data_comes_back_as_step_failed() -> None:
    rebuilt = rebuild_error(error_dict(Opaque(1)), "op")
    assert isinstance(rebuilt, StepFailed) and rebuilt.error_type.endswith("Opaque")
    assert rebuilt.message == "opaque 1"


@pytest.mark.parametrize(
    "dotted",
    [
        "antigravity.Thing",  # a module the process never loaded: never imported from journal data
        "os.system",  # not a class
        "builtins.SystemExit",  # not an Exception
        "stepbridge.errors.StepFailed",  # would be ambiguous
        "builtins.object",
    ],
)
def test_only_exception_classes_of_loaded_modules_are_rebuilt(dotted: str) -> None:
    rebuilt = rebuild_error({"type": dotted, "message": "m", "args": ["m"]}, "op")
    assert isinstance(rebuilt, StepFailed) and rebuilt.error_type == dotted
    assert "antigravity" not in sys.modules


def test_an_exception_whose_str_raises_is_recorded_and_rebuilt_as_its_type() -> None:
    err = error_dict(Unprintable("z"))
    assert err["type"].endswith("Unprintable") and "__str__ raised RuntimeError" in err["message"]
    assert type(rebuild_error(err, "op")) is Unprintable
