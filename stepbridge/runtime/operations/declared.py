"""A declared step: ``@app.step`` functions run in their own Lambda, dispatched and reported asynchronously.

Records (``{op}`` is the step name, ``k`` the attempt): ``{op}#d{k}`` a dispatch with its
``deadline`` (a timer enforces it), ``{op}#a{k}`` a failed attempt (the step's own report, or the
orchestrator's timeout, claimed under the same key), ``{op}#r{k}`` a scheduled retry with its
``retry_at``, and ``{op}`` the final result or error (the step's report, or the orchestrator's
final error, claimed). An ``at_most_once`` step's worker journals ``{op}#started`` before it runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stepbridge.api.retry import Retry
from stepbridge.errors import StepInterrupted, StepTimeout, never_retried_names
from stepbridge.runtime import keys
from stepbridge.runtime.errorcodec import error_dict
from stepbridge.runtime.keys import at_most_once_marker
from stepbridge.runtime.lifecycle import FAILED, FINISHED, NOT_DISPATCHED, RETRY_WAIT, RUNNING, Phase
from stepbridge.runtime.operations.actions import (
    SUSPEND,
    Action,
    Dispatch,
    Record,
    Refresh,
    Return,
    SetTimer,
)
from stepbridge.runtime.records import JournalRecord, iso, parse_iso
from stepbridge.runtime.vocabulary import Kind, TimerReason

#: An ``at_most_once`` declared step whose invocations never started (lost or throttled invokes)
#: is dispatched again up to this many times in all: running it is still at most once.
UNSTARTED_DISPATCHES = 3


@dataclass(frozen=True)
class DeclaredState:
    """Where a declared step stands according to its records.

    ``attempt`` is the latest dispatch (0 before the first); ``dispatch``, ``failure`` and
    ``retry`` are that attempt's ``{op}#d{k}``, ``{op}#a{k}`` and ``{op}#r{k}`` records.

    * ``not_dispatched``: nothing recorded yet;
    * ``running``: dispatched, no outcome of this attempt yet (its deadline is ``dispatch``'s);
    * ``failed``: the attempt is recorded as failed and nothing was decided after it (no retry
      timer, no final error) - only a replay can go on, nothing outstanding will wake it;
    * ``retry_wait``: a retry of the attempt is scheduled (``retry.data["retry_at"]``);
    * ``finished``: the step's final record exists (``final``).

    ``started``: an ``at_most_once`` step's started marker, when read; ``refreshed``: this replay read
    the step's report keys fresh from the store (set by the interpreter, see ``actions.Refresh``).
    """

    phase: Phase
    attempt: int = 0
    dispatch: JournalRecord | None = None
    failure: JournalRecord | None = None
    retry: JournalRecord | None = None
    final: JournalRecord | None = None
    started: JournalRecord | None = None
    refreshed: bool = False


def is_declared(records: Mapping[str, JournalRecord], op: str) -> bool:
    """Whether ``op``'s records are a declared step's (it has a dispatch record)."""
    return keys.dispatch_key(op, 1) in records


@dataclass(frozen=True)
class DeclaredStep:
    """The decisions of one declared step call: ``policy`` (retries), ``once`` (``at_most_once``), ``seconds``
    (an attempt's timeout) and ``seed`` (of the retry delays' jitter: ``{execution_id}/{op}``)."""

    op: str
    policy: Retry
    once: bool
    seconds: float
    seed: str

    @staticmethod
    def state(op: str, records: Mapping[str, JournalRecord], *, refreshed: bool = False) -> DeclaredState:
        """The state of the declared step ``op`` from its records (keyed by record key)."""
        final = records.get(op)
        k = 0
        while keys.dispatch_key(op, k + 1) in records:
            k += 1
        if final is not None and final.is_final:
            return DeclaredState(FINISHED, k, final=final)
        if k == 0:
            return DeclaredState(NOT_DISPATCHED)
        dispatch = records[keys.dispatch_key(op, k)]
        failure = records.get(keys.attempt_key(op, k))
        started = records.get(at_most_once_marker(op))
        if failure is None:
            return DeclaredState(RUNNING, k, dispatch, started=started, refreshed=refreshed)
        retry = records.get(keys.retry_key(op, k))
        phase = RETRY_WAIT if retry is not None else FAILED
        return DeclaredState(phase, k, dispatch, failure, retry, started=started, refreshed=refreshed)

    def decide(self, state: DeclaredState, now: datetime) -> Action:
        """What to do next (the decision table: ``tests/unit/test_operation_declared.py``)."""
        if state.phase == FINISHED:
            return Return(state.final)
        if state.phase == NOT_DISPATCHED:
            return Dispatch(1, self.once)
        if state.failure is None:
            return self._running(state, now)
        k = state.attempt
        if self.once and state.failure.data.get("started") is False and k < UNSTARTED_DISPATCHES:
            return Dispatch(k + 1, self.once)  # it never ran: running it now is still at most once
        err: dict[str, Any] = state.failure.data.get("error") or {}
        if k < self.policy.max_attempts and retryable(self.policy, err):
            if state.retry is None:
                delay = self.policy.delay(k, seed=self.seed)
                at = self.policy.retry_at(now, delay)
                data = {"attempt": k, "retry_at": iso(at), "delay": delay}
                key = keys.retry_key(self.op, k)
                retry_timer = SetTimer(key, at, keys.timer_reason(TimerReason.RETRY, self.op), recorded="retry_at")
                return Record(key, Kind.RETRY, data, then=retry_timer)
            if now < parse_iso(str(state.retry.data["retry_at"])):
                return SUSPEND
            return Dispatch(k + 1)
        return Record(self.op, Kind.ERROR, {"error": err, "attempts": k}, shared=True, then=Return())

    def _running(self, state: DeclaredState, now: datetime) -> Action:
        """Dispatched, no outcome in view: wait for the deadline, then look again, then count it as failed."""
        assert state.dispatch is not None
        k = state.attempt
        if now < parse_iso(str(state.dispatch.data["deadline"])):
            return SUSPEND
        if not state.refreshed:
            # Past the deadline with no report in view: the step may have reported and died before its
            # wake-up went out (only this deadline brings us here then). Read the keys fresh first.
            fresh = (self.op, keys.attempt_key(self.op, k), *((at_most_once_marker(self.op),) if self.once else ()))
            return Refresh(fresh)
        if self.once and state.started is not None:
            return interrupted_record(self.op, k, shared=True)
        what = "was not started" if self.once else "did not report"
        err = error_dict(StepTimeout(f"step '{self.op}' {what} within its {self.seconds:g} s timeout (attempt {k})"))
        data: dict[str, object] = {"error": err, "attempt": k}
        if self.once:
            data["started"] = False
        return Record(keys.attempt_key(self.op, k), Kind.ATTEMPT, data, shared=True)


def interrupted_record(op: str, attempts: int, *, shared: bool = False) -> Record:
    """Fail an ``at_most_once`` step that started but never reported (its effect may have happened).

    ``shared``: the step is declared, so its own Lambda may still record an outcome under the same key.
    """
    err = error_dict(
        StepInterrupted(
            f"step '{op}' is at_most_once and started (attempt {attempts}) but never reported: it crashed or "
            "timed out, so it is not run again; its effect may or may not have happened"
        )
    )
    err["fatal"] = True
    return Record(op, Kind.ERROR, {"error": err, "attempts": attempts}, shared=shared, then=Return())


def retryable(policy: Retry, err: Mapping[str, Any]) -> bool:
    """Whether a recorded error may be retried under ``policy``, judged by its type names (works across processes)."""
    if err.get("fatal"):
        return False
    names = {str(m) for m in err.get("mro") or [err.get("type", "")]}
    if never_retried_names(names):  # the one rule (errors.NEVER_RETRIED)
        return False
    if policy.non_retryable and names & {_dotted(t) for t in policy.non_retryable}:
        return False
    if policy.retry_on:
        return bool(names & {_dotted(t) for t in policy.retry_on})
    return True


def _dotted(tp: type[BaseException]) -> str:
    return f"{tp.__module__}.{tp.__qualname__}"
