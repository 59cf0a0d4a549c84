"""Run one replay of a workflow function against its journal and report what happened.

The workflow coroutine runs on a fresh event loop. It either returns (SUCCEEDED), raises
(FAILED, or CANCELLED when a cancel was requested), or stops at the first operation that must
wait (``Suspend``). After that the engine checks that the code consumed every recorded
operation, which is how a changed workflow is caught before it does damage.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic

from stepbridge.api.app import App, WorkflowDef, input_type_of
from stepbridge.errors import ExecutionCancelled, PayloadTooLarge, WorkflowDefinitionError
from stepbridge.runtime import (
    batchslice,  # noqa: F401 - registers the built-in child-batch workflow
    builtin,
    deadline,
    keys,
    payloads,
)
from stepbridge.runtime.codec import content_hash, to_json_value, validate_input
from stepbridge.runtime.context import Context
from stepbridge.runtime.errorcodec import error_dict
from stepbridge.runtime.guard import ContinueAsNew, EngineSignal, guard_effects, guard_store
from stepbridge.runtime.loops import LoopFactory, close_loop
from stepbridge.runtime.ports import Effects, Item, Store
from stepbridge.runtime.records import ExecutionRecord, JournalRecord, iso
from stepbridge.runtime.replay import Replay, Suspend
from stepbridge.runtime.sticky import Parked
from stepbridge.runtime.vocabulary import Ending, Kind, OpType

# The endings as module constants (older imports); the vocabulary is ``vocabulary.Ending``, and
# ``Ending.status`` is the one mapping to the execution status an ending records.
CONTINUED = Ending.CONTINUED
SUSPENDED = Ending.SUSPENDED
SUCCEEDED = Ending.SUCCEEDED
FAILED = Ending.FAILED
CANCELLED = Ending.CANCELLED


@dataclass
class Outcome:
    """What one replay ended with."""

    kind: Ending
    result: Any = None
    error: dict[str, Any] | None = None
    replay: Replay | None = None
    #: A suspended workflow kept in memory (sticky executions): the orchestrator parks it or closes it.
    parked: Parked | None = None


def _format_validation(workflow: str, exc: pydantic.ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ())) or "(input)"
        parts.append(f"{loc}: {err.get('msg')}")
    return f"invalid input for workflow '{workflow}': " + "; ".join(parts)


def run(
    app: App,
    execution: ExecutionRecord,
    journal: list[JournalRecord],
    store: Store,
    effects: Effects,
    loop_factory: LoopFactory | None = None,
    overrides: Mapping[str, Callable[..., object]] | None = None,
    *,
    suspect: bool = False,
    remaining: Callable[[], float] | None = None,
    pause: Callable[[float], None] | None = None,
    sticky: bool = False,
) -> Outcome:
    """Replay ``execution`` once; never raises for workflow errors (they become the outcome).

    ``sticky``: a waiting operation parks instead of suspending, and a suspended outcome carries the
    parked workflow (``Outcome.parked``, see runtime/sticky.py) for the orchestrator to keep or close.

    ``suspect``: an earlier invocation for this execution may have died (inline steps journal a
    started marker); ``remaining``: seconds left in the Lambda invocation (bounds inline steps);
    ``pause``: how to wait between in-process retries of an inline step's outcome write.
    """
    wf = _workflow(app, execution.workflow)
    if wf is None:
        return Outcome(
            FAILED,
            error={
                "type": "stepbridge.errors.UnknownWorkflowError",
                "message": f"unknown workflow '{execution.workflow}' in app '{app.name}'",
            },
        )
    rp = Replay(
        app=app,
        execution=execution,
        store=guard_store(store),
        effects=guard_effects(effects),
        journal={r.key: r for r in journal},
        overrides=overrides,
        suspect=suspect,
        remaining=remaining,
        pause=pause,
    )
    try:
        value = validate_input(execution.input, input_type_of(wf), wf.serde or app.serde) if wf.takes_input else None
    except pydantic.ValidationError as exc:
        error = {"type": "pydantic_core._pydantic_core.ValidationError", "message": _format_validation(wf.name, exc)}
        return Outcome(FAILED, error=error, replay=rp)
    cache_key = keys.cache_pk(keys.workflow_cache_key(wf.name, content_hash(execution.input))) if wf.cache_ttl else None
    if cache_key is not None:
        cached = _cached_result(rp, store, cache_key, bool(journal))
        if cached is not None:
            return Outcome(SUCCEEDED, result=cached.data.get("result"), replay=rp)
    ctx = Context(rp)
    coro = wf.fn(ctx, value) if wf.takes_input else wf.fn(ctx)
    # (an execution past its deadline or cancelled with compensation unwinds against the journal as it was at the
    # cut: always by replays)
    sticky = sticky and not execution.timed_out and execution.cut is None
    return _conclude(_drive(coro, rp, loop_factory, sticky=sticky, wf=wf, cache_key=cache_key), rp, wf, cache_key)


def resume(
    parked: Parked,
    execution: ExecutionRecord,
    new: list[JournalRecord],
    store: Store,
    effects: Effects,
    *,
    ops: Iterable[str] | None,
    suspect: bool = False,
    remaining: Callable[[], float] | None = None,
) -> Outcome:
    """Go on with a parked workflow (runtime/sticky.py): merge the records ``new`` since it parked into
    its journal view, wake the operations ``ops`` concern (``None``: all) and run it until it ends or
    is quiet again. The outcome is what :func:`run` would have returned for the same journal."""
    rp = parked.rp
    try:
        rp.execution = execution
        rp.store = guard_store(store)
        rp.effects = guard_effects(effects)
        rp.session.resumed(execution, suspect=suspect, remaining=remaining)
        rp.log.resumed(rp.store, rp.effects.now, new)
        woken = set(ops) if ops is not None else None
        if new:  # (a timer's wake-up usually brings no new records)
            rp.session.recorded(r.op for r in new)
            if woken is not None:
                woken.update(r.op for r in new)
        parked.wake(woken)
    except BaseException:
        # (taken out of the journal cache for this wake-up, it is held by nobody else: closed now, not left to the
        # collector, which would end its coroutines - ``finally`` blocks included - at some later point;
        # ``_go_on`` and ``_conclude`` do the same for what fails after this)
        parked.close()
        raise
    assert parked.wf is not None
    return _conclude(_go_on(parked), rp, parked.wf, parked.cache_key)


def _conclude(outcome: Outcome, rp: Replay, wf: WorkflowDef, cache_key: str | None) -> Outcome:
    """The engine's checks, the workflow's result cache and cancellation on a driven workflow's outcome;
    a parked workflow stays parked (``Outcome.parked``) only when the outcome is still a plain suspension
    (and is closed when anything here raises: nobody else holds it yet)."""
    parked = outcome.parked
    try:
        outcome = _judge(outcome, rp, wf)
        if outcome.kind == SUCCEEDED and cache_key is not None and wf.cache_ttl:
            # Too large to cache: the header cannot hold the result either, so the orchestrator fails the execution.
            with contextlib.suppress(PayloadTooLarge):
                expires = iso(rp.after(wf.cache_ttl))
                rp.store.put_item(Item(cache_key, keys.CACHE_SK, {"result": outcome.result}, expires_at=expires))
        outcome = _cancelled(outcome, rp)
    except BaseException:
        if parked is not None:
            parked.close()
        raise
    outcome.replay = rp
    if parked is not None:
        if outcome.kind == SUSPENDED and not parked.task.done() and rp.session.fatal is None:
            outcome.parked = parked
        else:
            parked.close()
    return outcome


def _cancelled(outcome: Outcome, rp: Replay) -> Outcome:
    """A finished replay of an execution whose cancellation was requested ends CANCELLED, or TIMED_OUT when
    its deadline passed (runtime/deadline.py), unless the workflow's definition is at fault."""
    if not rp.session.cancelling or isinstance(rp.session.fatal, WorkflowDefinitionError):
        return outcome
    if rp.execution.timed_out and outcome.kind in (FAILED, SUCCEEDED, CANCELLED):
        return Outcome(Ending.TIMED_OUT, result=outcome.result, error=deadline.error(rp.execution))
    if outcome.kind in (FAILED, SUCCEEDED):
        return Outcome(
            CANCELLED,
            result=outcome.result,
            error={"type": "stepbridge.errors.ExecutionCancelled", "message": "cancelled"},
        )
    return outcome


def _workflow(app: App, name: str) -> WorkflowDef | None:
    """The workflow ``name`` of ``app``, or the built-in workflow of one of its state machines."""
    wf = app.workflows.get(name)
    if wf is None:
        from stepbridge.runtime.machines import workflow_for

        wf = workflow_for(app, name) or builtin.builtin_workflow(app, name)
    return wf


def _cached_result(rp: Replay, store: Store, cache_key: str, has_journal: bool) -> JournalRecord | None:
    """A cached workflow's recorded cache hit, or a new one recorded from the cache (first replay only)."""
    cached = rp.log.journal.get(keys.CACHE_OP)
    if cached is None and not has_journal:
        hit = store.get_item(cache_key, keys.CACHE_SK)
        if hit is not None:
            data = {"result": hit.body.get("result")}
            cached = rp.log.record(keys.CACHE_OP, OpType.CACHE, Kind.RESULT, data, key=keys.CACHE_OP)
    return cached


def _judge(outcome: Outcome, rp: Replay, wf: WorkflowDef) -> Outcome:
    """The replay's outcome once the engine's own checks had their say: a swallowed suspension still
    suspends, skipped recorded operations and fatal errors fail it, and a result must be JSON."""
    fatal = rp.session.fatal
    if outcome.kind in (SUCCEEDED, FAILED, CONTINUED) and fatal is None and rp.session.swallowed_suspension():
        outcome = Outcome(SUSPENDED)  # user code caught the suspension: the workflow still waits
    if outcome.kind != SUSPENDED or fatal is None:
        # A stored value that is gone stops the replay where it was needed: that, not the path cut short, is why.
        missing = outcome.kind == FAILED and (outcome.error or {}).get("type") == payloads.MISSING_TYPE
        problem = rp.nondeterminism() if fatal is None and not missing else None
        if problem is not None:
            outcome = Outcome(FAILED, error=error_dict(problem))
    if fatal is not None:
        outcome = Outcome(FAILED, error=error_dict(fatal))
    if outcome.kind == SUCCEEDED:
        try:
            what = f"the result of workflow '{wf.name}'"
            result = to_json_value(outcome.result, what=what, serde=wf.serde or rp.app.serde)
            outcome.result = payloads.store_value(result, what=what)
        except Exception as exc:
            outcome = Outcome(FAILED, error=error_dict(exc))
    return outcome


def _drive(
    coro: Coroutine[object, object, object],
    rp: Replay,
    loop_factory: LoopFactory | None,
    *,
    sticky: bool = False,
    wf: WorkflowDef | None = None,
    cache_key: str | None = None,
) -> Outcome:
    loop = (loop_factory or asyncio.new_event_loop)()
    if sticky and Parked.supports(loop):
        parked = Parked(loop, rp, coro)
        parked.wf, parked.cache_key = wf, cache_key
        rp.parker = parked
        return _go_on(parked)
    # The replay allocates many long-lived objects (the journal, results); the cyclic collector
    # would scan that growing heap again and again (measured: 2.37x time for 2x steps at 10,000
    # steps, 1.98x without it). Reference counting still frees everything acyclic; the collector
    # runs again as soon as the invocation's replay is over.
    with _no_cyclic_gc():
        try:
            return _ended(rp, lambda: loop.run_until_complete(coro))
        finally:
            close_loop(loop)


def _go_on(parked: Parked) -> Outcome:
    """Run a parked workflow's loop until it ends (its outcome) or is quiet (suspended, still parked)."""
    with _no_cyclic_gc():
        try:
            parked.run()
        except (SystemExit, KeyboardInterrupt):
            # asyncio re-raises these out of the loop after setting them on the task: the workflow body raised
            # them (the outcome below names the type), unless the task is still running (a real interrupt).
            if not parked.task.done():
                parked.close()
                raise
        except BaseException:
            parked.close()
            raise
        if parked.signal is not None and not parked.task.done():
            parked.close()
            raise parked.signal  # a branch hit an infrastructure failure: the message is redelivered
        if not parked.task.done():
            return Outcome(SUSPENDED, parked=parked)
        try:
            return _ended(parked.rp, parked.task.result)
        finally:
            parked.close()


@contextlib.contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _ended(rp: Replay, result_of: Callable[[], object]) -> Outcome:
    """The outcome of the workflow coroutine whose result (or exception) ``result_of`` gives."""
    try:
        result = result_of()
        return Outcome(SUCCEEDED, result=result)
    except Suspend as suspend:
        suspend.__traceback__ = None
        suspend.consumed = True
        return Outcome(SUSPENDED)
    except ContinueAsNew as cont:
        return Outcome(CONTINUED, result=cont.payload)
    except ExecutionCancelled as exc:
        return Outcome(CANCELLED, error=error_dict(exc))
    except WorkflowDefinitionError as exc:
        rp.session.note_fatal(exc)
        return Outcome(FAILED, error=error_dict(exc))
    except Exception as exc:
        return Outcome(FAILED, error=error_dict(exc))
    except EngineSignal:
        raise  # an infrastructure failure or a (simulated) container death: the message is redelivered
    except BaseException as exc:
        # SystemExit, KeyboardInterrupt, CancelledError, GeneratorExit ... raised by the workflow body:
        # its failure, named by type, never the orchestrator's (which would stall the whole batch).
        return Outcome(FAILED, error=error_dict(exc))
