"""``ctx.map`` and ``ctx.gather``: many operations at once, and completion policies that decide a batch early.

Without ``completion=`` both behave as they always did: every item runs, results come back in
item order and the first failure (by position) is raised. With ``completion=Completion(...)``
(stepbridge/api/completion.py) they return a :class:`~stepbridge.api.completion.BatchResult`,
and the batch may be *decided* before every item finished (enough successes, too many failures):

* items not started yet are never started;
* items in flight are **abandoned**: the batch does not wait for them. A step item in flight gets
  a final ``error`` record ``BatchItemAbandoned`` (``abandoned: true``) under its own key - claimed
  like a declared step's timeout, so a late report of the step loses the claim and is dropped,
  and the sweeper sees nothing outstanding. A late outcome that won the race (recorded before the
  abandon claim, or read only by a later replay) is ignored and noted as such: a ``$batch:{name}``
  record of kind ``ignored`` (``Batch.ignored`` in the history);
* the decision itself is journaled first (``$batch:{name}``, kind ``decided``: reason, how many
  items were started, which were abandoned). Every later replay rebuilds the same
  ``BatchResult`` from that record and the items' own records, whatever arrived since: the
  decision never changes. A crash between the decision and the abandon records is repaired by the
  next replay (it writes the missing ones).

The batch decides only from the items' outcomes as their awaits return, not from how an
operation waits (a ``Suspend`` today; a parked future with sticky executions): a waiting item
counts as in flight. ``ctx.gather`` branches are arbitrary awaitables; the operations each branch
asks for are tracked (``session.op_watchers``) so that a branch abandoned by the decision starts
nothing new on any later replay. Abandoned waits, sleeps and children are left as they are (a child
runs to its end, a wait keeps its waiter until its timeout); only their outcome is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from stepbridge.api.completion import (
    ABANDONED,
    FAILED,
    NOT_STARTED,
    SUCCEEDED,
    BatchItem,
    BatchResult,
    Completion,
)
from stepbridge.errors import BatchItemAbandoned, NonDeterminismError, WorkflowDefinitionError
from stepbridge.runtime import batchchildren, keys, steps
from stepbridge.runtime.errorcodec import error_dict
from stepbridge.runtime.guard import EngineSignal
from stepbridge.runtime.records import JournalRecord
from stepbridge.runtime.replay import Replay, Suspend, branch_scope
from stepbridge.runtime.session import op_watchers
from stepbridge.runtime.stepcover import own_timer
from stepbridge.runtime.vocabulary import Kind, OpType

#: Runs item ``i`` of a map as the step ``op`` with ``value``: ``ctx.step(op, fn, value, ...)``.
ItemRunner = Callable[[str, object], Awaitable[Any]]


class _Refused(EngineSignal):
    """A branch abandoned by its batch's decision asked for a new operation: it stops there (never caught
    by ``except Exception``) and its outcome is ignored."""


# ---- gather ------------------------------------------------------------------------------------------


async def gather(rp: Replay, awaitables: Sequence[Awaitable[Any]], completion: Completion | None) -> Any:
    """The body of ``ctx.gather`` (see the module doc)."""
    if completion is None:
        return await _gather_all(rp, awaitables)
    return await _gather_policy(rp, awaitables, completion)


async def _gather_all(rp: Replay, awaitables: Sequence[Awaitable[Any]]) -> list[Any]:
    """Every branch to its end; the first failure (by position) is raised once every branch finished or waits."""
    scope = branch_scope.get()

    async def branch(index: int, aw: Awaitable[object]) -> object:
        branch_scope.set(f"{scope}{index}.")
        return await aw

    tasks = [asyncio.ensure_future(branch(i, aw)) for i, aw in enumerate(awaitables)]
    await rp.branches_settled(tasks, scope)  # (sticky executions: runtime/sticky.py)
    results = await asyncio.gather(*tasks, return_exceptions=True)
    for r in results:
        if isinstance(r, Suspend):
            r.__traceback__ = None  # no frame cycle: the finished branch task is freed at once
            r.consumed = True  # settled here: a failure of another branch may win over it
    return _settle(list(results))


def _settle(results: list[object]) -> list[object]:
    for r in results:
        if isinstance(r, Exception):
            raise r
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, Suspend):
            raise r  # infrastructure failure: abandon the invocation, it is retried
    for r in results:
        if isinstance(r, Suspend):
            r.consumed = False  # on its way to the engine again
            raise r
    return results


async def _gather_policy(rp: Replay, awaitables: Sequence[Awaitable[Any]], completion: Completion) -> BatchResult[Any]:
    total = len(awaitables)
    completion.check_total(total, "ctx.gather")
    batch_op = rp.session.auto_name("$batch")
    rp.session.mark(batch_op, OpType.BATCH)
    decided = rp.records(batch_op).get(batch_op)
    abandoned_before = set(_ints(decided.data.get("abandoned"))) if decided else set()
    owned: list[list[str]] = [[] for _ in range(total)]
    scope = branch_scope.get()

    def watcher(index: int) -> Callable[[str], None]:
        def watch(op: str) -> None:
            owned[index].append(op)
            if index in abandoned_before and not op.startswith("$batch") and not rp.records(op):
                raise _Refused()  # a new operation in a branch the recorded decision abandoned

        return watch

    async def branch(index: int, aw: Awaitable[object]) -> object:
        branch_scope.set(f"{scope}{index}.")
        op_watchers.set((*op_watchers.get(), watcher(index)))
        return await aw

    tasks: dict[asyncio.Future[object], int] = {}
    for i, aw in enumerate(awaitables):
        tasks[asyncio.ensure_future(branch(i, aw))] = i
    items: list[BatchItem[Any]] = [BatchItem(i, NOT_STARTED) for i in range(total)]
    if decided is not None:
        return await _gather_replay(rp, batch_op, tasks, items, owned, decided, completion)
    pending = dict(tasks)  # (the branches not finished yet; ``_take`` removes each one that finishes)
    held: list[int] = []
    reason = completion.decide(0, 0, 0) if total == 0 else None
    while reason is None and pending:
        done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        _take(done, pending, held, items)
        reason = completion.decide(*_counts(items), total)
    if reason is None:
        rp.suspend()  # every branch finished or waits, and the policy has not decided: wait for the rest
    in_flight = sorted([*pending.values(), *held])
    if in_flight:
        _abandon(pending)
        await asyncio.gather(*pending, return_exceptions=True)  # the cancellations land before anything is recorded
        _record_decision(rp, batch_op, reason, total, total, in_flight, items)
        for index in in_flight:
            items[index] = BatchItem(index, ABANDONED)
            for op in owned[index]:
                _abandon_step(rp, op, batch_op, index)
    return BatchResult(items, reason, completion)


async def _gather_replay(
    rp: Replay,
    batch_op: str,
    tasks: dict[asyncio.Future[object], int],
    items: list[BatchItem[Any]],
    owned: list[list[str]],
    decided: JournalRecord,
    completion: Completion,
) -> BatchResult[Any]:
    """A replay after the decision: every branch runs again so it asks for its recorded operations; the ones the
    decision counted return their recorded outcomes, the abandoned ones start nothing new and are ignored."""
    abandoned = set(_ints(decided.data.get("abandoned")))
    await asyncio.wait(tasks)
    for fut, index in tasks.items():
        exc = fut.exception()
        if index in abandoned:
            if isinstance(exc, Suspend):
                _consume(exc)
            items[index] = BatchItem(index, ABANDONED)
            for op in owned[index]:
                _abandon_step(rp, op, batch_op, index)
        elif exc is not None and not isinstance(exc, Exception):
            raise exc  # a counted branch finished before the decision: it cannot wait now; an engine signal
        else:
            items[index] = _item(index, fut)
    return BatchResult(items, str(decided.data.get("reason")), completion)


# ---- map ---------------------------------------------------------------------------------------------


async def map_items(
    rp: Replay,
    name: str,
    items: Iterable[object],
    fn: Callable[..., object],
    run_item: ItemRunner,
    *,
    concurrency: int,
    completion: Completion | None,
    timeout: float | None = None,
    retry: object = None,
) -> Any:
    """The body of ``ctx.map`` (see the module doc); over ``CHILD_BATCH_ITEMS`` declared-step items it runs in
    child batches (runtime/batchchildren.py)."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise WorkflowDefinitionError(f"ctx.map('{name}'): concurrency must be an int >= 1, got {concurrency!r}")
    values = list(items)
    if batchchildren.splits(rp, fn, len(values), retry):
        return await batchchildren.map_in_children(
            rp, name, values, fn, concurrency=concurrency, timeout=timeout, completion=completion
        )
    if completion is None:
        return await map_all(rp, name, values, fn, run_item, concurrency)
    return await map_with_policy(rp, name, values, fn, run_item, concurrency, completion)


async def map_all(
    rp: Replay,
    name: str,
    values: list[object],
    fn: Callable[..., object],
    run_item: ItemRunner,
    concurrency: int,
    offset: int = 0,
) -> list[Any]:
    """Every item, at most ``concurrency`` outstanding; the first failure (by position) is raised at the end.

    ``offset``: the items are ``{name}-{offset}`` ... (a child batch runs a slice of a large map:
    runtime/batchslice.py calls this directly).
    """
    results: list[object] = [None] * len(values)
    errors: list[tuple[int, BaseException]] = []
    held = 0
    next_index = 0
    running: dict[asyncio.Future[object], int] = {}
    scope = branch_scope.get()

    async def one(index: int) -> object:
        branch_scope.set(f"{scope}{index}.")
        return await run_item(f"{name}-{offset + index}", values[index])

    def may_start(index: int) -> bool:
        # After an error no new item starts, but items a replay before recorded still do: the code
        # must ask for every recorded operation (they return what they recorded, running nothing).
        return not errors or bool(rp.records(f"{name}-{offset + index}"))

    while next_index < len(values) or running:
        while next_index < len(values) and may_start(next_index) and (errors or len(running) + held < concurrency):
            recorded = _recorded(rp, f"{name}-{offset + next_index}", next_index, fn)
            if recorded is None:
                running[asyncio.ensure_future(one(next_index))] = next_index
            elif recorded.status == FAILED:
                assert recorded.error is not None
                errors.append((next_index, recorded.error))
            else:
                results[next_index] = recorded.result
            next_index += 1
        if not running:
            break
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        held += _collect(done, running, results, errors)
        if errors and running:  # (sticky executions: items that wait are settled as a replay would)
            await rp.unwind_waiting({f: f"{scope}{i}." for f, i in running.items()})
    if errors:
        raise _first_error(errors)
    if held or next_index < len(values):
        rp.suspend()
    return results


async def map_with_policy(
    rp: Replay,
    name: str,
    values: list[object],
    fn: Callable[..., object],
    run_item: ItemRunner,
    concurrency: int,
    completion: Completion,
    *,
    offset: int = 0,
    decide: Callable[[int, int], str | None] | None = None,
) -> BatchResult[Any]:
    """Items under a completion policy. ``offset`` and ``decide``: a child batch runs a slice of a large map
    (runtime/batchslice.py calls this directly) and decides with the counts of the slices before it
    (``decide(succeeded, failed)`` of this slice)."""
    total = len(values)
    if decide is None:
        completion.check_total(total, f"ctx.map('{name}')")
        decide = lambda succeeded, failed: completion.decide(succeeded, failed, total)  # noqa: E731
    batch_op = keys.batch_op(name)
    rp.session.mark(batch_op, OpType.BATCH)
    decided = rp.records(batch_op).get(batch_op)
    if decided is not None:
        return _map_replay(rp, name, batch_op, total, fn, decided, completion, offset)
    items: list[BatchItem[Any]] = [BatchItem(i, NOT_STARTED) for i in range(total)]
    held: list[int] = []
    next_index = 0
    running: dict[asyncio.Future[object], int] = {}
    scope = branch_scope.get()

    async def one(index: int) -> object:
        branch_scope.set(f"{scope}{index}.")
        return await run_item(f"{name}-{offset + index}", values[index])

    reason = decide(0, 0) if total == 0 else None
    while reason is None and (next_index < total or running):
        while reason is None and next_index < total and len(running) + len(held) < concurrency:
            recorded = _recorded(rp, f"{name}-{offset + next_index}", next_index, fn)
            if recorded is None:
                running[asyncio.ensure_future(one(next_index))] = next_index
            else:
                items[next_index] = recorded
                reason = decide(*_counts(items))
            next_index += 1
        if reason is not None:
            break
        if not running:
            break
        done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
        _take(done, running, held, items)
        reason = decide(*_counts(items))
    if reason is None:
        rp.suspend()  # items wait (their slots stay held) and the policy has not decided yet
    return await _conclude(rp, name, batch_op, offset, next_index, running, held, items, reason, completion, fn)


def _take(
    done: set[asyncio.Future[object]],
    running: dict[asyncio.Future[object], int],
    held: list[int],
    items: list[BatchItem[Any]],
) -> None:
    """Collect finished items in item order: one that waits keeps its slot (``held``); an infrastructure failure
    abandons the whole batch and propagates."""
    for fut in sorted(done, key=running.__getitem__):  # item order, not the set's (memory addresses)
        index = running.pop(fut)
        exc = fut.exception()
        if isinstance(exc, Suspend):
            _consume(exc)
            held.append(index)
        elif exc is not None and not isinstance(exc, Exception):
            _abandon([*running, *(d for d in done if d is not fut)])
            raise exc
        else:
            items[index] = _item(index, fut)


async def _conclude(
    rp: Replay,
    name: str,
    batch_op: str,
    offset: int,
    next_index: int,
    running: dict[asyncio.Future[object], int],
    held: list[int],
    items: list[BatchItem[Any]],
    reason: str,
    completion: Completion,
    fn: Callable[..., object],
) -> BatchResult[Any]:
    """The map is decided: record the decision and abandon the items in flight (late results are ignored)."""
    total = len(items)
    in_flight = sorted([*running.values(), *held])
    # Items a replay before started but this one had not reached yet (slots were held) were started too.
    while next_index < total and rp.records(f"{name}-{offset + next_index}"):
        in_flight.append(next_index)
        next_index += 1
    if not in_flight and next_index == total:
        return BatchResult(items, reason, completion)  # nothing left to abandon: nothing to record
    _abandon(running)
    await asyncio.gather(*running, return_exceptions=True)
    abandoned: list[int] = []
    for index in in_flight:
        op = f"{name}-{offset + index}"
        rp.session.mark(op, OpType.STEP)  # asked for (a cancelled task may never have run)
        final = rp.records(op).get(op)
        if final is not None and final.is_final and not final.data.get("abandoned"):
            items[index] = _recorded_item(rp, index, final, fn)  # finished before the decision: it counts
        else:
            abandoned.append(index)
    _record_decision(rp, batch_op, reason, total, next_index, abandoned, items)
    for index in abandoned:
        items[index] = BatchItem(index, ABANDONED)
        _abandon_step(rp, f"{name}-{offset + index}", batch_op, index)
    return BatchResult(items, reason, completion)


def _map_replay(
    rp: Replay,
    name: str,
    batch_op: str,
    total: int,
    fn: Callable[..., object],
    decided: JournalRecord,
    completion: Completion,
    offset: int = 0,
) -> BatchResult[Any]:
    """A replay after the decision: the result is rebuilt from the decision and the items' records alone."""
    started = int(str(decided.data.get("started", 0)))
    abandoned = set(_ints(decided.data.get("abandoned")))
    items: list[BatchItem[Any]] = [BatchItem(i, NOT_STARTED) for i in range(total)]
    for index in range(min(started, total)):
        op = f"{name}-{offset + index}"
        final = rp.request(op, OpType.STEP).get(op)
        if index in abandoned:
            items[index] = BatchItem(index, ABANDONED)
            _abandon_step(rp, op, batch_op, index)
        elif final is None or not final.is_final:
            rp.session.fail(
                NonDeterminismError(
                    f"ctx.map('{name}') in execution '{rp.execution_id}': the recorded batch decision counted item "
                    f"{index} but the journal holds no outcome of '{op}' (did the items change?)"
                )
            )
        else:
            items[index] = _recorded_item(rp, index, final, fn)
    return BatchResult(items, str(decided.data.get("reason")), completion)


# ---- shared pieces -----------------------------------------------------------------------------------


def _record_decision(
    rp: Replay,
    batch_op: str,
    reason: str,
    total: int,
    started: int,
    abandoned: list[int],
    items: list[BatchItem[Any]],
) -> None:
    """Journal the decision before anything acts on it (``Batch.decided`` in the history)."""
    succeeded, failed = _counts(items)
    data: dict[str, object] = {
        "reason": reason,
        "total": total,
        "started": started,
        "abandoned": abandoned,
        "succeeded": succeeded,
        "failed": failed,
    }
    rp.log.record(batch_op, OpType.BATCH, Kind.DECIDED, data)


def _abandon_step(rp: Replay, op: str, batch_op: str, index: int) -> None:
    """Give the in-flight step ``op`` its final "abandoned" record (claimed like a timeout when a Lambda may
    report to it), or note that an outcome it recorded after the decision was ignored. Idempotent."""
    records = rp.records(op)
    if not records or not any(r.type == OpType.STEP for r in records.values()):
        return  # not a step (a wait, a sleep, a child: left as they are), or never recorded: nothing runs it again
    final = records.get(op)
    if final is None or not final.is_final:
        declared = any(r.kind == Kind.DISPATCH for r in records.values())
        message = f"'{op}' was in flight when batch '{batch_op[1:]}' was decided; a later outcome is ignored"
        error = error_dict(BatchItemAbandoned(message))
        data: dict[str, object] = {"error": error, "abandoned": True, "batch": batch_op}
        final = rp.log.record(op, OpType.STEP, Kind.ERROR, data, shared=declared)
        if declared:
            _disarm(rp, op, records)
    if final.data.get("abandoned"):
        return
    late = keys.batch_late_key(batch_op, index)
    if late not in rp.records(batch_op):
        rp.log.record(batch_op, OpType.BATCH, Kind.IGNORED, {"item": index, "op": op, "outcome": final.kind}, key=late)


def _disarm(rp: Replay, op: str, records: dict[str, JournalRecord]) -> None:
    """Delete the abandoned step's deadline timer (best effort: a leftover one only causes an idle replay)."""
    k = 0
    while keys.dispatch_key(op, k + 1) in records:
        k += 1
    dispatch = records.get(keys.dispatch_key(op, k))
    if dispatch is not None and not own_timer(dispatch):
        return  # a deadline timer shared with other steps (runtime/stepcover.py): not this step's to delete
    with contextlib.suppress(Exception):
        rp.effects.cancel_timer(rp.timer_name(keys.dispatch_key(op, k)))


def _recorded(rp: Replay, op: str, index: int, fn: Callable[..., object]) -> BatchItem[Any] | None:
    """The item's outcome when the journal holds it, taken without a task (``None``: run it as a task).

    Every replay of a map re-reads the items recorded so far; this is what ``ctx.step`` returns for
    them (``steps.run_step``: claim the name, decode the final record), without the task, the
    context copy and the event-loop turns per item.
    """
    final = rp.records(op).get(op)
    if final is None:
        return None
    rp.request(op, OpType.STEP)
    return _recorded_item(rp, index, final, fn)


def _recorded_item(rp: Replay, index: int, final: JournalRecord, fn: Callable[..., object]) -> BatchItem[Any]:
    try:
        return BatchItem(index, SUCCEEDED, result=steps.outcome(rp, final, fn))
    except Exception as exc:
        return BatchItem(index, FAILED, error=exc)


def _item(index: int, fut: asyncio.Future[object]) -> BatchItem[Any]:
    exc = fut.exception()
    if exc is not None:
        return BatchItem(index, FAILED, error=exc)
    return BatchItem(index, SUCCEEDED, result=fut.result())


def _counts(items: list[BatchItem[Any]]) -> tuple[int, int]:
    succeeded = sum(1 for i in items if i.status == SUCCEEDED)
    return succeeded, sum(1 for i in items if i.status == FAILED)


def _ints(value: object) -> list[int]:
    return [int(v) for v in value] if isinstance(value, list) else []


def _consume(signal: Suspend) -> None:
    signal.__traceback__ = None  # no frame cycle: the finished task is freed at once
    signal.consumed = True  # settled here: the batch suspends itself, or decides without it


def _first_error(errors: list[tuple[int, BaseException]]) -> BaseException:
    """The error a failed ``ctx.map`` raises: the first fatal one, else the first by item position."""
    errors.sort(key=lambda e: e[0])
    fatal = [e for _, e in errors if not isinstance(e, Exception)]
    return fatal[0] if fatal else errors[0][1]


def _collect(
    done: set[asyncio.Future[object]],
    running: dict[asyncio.Future[object], int],
    results: list[object],
    errors: list[tuple[int, BaseException]],
) -> int:
    """Take the finished items of a ``ctx.map`` out of ``running`` into ``results``/``errors``; returns how many
    are waiting (a suspension keeps its slot held). An infrastructure failure abandons the rest and is raised."""
    held = 0
    for fut in sorted(done, key=running.__getitem__):  # item order, not the set's (memory addresses)
        index = running.pop(fut)
        exc = fut.exception()
        if isinstance(exc, Suspend):
            _consume(exc)
            held += 1
        elif exc is not None and not isinstance(exc, Exception):
            _abandon([*running, *(d for d in done if d is not fut)])
            raise exc
        elif exc is not None:
            errors.append((index, exc))
        else:
            results[index] = fut.result()
    return held


def _abandon(futures: Iterable[asyncio.Future[object]]) -> None:
    """Stop branches this invocation will not wait for: cancel the running ones, read the outcome of finished
    ones, so no "exception was never retrieved" is logged."""
    for fut in futures:
        if fut.done():
            if not fut.cancelled():
                fut.exception()
        else:
            fut.cancel()
