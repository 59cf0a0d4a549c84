"""The declared-step service: run one attempt of a step in its own Lambda and report back.

The outcome is appended to the execution's journal (conditionally, so a duplicate invoke
records nothing twice) and the orchestrator is woken through the work queue, or, when it invoked
the step synchronously and the outcome came within its window, answered in the invoke's response
(runtime/stepreply.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from stepbridge.api.app import App
from stepbridge.errors import (
    PayloadTooLarge,
    StepTimeout,
)
from stepbridge.runtime import functionscope, keys, payloads, stepcontext
from stepbridge.runtime.codec import decode_args, to_json_value
from stepbridge.runtime.errorcodec import error_dict
from stepbridge.runtime.guard import is_user_failure
from stepbridge.runtime.keys import timer_name
from stepbridge.runtime.loops import LoopFactory, run_coroutine
from stepbridge.runtime.observability import StepTelemetry, logger
from stepbridge.runtime.ports import Effects, Store
from stepbridge.runtime.records import (
    JournalRecord,
    StepInvocation,
    WakeMessage,
    iso,
    parse_iso,
    report_wake,
)
from stepbridge.runtime.replay import current_op
from stepbridge.runtime.steps import call_function, check_result_size, step_error
from stepbridge.runtime.vocabulary import Kind, OpType, Reason

#: Tries of each report write (journal append, wake-up) before the invocation gives up.
REPORT_ATTEMPTS = 4
#: First wait between report tries, seconds (doubled each time: 0.2, 0.4, 0.8).
REPORT_BACKOFF = 0.2


@dataclass
class StepWorker:
    """Runs declared steps; ``enforce_timeout`` emulates Lambda's timeout where no Lambda enforces it."""

    app: App
    store: Store
    effects: Effects
    loop_factory: LoopFactory | None = None
    enforce_timeout: bool = False
    overrides: dict[str, Callable[..., object]] | None = None
    #: How to wait between report retries (``time.sleep`` in AWS; LocalCloud passes a no-op: virtual time).
    sleep: Callable[[float], None] | None = None
    #: The wake-up answered in the synchronous invoke's response instead of sent (``None``: none).
    reply: WakeMessage | None = None

    def handle(self, invocation: StepInvocation, lambda_context: object = None) -> str:
        """Run one attempt; returns ``"result"``, ``"attempt"``, ``"skipped"`` or ``"lost"`` (timed out)."""
        # Advisory (skip work nobody will use): an eventually consistent read at half the read units.
        # A brand-new execution may not have reached the replica yet: only a consistent read may say
        # it does not exist.
        # The glance leaves the header's body behind: it holds the input (a map child batch's: all its items).
        execution = self.store.glance_execution(invocation.execution_id)
        if execution is None:
            execution = self.store.glance_execution(invocation.execution_id, consistent=True)
        if execution is None or execution.terminal:
            return "skipped"
        if execution.cancel_requested and not invocation.compensation:
            return "skipped"  # cancelled while the invoke was queued: its result would never be used
        step = self.app.steps.get(invocation.step)
        if step is None:
            err = {
                "type": "stepbridge.errors.WorkflowDefinitionError",
                "fatal": True,
                "message": f"declared step '{invocation.step}' is not in app '{self.app.name}' "
                "(is the deployed code older than the orchestrator's?)",
            }
            return self._report(invocation, Kind.ATTEMPT, {"error": err, "attempt": invocation.attempt})
        # A per-call timeout shorter than the function's is enforced here (the attempt fails with
        # StepTimeout and is reported); the function's own timeout is Lambda's to enforce.
        timeout = invocation.timeout if invocation.timeout is not None and invocation.timeout < step.timeout else None
        lambda_limit = step.timeout if self.enforce_timeout else None
        if timeout is None:
            timeout = lambda_limit
        if (invocation.at_most_once or step.at_most_once) and not self._claim(invocation):
            return "skipped"  # started before (a duplicate invoke, or an attempt that died): never twice
        token = current_op.set(invocation.op)
        step_token = stepcontext.enter(invocation.execution_id, invocation.op, invocation.attempt, lambda_context)
        scope_token = functionscope.enter(functionscope.FunctionScope(f"step '{step.name}'", step.config.secrets))
        try:
            serde = step.serde or self.app.serde
            args = decode_args(step.fn, invocation.args, serde)
            fn = (self.overrides or {}).get(invocation.op) or (self.overrides or {}).get(step.name) or step.fn
            with StepTelemetry(execution.workflow, invocation.op, invocation.execution_id):
                value = run_coroutine(call_function(fn, args, timeout, op=invocation.op), self.loop_factory)
            what = f"the result of step '{invocation.op}'"
            data = payloads.store_value(to_json_value(value, what=what, serde=serde), what=what)
            check_result_size(invocation.op, data)
        except StepTimeout as exc:
            if timeout is lambda_limit:
                return "lost"  # like Lambda: killed at its timeout, reports nothing; the deadline timer notices
            return self._report(invocation, Kind.ATTEMPT, {"error": error_dict(exc), "attempt": invocation.attempt})
        except BaseException as exc:
            if not is_user_failure(exc):
                raise  # LocalCloud's simulated container death: nothing is reported, as in AWS
            # Only errors that no policy may retry are marked fatal here; the orchestrator applies
            # the call's retry policy (which may differ from the step's default) to the rest.
            err = step_error(exc)
            return self._report(invocation, Kind.ATTEMPT, {"error": err, "attempt": invocation.attempt})
        finally:
            functionscope.leave(scope_token)
            stepcontext.leave(step_token)
            current_op.reset(token)
        return self._report(invocation, Kind.RESULT, {"result": data, "attempts": invocation.attempt})

    def _report(self, inv: StepInvocation, kind: Kind, data: dict[str, object]) -> str:
        """Journal the outcome, wake the orchestrator, disarm the deadline timer.

        The step's work is done at this point, so a throttled write is retried here (with
        backoff) rather than failing the invocation: step functions have no asynchronous retries
        (``MaximumRetryAttempts: 0``), and losing the report would cost the deadline wait and a
        second run of the step. If the writes still fail the invocation fails; the deadline timer,
        still armed, then recovers the attempt (and the sweeper, should that timer be lost too).
        """
        key = inv.op if kind == Kind.RESULT else keys.attempt_key(inv.op, inv.attempt)
        record = JournalRecord(key=key, op=inv.op, type=OpType.STEP, kind=kind, data=data, at=iso(self.effects.now()))
        appended, uncertain = self._with_retries(lambda: self.store.append_journal(inv.execution_id, record))
        # After a failed call that may have written anyway (a timeout), "already there" may be our own
        # record: wake in that case too (a duplicate wake-up is harmless, a missing one is not).
        if appended or uncertain:
            wake = report_wake(
                inv.execution_id,
                Reason.STEP,
                keys.step_report_dedup(inv.op, inv.attempt, kind),
                record,
                won=bool(appended),
            )
            if inv.reply_by and self.effects.now() <= parse_iso(inv.reply_by):
                # The orchestrator waits for this answer. Its deadline timer stays armed until the orchestrator
                # holds the answer: should the answer be lost, the timer still wakes the execution.
                self.reply = wake
                return kind
            self._with_retries(lambda: self.effects.wake(wake))
            self._disarm_deadline(inv)
        return kind

    def _claim(self, inv: StepInvocation) -> bool:
        """Journal the "started" marker of an ``at_most_once`` step; ``True`` if this invocation may run it.

        When a write failed ambiguously and the marker then exists, it may be ours or a racing
        invocation's: the step is not run (at most once wins); the orchestrator then fails it with
        ``StepInterrupted`` at its deadline.
        """
        marker = JournalRecord(
            key=keys.at_most_once_marker(inv.op),
            op=inv.op,
            type=OpType.STEP,
            kind=Kind.STARTED,
            data={"attempt": inv.attempt},
            at=iso(self.effects.now()),
        )
        claimed, _ = self._with_retries(lambda: self.store.append_journal(inv.execution_id, marker))
        return bool(claimed)

    def _with_retries(self, call: Callable[[], object]) -> tuple[object, bool]:
        """``(result, whether an earlier try failed)``; re-raises after ``REPORT_ATTEMPTS`` failures."""
        failed = False
        for attempt in range(1, REPORT_ATTEMPTS + 1):
            try:
                return call(), failed
            except PayloadTooLarge:
                raise
            except Exception as exc:
                if attempt == REPORT_ATTEMPTS:
                    raise
                failed = True
                logger().warning("reporting the step failed, retrying", extra={"error": str(exc), "attempt": attempt})
                (self.sleep or time.sleep)(REPORT_BACKOFF * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    def _disarm_deadline(self, inv: StepInvocation) -> None:
        """The attempt reported, so its deadline timer would only cause an idle replay: delete it (best effort).

        A step covered by its dispatch batch's shared timer has none of its own (runtime/stepcover.py)."""
        if not inv.disarm:
            return
        try:
            self.effects.cancel_timer(timer_name(inv.execution_id, keys.dispatch_key(inv.op, inv.attempt)))
        except Exception as exc:  # a leftover timer is harmless: the replay it causes finds nothing due
            logger().warning("could not delete the step's deadline timer", extra={"error": str(exc)})
