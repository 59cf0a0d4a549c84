"""Every exception stepbridge raises to users, in one place.

Errors that user workflow code may want to catch (``StepTimeout``, ``WaitTimeout``,
``StepFailed``, ``ChildFailed``) derive from ``Exception``. Errors that mean the workflow
*definition* or its replay is broken derive from ``WorkflowDefinitionError``; the engine
fails the execution on them even if user code swallows them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class StepbridgeError(Exception):
    """Base class of all stepbridge errors."""


# ---- raised inside workflows ------------------------------------------------------------


class StepTimeout(StepbridgeError):
    """A step did not finish within its ``timeout``."""


class WaitTimeout(StepbridgeError):
    """``ctx.wait_for`` reached its timeout without a matching event (and had no ``default``)."""


class PollTimeout(StepbridgeError):
    """``ctx.poll`` used all its attempts (or passed its deadline) before ``until`` held; ``state`` is the last one."""

    def __init__(self, message: str, state: object = None) -> None:
        super().__init__(message)
        self.state = state


class StepFailed(StepbridgeError):
    """A step failed with an exception whose type cannot be rebuilt in the workflow.

    ``error_type`` is the dotted name of the original exception class and ``message`` its text.
    """

    def __init__(self, step: str, error_type: str, message: str) -> None:
        super().__init__(f"step '{step}' failed with {error_type}: {message}")
        self.step = step
        self.error_type = error_type
        self.message = message


class ChildFailed(StepbridgeError):
    """A child workflow ended FAILED, CANCELLED or TIMED_OUT (``status``); ``error`` holds its error record.

    ``original`` is the exception the child failed with, rebuilt as its own type (``None`` when
    it cannot be: see docs/API.md, "Errors"), so ``isinstance(exc.original, Declined)`` works.
    """

    def __init__(
        self, execution_id: str, status: str, error: dict[str, Any] | None, original: Exception | None = None
    ) -> None:
        msg = (error or {}).get("message", "")
        super().__init__(f"child execution '{execution_id}' ended {status}: {msg}")
        self.execution_id = execution_id
        self.status = status
        self.error = error or {}
        self.original = original


class NonRetryableError(StepbridgeError):
    """Raise from a step to fail it at once, without further retry attempts."""


class StepInterrupted(NonRetryableError):
    """An ``at_most_once`` step started but never reported (a crash or timeout): it is not run again.

    Its side effect may or may not have happened; the workflow decides (check the external
    system with the step's idempotency key, compensate, or fail).
    """


class ExecutionCancelled(StepbridgeError):
    """Raised at the workflow's waiting point when the execution is cancelled with ``compensate=True``.

    It is an ``Exception`` on purpose so that ``ctx.saga()`` blocks and ``except`` clauses can run
    their compensations; the execution still ends CANCELLED.
    """


class ExecutionTimedOut(ExecutionCancelled):
    """The workflow's ``timeout=`` passed: raised at its waiting point so ``ctx.saga()`` blocks compensate,
    and recorded as the error of the execution, which ends TIMED_OUT (a subclass of ``ExecutionCancelled``:
    a timed-out execution unwinds exactly as one cancelled with ``compensate=True``)."""


class CircuitOpenError(StepbridgeError):
    """A circuit breaker is open; the protected step was not called."""


class BulkheadFullError(StepbridgeError):
    """A bulkhead has no free slot (raised only when waiting is disabled)."""


class PayloadTooLarge(StepbridgeError):
    """A payload exceeds an AWS service limit (DynamoDB item 400 KB, EventBridge entry 256 KB)."""


class PayloadMissing(StepbridgeError):
    """A stored large value (claim check) is gone or corrupt: expired by retention, or deleted."""


class ResultNotSerializable(StepbridgeError):
    """A step returned (or a workflow was given) a value that cannot be stored as JSON."""


# ---- definition and replay errors -----------------------------------------------------


class WorkflowDefinitionError(StepbridgeError):
    """The app or workflow is defined wrongly; the message names the workflow or step to fix."""


class DuplicateStepError(WorkflowDefinitionError):
    """Two operations in one execution used the same step name."""


class NonDeterminismError(WorkflowDefinitionError):
    """Replay took a different path than the recorded journal: the code changed under a running execution."""


class CompileError(WorkflowDefinitionError):
    """The app cannot be compiled into a template; the message names what to fix."""


# ---- client-side errors ---------------------------------------------------------------------


class UnknownWorkflowError(StepbridgeError):
    """No workflow with that name is registered on the app."""


class ExecutionNotFound(StepbridgeError):
    """No execution with that id exists."""


class ExecutionAlreadyExists(StepbridgeError):
    """``start`` was called with an execution id that exists with a different workflow or input."""


class ExecutionFailedError(StepbridgeError):
    """``handle.result()`` on an execution that ended FAILED, CANCELLED or TIMED_OUT (``status``)."""

    def __init__(self, execution_id: str, status: str, error: dict[str, Any] | None) -> None:
        err = error or {}
        super().__init__(f"execution '{execution_id}' ended {status}: {err.get('type', '')}: {err.get('message', '')}")
        self.execution_id = execution_id
        self.status = status
        self.error = err


class ExecutionStillRunning(StepbridgeError):
    """``handle.result()`` found the execution not finished and nothing scheduled that could finish it."""


class SecretNotDeclared(NonRetryableError):
    """``stepbridge.secret(name)`` of a name the running function did not declare in ``secrets=``.

    Only declared secrets are granted to a function's role, so reading another would fail in AWS with
    AccessDenied; stepbridge fails the same way locally, before any call. Not retried.
    """


class SecretUnavailable(StepbridgeError):
    """A declared secret could not be read: it does not exist, or access was denied (check the name, or
    create it: ``aws ssm put-parameter --type SecureString`` / ``LocalCloud.set_secret``)."""


class CallbackTimeout(StepbridgeError):
    """A callback was not completed within its ``timeout``, or a ``heartbeat`` interval passed without one."""


class CallbackFailed(StepbridgeError):
    """The external system failed the callback (``fail_callback``); ``error`` and ``message`` are what it sent."""

    def __init__(self, text: str, error: str | None = None, message: str | None = None) -> None:
        super().__init__(text)
        self.error = error
        self.message = message


class CallbackNotFound(StepbridgeError):
    """No callback has this token (never issued, or expired): HTTP 404."""


class CallbackAlreadyCompleted(StepbridgeError):
    """The callback was completed, failed or timed out already; a token is single-use: HTTP 409."""


#: Errors no retry can fix, by dotted class name (so a recorded error, which carries its ``mro``, is judged
#: the same in any process): a step that raises one fails at once whatever its ``Retry`` says. The one
#: rule behind ``Retry.is_retryable``, a step error's ``fatal`` mark and the engine's retry decision.
NEVER_RETRIED = frozenset({
    f"{__name__}.NonRetryableError",
    f"{__name__}.WorkflowDefinitionError",
    f"{__name__}.ResultNotSerializable",
    f"{__name__}.PayloadTooLarge",
    f"{__name__}.PayloadMissing",  # a stored payload (claim check) is gone: reading it again will not bring it back
    "pydantic_core._pydantic_core.ValidationError",  # a step's input or result that does not fit its types
})


def type_names(exc: BaseException) -> list[str]:
    """The dotted names of ``exc``'s class and its bases (what a recorded error keeps as ``mro``)."""
    return [f"{c.__module__}.{c.__qualname__}" for c in type(exc).__mro__ if c not in (object, BaseException)]


def never_retried_names(names: Iterable[str]) -> bool:
    """Whether an error with these class names (its ``mro``) is one no retry can fix."""
    return not NEVER_RETRIED.isdisjoint(names)


def never_retried(exc: BaseException) -> bool:
    """Whether ``exc`` is one no retry can fix: the :data:`NEVER_RETRIED` errors, and ``BaseException``s
    user code raises (``SystemExit``, ``KeyboardInterrupt``, its own ``CancelledError``): the code asked to stop."""
    return not isinstance(exc, Exception) or never_retried_names(type_names(exc))

# ---- human tasks (client and HTTP API) ---------------------------------------------------------


class TaskError(StepbridgeError):
    """Base class of the task inbox's refusals; the HTTP API answers each with its ``status``."""

    status = 400
    code = "bad_request"


class TaskNotFound(TaskError):
    """No task with this id (HTTP 404)."""

    status = 404
    code = "task_not_found"


class TaskForbidden(TaskError):
    """The caller is not an assignee of the task (or not its claimer) (HTTP 403); nothing changed."""

    status = 403
    code = "forbidden"


class TaskConflict(TaskError):
    """The task is no longer in a state that allows the action: completed, cancelled or claimed by
    someone else (HTTP 409); nothing changed."""

    status = 409
    code = "conflict"


class TaskInvalid(TaskError):
    """The completion does not fit the task: a decision it does not offer, data its form rejects (HTTP 400)."""

    status = 400
    code = "invalid_task_data"
