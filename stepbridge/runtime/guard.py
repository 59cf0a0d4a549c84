"""Keep infrastructure failures out of workflow code.

A throttled DynamoDB write or a failed SQS send during a replay must not surface in user code
as an ordinary exception (an ``except Exception`` there could take a compensation path for a
problem that a retry fixes). The engine wraps the ports so that any such error becomes
:class:`InfrastructureFailure`, a ``BaseException``: the invocation is abandoned and the work
queue redelivers the message later, replaying from the journal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import ParamSpec, TypeVar

from stepbridge.errors import PayloadTooLarge
from stepbridge.runtime.messages import WorkMessage
from stepbridge.runtime.ports import Effects, Item, Store
from stepbridge.runtime.records import (
    Event,
    ExecutionGlance,
    ExecutionRecord,
    JournalRecord,
    StepInvocation,
    WakeMessage,
)


class EngineSignal(BaseException):
    """A ``BaseException`` that steers the engine or stands for the process dying, never a failure of user code.

    Its subclasses: ``Suspend`` (wait for something outside this invocation), ``ContinueAsNew``,
    :class:`InfrastructureFailure` and LocalCloud's simulated container death (``Crash``). The
    engine lets them pass where it turns what user code raises into a recorded failure.
    """


class ContinueAsNew(EngineSignal):
    """Raised by ``ctx.continue_as_new``: finish this execution and start a fresh one.

    Defined beside :class:`EngineSignal` so that ``context`` (which raises it) and ``engine``
    (which catches it) both import it without importing each other.
    """

    def __init__(self, payload: object) -> None:
        super().__init__("continue as new")
        self.payload = payload


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


_R = TypeVar("_R")
_P = ParamSpec("_P")


def _guarded(label: str, fn: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """Call ``fn``; any ``Exception`` but a user-caused size error becomes :class:`InfrastructureFailure`."""
    try:
        return fn(*args, **kwargs)
    except PayloadTooLarge:
        raise
    except Exception as exc:
        raise InfrastructureFailure(label, exc) from exc


class GuardedStore(Store):
    """A :class:`Store` whose every call turns a failure into :class:`InfrastructureFailure`.

    One method per ``Store`` member, written out so the types hold; ``tests/unit/test_guard.py``
    fails when the protocol gains a method this class does not override.
    """

    def __init__(self, target: Store) -> None:
        self.target = target

    def create_execution(self, record: ExecutionRecord) -> bool:
        return _guarded("store.create_execution", self.target.create_execution, record)

    def get_execution(self, execution_id: str, *, consistent: bool = True) -> ExecutionRecord | None:
        return _guarded("store.get_execution", self.target.get_execution, execution_id, consistent=consistent)

    def glance_execution(self, execution_id: str, *, consistent: bool = False) -> ExecutionGlance | None:
        return _guarded("store.glance_execution", self.target.glance_execution, execution_id, consistent=consistent)

    def save_execution(self, record: ExecutionRecord) -> bool:
        return _guarded("store.save_execution", self.target.save_execution, record)

    def list_executions(
        self, workflow: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ExecutionRecord]:
        return _guarded("store.list_executions", self.target.list_executions, workflow, status, limit)

    def list_unfinished(self, status: str, *, after: str | None, limit: int) -> list[ExecutionRecord]:
        return _guarded("store.list_unfinished", self.target.list_unfinished, status, after=after, limit=limit)

    def load_execution(self, execution_id: str) -> tuple[ExecutionRecord | None, list[JournalRecord]]:
        return _guarded("store.load_execution", self.target.load_execution, execution_id)

    def load_journal(self, execution_id: str) -> list[JournalRecord]:
        return _guarded("store.load_journal", self.target.load_journal, execution_id)

    def load_journal_since(self, execution_id: str, after_seq: int, *, dense: bool = False) -> list[JournalRecord]:
        if not dense:
            return _guarded("store.load_journal_since", self.target.load_journal_since, execution_id, after_seq)
        return _guarded(
            "store.load_journal_since", self.target.load_journal_since, execution_id, after_seq, dense=True
        )

    def get_journal(self, execution_id: str, key: str) -> JournalRecord | None:
        return _guarded("store.get_journal", self.target.get_journal, execution_id, key)

    def append_journal(self, execution_id: str, record: JournalRecord) -> bool:
        return _guarded("store.append_journal", self.target.append_journal, execution_id, record)

    def put_journal(self, execution_id: str, record: JournalRecord) -> None:
        _guarded("store.put_journal", self.target.put_journal, execution_id, record)

    def put_item(self, item: Item, *, if_absent: bool = False, if_version: int | None = None) -> bool:
        return _guarded("store.put_item", self.target.put_item, item, if_absent=if_absent, if_version=if_version)

    def get_item(self, pk: str, sk: str) -> Item | None:
        return _guarded("store.get_item", self.target.get_item, pk, sk)

    def query_items(self, pk: str, *, sk_prefix: str = "", sk_from: str | None = None, limit: int = 1000) -> list[Item]:
        return _guarded(
            "store.query_items", self.target.query_items, pk, sk_prefix=sk_prefix, sk_from=sk_from, limit=limit
        )

    def delete_item(self, pk: str, sk: str, *, if_version: int | None = None) -> bool:
        return _guarded("store.delete_item", self.target.delete_item, pk, sk, if_version=if_version)

    def query_index(self, key: str, *, sk_prefix: str = "", limit: int = 100) -> list[Item]:
        return _guarded("store.query_index", self.target.query_index, key, sk_prefix=sk_prefix, limit=limit)


class GuardedEffects(Effects):
    """The :class:`Effects` counterpart of :class:`GuardedStore` (``now`` included: a clock can fail too)."""

    def __init__(self, target: Effects) -> None:
        self.target = target

    def now(self) -> datetime:
        try:  # (``_guarded`` written out: the clock is read for every journal record)
            return self.target.now()
        except Exception as exc:
            raise InfrastructureFailure("effects.now", exc) from exc

    def wake(self, message: WorkMessage) -> None:
        _guarded("effects.wake", self.target.wake, message)

    def invoke_step(self, invocation: StepInvocation) -> None:
        _guarded("effects.invoke_step", self.target.invoke_step, invocation)

    def call_step(self, invocation: StepInvocation) -> WakeMessage | None:
        return _guarded("effects.call_step", self.target.call_step, invocation)

    def schedule_timer(self, name: str, at: datetime, message: WorkMessage) -> None:
        _guarded("effects.schedule_timer", self.target.schedule_timer, name, at, message)

    def cancel_timer(self, name: str) -> None:
        _guarded("effects.cancel_timer", self.target.cancel_timer, name)

    def publish(self, events: Sequence[Event]) -> None:
        _guarded("effects.publish", self.target.publish, events)


def guard_store(store: Store) -> Store:
    """The store, with failures turned into :class:`InfrastructureFailure`.

    (Its class's MRO is looked at rather than ``isinstance``: the port classes are ``typing.Protocol`` subclasses,
    whose ``isinstance`` runs ``_ProtocolMeta.__instancecheck__`` in Python, twice per replay; nothing registers
    virtual subclasses of the wrappers, so the answer is the same.)
    """
    return store if GuardedStore in type(store).__mro__ else GuardedStore(store)


def guard_effects(effects: Effects) -> Effects:
    """The effects, with failures turned into :class:`InfrastructureFailure` (see :func:`guard_store`)."""
    return effects if GuardedEffects in type(effects).__mro__ else GuardedEffects(effects)


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
