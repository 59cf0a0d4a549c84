"""What a running step knows about itself: ``stepbridge.step_context()`` inside a step function.

Steps are at-least-once: a crash after the side effect but before the journal write runs the
attempt again. Pass ``idempotency_key`` (stable across retries of the same step in the same
execution) to external APIs so a repeated call has no second effect.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class StepContext:
    """The execution, step name and attempt of the running step, and its idempotency key.

    ``lambda_context`` is the Lambda context object of a declared step's invocation (``None``
    for inline steps, which run inside the orchestrator's invocation).
    """

    execution_id: str
    step: str
    attempt: int
    lambda_context: Any = field(default=None, compare=False, repr=False)

    @property
    def idempotency_key(self) -> str:
        """``{execution_id}:{step}``: the same for every attempt of this step in this execution."""
        return f"{self.execution_id}:{self.step}"


_current: ContextVar[StepContext | None] = ContextVar("stepbridge_step_context", default=None)


def step_context() -> StepContext:
    """The context of the step being run; ``RuntimeError`` outside a step function."""
    ctx = _current.get()
    if ctx is None:
        raise RuntimeError("step_context() is only available inside a step function run by stepbridge")
    return ctx


def current() -> StepContext | None:
    """The context of the step being run, or ``None`` outside a step."""
    return _current.get()


def enter(execution_id: str, step: str, attempt: int, lambda_context: Any = None) -> object:
    """Set the current step (returns a token for :func:`leave`)."""
    return _current.set(StepContext(execution_id, step, attempt, lambda_context))


def leave(token: object) -> None:
    """Restore the previous step context."""
    _current.reset(token)  # type: ignore[arg-type]
