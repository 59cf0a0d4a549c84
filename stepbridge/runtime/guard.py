"""Keep infrastructure failures out of workflow code.

A throttled DynamoDB write or a failed SQS send during a replay must not surface in user code
as an ordinary exception (an ``except Exception`` there could take a compensation path for a
problem that a retry fixes). The engine wraps the ports so that any such error becomes
:class:`InfrastructureFailure`, a ``BaseException``: the invocation is abandoned and the work
queue redelivers the message later, replaying from the journal.
"""

from __future__ import annotations

import asyncio
from typing import Any

from stepbridge.errors import PayloadTooLarge


class EngineSignal(BaseException):
    """A ``BaseException`` that steers the engine or stands for the process dying, never a failure of user code.

    Its subclasses: ``Suspend`` (wait for something outside this invocation), ``ContinueAsNew``,
    :class:`InfrastructureFailure` and LocalCloud's simulated container death (``Crash``). The
    engine lets them pass where it turns what user code raises into a recorded failure.
    """


def is_user_failure(exc: BaseException) -> bool:
    """Whether ``exc``, raised out of user code (a step function or the workflow body), is that code's failure.

    Every ``Exception`` is, and so are ``SystemExit``, ``KeyboardInterrupt`` and other
    ``BaseException`` subclasses user code raises: in Lambda no terminal sends an interrupt, so
    only code can raise one, and it must fail the execution rather than the orchestrator's batch.
    Not failures: the engine's signals (:class:`EngineSignal`), ``GeneratorExit`` (Python closing
    a coroutine) and an ``asyncio.CancelledError`` that cancels the running task itself (the engine
    abandoning a branch). A ``CancelledError`` of a task the user's code cancelled and awaited is.
    """
    if isinstance(exc, Exception):
        return True
    if isinstance(exc, EngineSignal | GeneratorExit):
        return False
    if isinstance(exc, asyncio.CancelledError):
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running loop: the step's own loop has ended with it
            return True
        return task is None or task.cancelling() == 0
    return True


class InfrastructureFailure(EngineSignal):
    """A store or effects call failed; the whole invocation is retried by the queue."""

    def __init__(self, operation: str, cause: BaseException) -> None:
        super().__init__(f"{operation} failed: {type(cause).__name__}: {cause}")
        self.operation = operation
        self.cause = cause


class _Guarded:
    """Proxy whose methods re-raise any ``Exception`` (except user-caused size errors) as InfrastructureFailure."""

    def __init__(self, target: Any, label: str) -> None:
        self._target = target
        self._label = label

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            try:
                return attr(*args, **kwargs)
            except PayloadTooLarge:
                raise
            except Exception as exc:
                raise InfrastructureFailure(f"{self._label}.{name}", exc) from exc

        return call


def guard_store(store: Any) -> Any:
    """The store, with failures turned into :class:`InfrastructureFailure`."""
    return store if isinstance(store, _Guarded) else _Guarded(store, "store")


def guard_effects(effects: Any) -> Any:
    """The effects, with failures turned into :class:`InfrastructureFailure`."""
    return effects if isinstance(effects, _Guarded) else _Guarded(effects, "effects")


class JournalConflict(InfrastructureFailure):
    """Another orchestrator wrote the log slot this replay was about to write: its view was out of date.

    Raised instead of adopting a record for a different operation. The invocation is abandoned
    like any infrastructure failure; the redelivered message replays from the whole journal.
    """

    def __init__(self, execution_id: str, seq: int, ours: str, theirs: str | None) -> None:
        super().__init__(
            "store.append_journal",
            RuntimeError(
                f"journal of execution '{execution_id}': log slot {seq} holds {theirs!r}, this replay wrote {ours!r}"
            ),
        )
