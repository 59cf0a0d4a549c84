"""Steps: run inline in the orchestrator, or dispatched to a declared step's own Lambda.

Both kinds record one final ``result``/``error`` record keyed by the step name. A failed
attempt that will be retried records ``{op}#a{k}`` and a durable retry timer; declared steps
also record ``{op}#d{k}`` per dispatch (with a deadline that a timer enforces, so a step whose
Lambda crashed or timed out is noticed).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from stepbridge.api.app import StepDef
from stepbridge.api.retry import DEFAULT_RETRY, Retry
from stepbridge.api.serde import Serde
from stepbridge.errors import (
    StepTimeout,
    WorkflowDefinitionError,
    never_retried,
)
from stepbridge.runtime import keys, payloads, stepcontext
from stepbridge.runtime.codec import content_hash, from_json_value, return_type, to_json_value
from stepbridge.runtime.errorcodec import error_dict, rebuild_error
from stepbridge.runtime.execution_ids import fit_key
from stepbridge.runtime.guard import is_user_failure
from stepbridge.runtime.limits import JOURNAL_PAYLOAD_BYTES, check_json_size
from stepbridge.runtime.loops import run_sync_virtually
from stepbridge.runtime.observability import StepTelemetry
from stepbridge.runtime.operations.actions import Dispatch, Refresh, Run
from stepbridge.runtime.operations.declared import UNSTARTED_DISPATCHES as UNSTARTED_DISPATCHES
from stepbridge.runtime.operations.declared import DeclaredStep
from stepbridge.runtime.operations.declared import retryable as retryable
from stepbridge.runtime.operations.inline import InlineStep
from stepbridge.runtime.operations.interpret import returned
from stepbridge.runtime.ports import Item
from stepbridge.runtime.records import JournalRecord, StepInvocation, iso
from stepbridge.runtime.replay import Replay, current_op
from stepbridge.runtime.stepcover import COVER
from stepbridge.runtime.syncworker import run_in_worker
from stepbridge.runtime.vocabulary import Kind, OpType, Reason, TimerReason

#: Extra time a declared step gets past its timeout before the orchestrator declares it lost
#: (Lambda stops the function at its timeout; this covers queueing of the async invoke).
DEADLINE_GRACE_SECONDS = 60.0


def check_result_size(op: str, data: object) -> int:
    """A step result must fit in one journal item (DynamoDB's 400 KB item limit); returns its JSON size."""
    return check_json_size(data, JOURNAL_PAYLOAD_BYTES, lambda size: (
        f"the result of step '{op}' is {size} bytes, over DynamoDB's 400 KB item limit; "
        "store large data elsewhere (e.g. S3) and return a reference"
    ))


def step_error(exc: BaseException) -> dict[str, Any]:
    """The recorded error of a failed step attempt; ``fatal`` (never retried) for errors no retry can fix.

    Those are the size and serialization errors, definition errors, ``NonRetryableError``, and the
    ``BaseException``s user code raises (``SystemExit``, ``KeyboardInterrupt``, a ``CancelledError``
    of its own): the step's code asked to stop, which running it again would not change.
    """
    err = error_dict(exc)
    if never_retried(exc):
        err["fatal"] = True
    return err


def outcome(rp: Replay, rec: JournalRecord, fn: Callable[..., object] | None) -> Any:
    """Return a recorded result (decoded to ``fn``'s return type) or raise the recorded error."""
    if rec.kind == Kind.ERROR:
        raise rebuild_error(rec.data.get("error") or {}, rec.op)
    value = rec.data.get("result")
    if fn is None:
        return payloads.resolve(value)
    step_def = rp.app.step_for(fn)
    return from_json_value(value, return_type(fn), (step_def.serde if step_def else None) or rp.app.serde)


class _Raised(Exception):
    """Carries an exception out of a timed call so it is not mistaken for the deadline."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(type(exc).__name__)  # not str(exc): user code's __str__ may raise
        self.exc: BaseException | None = exc

    def release(self) -> BaseException:
        """The carried exception, no longer referenced from here: re-raised, it has this carrier as its
        ``__context__``, so a carrier still pointing back (``exc``, ``__cause__``) would make a reference
        cycle over the step's frames (and the replay in their locals) that only the cyclic collector frees."""
        exc, self.exc = self.exc, None
        self.__cause__ = self.__context__ = None
        assert exc is not None
        return exc


async def call_function(
    fn: Callable[..., object], args: Sequence[object], timeout: float | None, *, op: str = ""
) -> object:
    """Call a step function: coroutine functions on the loop, plain functions in a worker thread.

    With ``timeout``, exceeding it raises ``StepTimeout``; a ``TimeoutError`` raised by the
    function itself passes through unchanged (it is the function's own failure).
    """

    async def invoke() -> object:
        if inspect.iscoroutinefunction(fn):
            return await fn(*args)
        if getattr(asyncio.get_running_loop(), "inline_sync", False):
            # LocalCloud's virtual-time loop: a worker thread as in AWS (so the function may run its
            # own event loop, e.g. asyncio.run), but the loop blocks on it instead of turning - an
            # idle turn would jump the virtual clock past the thread's real duration.
            # time.sleep in the function takes virtual time; past ``timeout`` it times out as in AWS.
            error, result, elapsed = run_in_worker(run_sync_virtually, fn, *args)
            if timeout is not None and elapsed > timeout:
                raise StepTimeout(f"step '{op}' timed out after {timeout:g} s")
            if error is not None:
                try:
                    raise error
                finally:
                    error = None  # (its traceback holds this frame: no reference cycle through the local)
        else:
            result = await asyncio.to_thread(fn, *args)
        if inspect.isawaitable(result):
            return await result
        return result

    blocking = not inspect.iscoroutinefunction(fn) and getattr(asyncio.get_running_loop(), "inline_sync", False)
    if timeout is None or blocking:
        # (LocalCloud's loop blocks on a sync function's thread: no timer can fire meanwhile, so none is set.)
        return await invoke()

    async def guarded() -> object:
        try:
            return await invoke()
        except BaseException as exc:
            if not is_user_failure(exc):  # the deadline cancelling this task, or an engine signal
                raise
            raise _Raised(exc) from exc

    # ``asyncio.timeout`` cancels the running task itself (no extra task, unlike ``wait_for``: every inline
    # step is bounded now, by the orchestrator's remaining time at least).
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await guarded()
    except _Raised as carrier:
        raise carrier.release() from None
    except TimeoutError:
        if not deadline.expired():
            raise
        raise StepTimeout(f"step '{op}' timed out after {timeout:g} s") from None


def cache_item_key(op: str, args_json: object, cache_key: str | None) -> str:
    """The cache key of a step call: explicit ``cache_key`` or step name + hash of canonical-JSON arguments."""
    if cache_key:
        return keys.explicit_cache_key(fit_key(cache_key))
    return keys.step_cache_key(op, content_hash(args_json))


async def run_step(
    rp: Replay,
    op: str,
    fn: Callable[..., object],
    args: Sequence[object],
    *,
    timeout: float | None,
    retry: Retry | None,
    cache_ttl: float | None,
    cache_key: str | None,
    at_most_once: bool = False,
) -> Any:
    """The body of ``ctx.step``: replay, cache lookup, inline run or dispatch, retries."""
    if not callable(fn):
        raise WorkflowDefinitionError(f"ctx.step('{op}', ...): the second argument must be a function, got {fn!r}")
    records = rp.request(op, OpType.STEP)
    final = records.get(op)
    if final is not None:
        if cache_ttl and final.kind == Kind.RESULT and final.foreign and rp.log.newly_read(final.key):
            # A declared step's result, read for the first time: this is when it enters the step cache.
            _cache_result(rp, cache_item_key(op, _json_args(op, args), cache_key), op, final, cache_ttl)
        return outcome(rp, final, fn)
    if not records:
        await rp.before_new(op)
    step_def = rp.app.step_for(fn)
    once = at_most_once or bool(step_def and step_def.at_most_once)
    policy = _policy(op, once, retry, step_def)
    args_json = _json_args(op, args, (step_def.serde if step_def else None) or rp.app.serde)

    ckey = cache_item_key(op, args_json, cache_key) if cache_ttl else None
    if ckey is not None:
        hit = rp.store.get_item(keys.cache_pk(ckey), keys.CACHE_SK)
        if hit is not None:
            # Once a declared step was dispatched, its own report may race this record for the key.
            rec = rp.log.record(
                op,
                OpType.STEP,
                Kind.RESULT,
                {"result": hit.body.get("result"), "attempts": 0, "cached": True},
                shared=step_def is not None and bool(records),
            )
            return outcome(rp, rec, fn)

    fake = rp.session.override(op)
    if fake is not None and step_def is None:
        fn = fake
    declared = step_def

    async def attempt() -> JournalRecord:
        # (after a park - runtime/sticky.py - the step decides again from its records, as a replay would)
        if declared is not None:
            return _declared(rp, op, declared, args_json, policy, timeout, once)
        return await _inline(rp, op, fn, args, rp.records(op), policy, timeout, once)

    rec = await rp.settle(op, attempt)
    if ckey is not None and rec.kind == Kind.RESULT and cache_ttl:
        _cache_result(rp, ckey, op, rec, cache_ttl)
    return outcome(rp, rec, fn)


def _policy(op: str, once: bool, retry: Retry | None, step_def: StepDef | None) -> Retry:
    """A step's retry policy: ``retry=``, else the declared step's, else the default; one attempt if at most once."""
    if once and retry is not None and retry.max_attempts > 1:
        raise WorkflowDefinitionError(
            f"step '{op}' is at_most_once, so it is never retried; drop retry= or use Retry(max_attempts=1)"
        )
    return Retry(max_attempts=1) if once else retry or (step_def.retry if step_def else None) or DEFAULT_RETRY


def _json_args(op: str, args: Sequence[Any], serde: Serde | None = None) -> list[Any]:
    """A step call's arguments as JSON values (what is invoked with, and what the cache key hashes)."""
    return [to_json_value(a, what=f"argument {i + 1} of step '{op}'", serde=serde) for i, a in enumerate(args)]


def _cache_result(rp: Replay, ckey: str, op: str, rec: JournalRecord, ttl: float) -> None:
    body = {"result": rec.data.get("result"), "op": op}
    rp.store.put_item(Item(keys.cache_pk(ckey), keys.CACHE_SK, body, expires_at=iso(rp.after(ttl))))


async def _inline(
    rp: Replay,
    op: str,
    fn: Callable[..., object],
    args: Sequence[object],
    records: dict[str, JournalRecord],
    policy: Retry,
    timeout: float | None,
    once: bool = False,
) -> JournalRecord:
    """Run one attempt of an inline step in this invocation, bounded by the Lambda's remaining time.

    **Counting attempts that killed their container.** The common case journals one record per
    step (its outcome). An invocation that dies during the step leaves nothing, so its attempt
    would be run again on every redelivery, for ever. To count such attempts without a write per
    step, an attempt journals a started marker (``{op}#s{k}``) first only when an earlier
    invocation may have died: the message was redelivered (``ApproximateReceiveCount`` > 1), the
    sweeper woke the execution, or an earlier attempt failed (a retry). Finding a marker without an
    outcome means attempt ``k`` was interrupted: it is recorded as a failed attempt
    (``StepTimeout``, "interrupted") and retried under the step's policy (a durable backoff, so a
    fresh invocation); when the attempts are spent the step fails with it. An attempt that kills
    its container on every run therefore runs at most ``max_attempts + 1`` times: the first,
    unmarked run is not counted. (``at_most_once`` steps always journal their marker first, and
    an interrupted one fails with ``StepInterrupted`` at once.)
    """
    step = InlineStep(op, policy, once, f"{rp.execution_id}/{op}", rp.session.suspect)
    action = step.decide(InlineStep.state(op, records), rp.now())  # the sweeper reads the same state
    if not isinstance(action, Run):
        done = returned(rp, op, OpType.STEP, action)
        assert done is not None  # (an inline step's actions end in a suspension or an outcome)
        return done
    if action.marker is not None:
        marker: dict[str, object] = {"attempt": action.attempt}
        remaining = rp.session.remaining
        if remaining is not None:  # until when this invocation may run: Lambda stops it by then
            marker["alive_until"] = iso(rp.now() + timedelta(seconds=max(0.0, remaining())))
        # (durable: a throttled or ambiguous marker write must not cost the attempt it stands for)
        rp.log.record(op, OpType.STEP, Kind.STARTED, marker, key=action.marker, durable=True)
    return await _run_attempt(rp, step, fn, args, action.attempt, timeout)


async def _run_attempt(
    rp: Replay, step: InlineStep, fn: Callable[..., object], args: Sequence[object], attempt: int, timeout: float | None
) -> JournalRecord:
    """Run attempt ``attempt`` now (within the invocation's remaining time) and record its outcome."""
    op = step.op
    limit, by_lambda = timeout, False
    budget = rp.time_left()
    if budget is not None and (limit is None or budget < limit):
        if budget <= 0:
            # Not enough of this invocation left to start the step: go on in a fresh one.
            rp.wake_self(Reason.CONTINUE, keys.continue_dedup(op, attempt, iso(rp.now())))
            rp.suspend()
        limit, by_lambda = budget, True
    token = current_op.set(op)
    step_token = stepcontext.enter(rp.execution_id, op, attempt)
    try:
        with StepTelemetry(rp.execution.workflow, op, rp.execution_id), rp.running_inline():
            value = await call_function(fn, args, limit, op=op)
        data = payloads.store_value(to_json_value(value, what=f"the result of step '{op}'", serde=rp.app.serde),
                                    what=f"the result of step '{op}'")
        size = check_result_size(op, data)
    except BaseException as exc:
        if not is_user_failure(exc):
            raise
        err = step_error(exc)
        if by_lambda and isinstance(exc, StepTimeout) and limit is not None:
            err = error_dict(
                StepTimeout(
                    f"inline step '{op}' did not finish within the orchestrator Lambda's remaining time "
                    f"({limit:g} s for attempt {attempt}); give a step this long its own Lambda "
                    "(@app.step(timeout=...)) or split it"
                )
            )
        done = returned(rp, op, OpType.STEP, step.failed(attempt, err, rp.now()))
        assert done is not None
        return done
    finally:
        stepcontext.leave(step_token)
        current_op.reset(token)
    data_out = {"result": data, "attempts": attempt}
    return rp.log.record(op, OpType.STEP, Kind.RESULT, data_out, data_size=size, durable=True)


def _declared(
    rp: Replay,
    op: str,
    step_def: StepDef,
    args_json: list[object],
    policy: Retry,
    timeout: float | None,
    once: bool = False,
) -> JournalRecord:
    """Decide and act until the declared step has an outcome or the workflow must wait for it."""
    seconds = timeout if timeout is not None else step_def.timeout
    step = DeclaredStep(op, policy, once, seconds, f"{rp.execution_id}/{op}")
    refreshed = False
    while True:
        # The sweeper reads the same state from the same records (``sweeper.waiting``/``stuck_since``).
        action = step.decide(DeclaredStep.state(op, rp.records(op), refreshed=refreshed), rp.now())
        if isinstance(action, Dispatch):
            _dispatch(rp, op, step_def, args_json, action.attempt, timeout, action.once)
            rp.suspend()
        elif isinstance(action, Refresh):
            for key in action.keys:
                if rp.log.fetch(key) is not None:
                    break
            refreshed = True
        else:
            done = returned(rp, op, OpType.STEP, action)
            if done is not None:
                return done


def _dispatch(
    rp: Replay,
    op: str,
    step_def: StepDef,
    args_json: list[object],
    attempt: int,
    timeout: float | None,
    once: bool = False,
) -> None:
    """Record the dispatch, arm the deadline timer, then invoke the step's Lambda asynchronously."""
    seconds = timeout if timeout is not None else step_def.timeout
    deadline = rp.now() + timedelta(seconds=seconds + DEADLINE_GRACE_SECONDS)
    key = keys.dispatch_key(op, attempt)
    # A large argument travels as a claim check (a Lambda async invoke takes 1 MB, limits.py); stored before
    # the dispatch is recorded, so one over the maximum fails the call with nothing half done.
    args = [payloads.store_value(a, what=f"argument {i + 1} of step '{op}'") for i, a in enumerate(args_json)]
    data: dict[str, object] = {"step": step_def.name, "attempt": attempt, "deadline": iso(deadline)}
    # One deadline timer per invocation's dispatches, not one per step (runtime/stepcover.py).
    timer = rp.session.cover_plan().place(deadline)
    if timer is not None:
        data["timer"] = timer
    rp.log.record(op, OpType.STEP, Kind.DISPATCH, data, key=key)
    reason = keys.timer_reason(TimerReason.DEADLINE, op)
    if timer is None:
        rp.set_timer(key, deadline, reason)
    elif timer == COVER:
        rp.set_timer(keys.cover_timer_key(key), deadline, reason)
    rp.effects.invoke_step(
        StepInvocation(
            execution_id=rp.execution_id,
            op=op,
            step=step_def.name,
            args=args,
            attempt=attempt,
            deadline=iso(deadline),
            timeout=timeout,
            at_most_once=once,
            compensation=rp.session.compensating,
            disarm=timer is None,
        )
    )
