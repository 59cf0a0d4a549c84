"""An inline step: a plain function run in the orchestrator's invocation.

Records: ``{op}`` the final result or error; ``{op}#a{k}`` a failed attempt with its ``retry_at`` (a
durable retry timer stands for it); ``{op}#s{k}`` the started marker of attempt ``k``, journaled
before it runs when an earlier invocation may have died (``{op}#started`` for an ``at_most_once``
step, before every run). A marker without an outcome means the attempt was interrupted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from stepbridge.api.retry import Retry
from stepbridge.errors import StepTimeout
from stepbridge.runtime import keys
from stepbridge.runtime.errorcodec import error_dict
from stepbridge.runtime.keys import at_most_once_marker, started_marker
from stepbridge.runtime.lifecycle import FINISHED, INTERRUPTED, NOT_STARTED, RETRY_WAIT, Phase
from stepbridge.runtime.operations.actions import SUSPEND, Action, Record, Return, Run, SetTimer
from stepbridge.runtime.operations.declared import interrupted_record, retryable
from stepbridge.runtime.records import JournalRecord, iso, parse_iso
from stepbridge.runtime.vocabulary import Kind, TimerReason


@dataclass(frozen=True)
class InlineState:
    """Where an inline step stands according to its records.

    ``attempt`` is the attempt to run next (failed attempts + 1), ``failure`` the latest failed
    attempt's ``{op}#a{k}`` record (with its ``retry_at``), ``started`` the marker of attempt
    ``attempt`` if one was journaled.

    * ``not_started``: nothing recorded (or only what a cache hit or earlier phases left);
    * ``retry_wait``: attempt ``attempt - 1`` failed; the next one runs at ``failure.data["retry_at"]``;
    * ``interrupted``: attempt ``attempt`` was started (its marker is journaled) and no outcome of it
      was - the invocation running it died (its container was killed, ran out of memory or time);
    * ``finished``: the step's final record exists (``final``).
    """

    phase: Phase
    attempt: int = 1
    failure: JournalRecord | None = None
    started: JournalRecord | None = None
    final: JournalRecord | None = None


#: The state of a step without records (a frozen value, shared).
_NEVER_RAN = InlineState(NOT_STARTED)


@dataclass(frozen=True)
class InlineStep:
    """The decisions of one inline step call: ``policy`` (retries), ``once`` (``at_most_once``), ``seed`` (of the
    retry delays' jitter) and ``suspect`` (an earlier invocation of the execution may have died)."""

    op: str
    policy: Retry
    once: bool
    seed: str
    suspect: bool = False

    @staticmethod
    def state(op: str, records: Mapping[str, JournalRecord]) -> InlineState:
        """The state of the inline step ``op`` from its records (keyed by record key)."""
        if not records:  # a step that never ran (most calls): nothing to look up
            return _NEVER_RAN
        final = records.get(op)
        if final is not None and final.is_final:
            return InlineState(FINISHED, final=final)
        failed = 0
        while keys.attempt_key(op, failed + 1) in records:
            failed += 1
        attempt = failed + 1
        failure = records.get(keys.attempt_key(op, failed)) if failed else None
        started = records.get(started_marker(op, attempt)) or records.get(at_most_once_marker(op))
        if started is not None:
            return InlineState(INTERRUPTED, attempt, failure, started)
        return InlineState(RETRY_WAIT if failure is not None else NOT_STARTED, attempt, failure)

    def decide(self, state: InlineState, now: datetime) -> Action:
        """What to do before running (the decision table: ``tests/unit/test_operation_inline.py``)."""
        if state.phase == FINISHED:
            return Return(state.final)
        if (
            state.phase == RETRY_WAIT
            and state.failure is not None
            and now < parse_iso(str(state.failure.data["retry_at"]))
        ):
            return SUSPEND
        attempt = state.attempt
        if state.phase == INTERRUPTED:
            assert state.started is not None
            alive_until = state.started.data.get("alive_until")
            if alive_until and now < parse_iso(str(alive_until)):
                # The invocation that started it may still be running (a redelivery that raced it, e.g. after
                # its message's visibility timeout): decide once Lambda has surely stopped it.
                reason = keys.timer_reason(TimerReason.INTERRUPTED, self.op)
                return SetTimer(state.started.key, parse_iso(str(alive_until)), reason)
            if self.once:
                return interrupted_record(self.op, attempt)
            lost = StepTimeout(
                f"inline step '{self.op}' was interrupted: the orchestrator Lambda stopped while attempt {attempt} "
                "ran (its container died, ran out of memory or reached its timeout) before its outcome was journaled"
            )
            return self.failed(attempt, error_dict(lost), now, interrupted=True)
        if self.once:
            # At most once: the marker is journaled before the function runs; finding it means an
            # earlier invocation started the function and died before journaling its outcome.
            return Run(attempt, at_most_once_marker(self.op))
        return Run(attempt, started_marker(self.op, attempt) if self.suspect or attempt > 1 else None)

    def failed(self, attempt: int, err: dict[str, Any], now: datetime, *, interrupted: bool = False) -> Record:
        """After attempt ``attempt`` failed with ``err``: record it and arm a durable retry, or record the final error.

        ``interrupted``: the attempt was found started by an invocation that died (its record says so).
        """
        flag = {"interrupted": True} if interrupted else {}
        if attempt < self.policy.max_attempts and retryable(self.policy, err):
            delay = self.policy.delay(attempt, seed=self.seed)
            retry_at = self.policy.retry_at(now, delay)
            key = keys.attempt_key(self.op, attempt)
            data = {"error": err, "attempt": attempt, "retry_at": iso(retry_at), "delay": delay, **flag}
            timer = SetTimer(key, retry_at, keys.timer_reason(TimerReason.RETRY, self.op), recorded="retry_at")
            return Record(key, Kind.ATTEMPT, data, durable=True, then=timer)
        return Record(self.op, Kind.ERROR, {"error": err, "attempts": attempt, **flag}, durable=True, then=Return())
