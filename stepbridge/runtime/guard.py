"""Keep infrastructure failures out of workflow code.

A throttled DynamoDB write or a failed SQS send during a replay must not surface in user code
as an ordinary exception (an ``except Exception`` there could take a compensation path for a
problem that a retry fixes). The engine wraps the ports so that any such error becomes
:class:`InfrastructureFailure`, a ``BaseException``: the invocation is abandoned and the work
queue redelivers the message later, replaying from the journal.
"""

from __future__ import annotations

from typing import Any

from stepbridge.errors import PayloadTooLarge


class InfrastructureFailure(BaseException):
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
