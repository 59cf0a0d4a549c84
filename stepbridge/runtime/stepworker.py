"""The declared-step service: run one attempt of a step in its own Lambda and report back.

The outcome is appended to the execution's journal (conditionally, so a duplicate invoke
records nothing twice) and the orchestrator is woken through the work queue.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stepbridge.api.app import App
from stepbridge.errors import (
    NonRetryableError,
    PayloadTooLarge,
    ResultNotSerializable,
    StepTimeout,
    WorkflowDefinitionError,
)
from stepbridge.runtime import stepcontext
from stepbridge.runtime.codec import decode_args, to_json_value
from stepbridge.runtime.loops import LoopFactory, run_coroutine
from stepbridge.runtime.observability import logger
from stepbridge.runtime.ports import Effects, Store
from stepbridge.runtime.records import TERMINAL, JournalRecord, StepInvocation, WakeMessage, iso
from stepbridge.runtime.replay import current_op, error_dict, timer_name
from stepbridge.runtime.steps import call_function, check_result_size


@dataclass
class StepWorker:
    """Runs declared steps; ``enforce_timeout`` emulates Lambda's timeout where no Lambda enforces it."""

    app: App
    store: Store
    effects: Effects
    loop_factory: LoopFactory | None = None
    enforce_timeout: bool = False
    overrides: dict[str, Any] | None = None

    def handle(self, invocation: StepInvocation) -> str:
        """Run one attempt; returns ``"result"``, ``"attempt"``, ``"skipped"`` or ``"lost"`` (timed out)."""
        execution = self.store.get_execution(invocation.execution_id)
        if execution is None or execution.status in TERMINAL:
            return "skipped"
        step = self.app.steps.get(invocation.step)
        if step is None:
            err = {
                "type": "stepbridge.errors.WorkflowDefinitionError",
                "fatal": True,
                "message": f"declared step '{invocation.step}' is not in app '{self.app.name}' "
                "(is the deployed code older than the orchestrator's?)",
            }
            return self._report(invocation, "attempt", {"error": err, "attempt": invocation.attempt})
        # A per-call timeout shorter than the function's is enforced here (the attempt fails with
        # StepTimeout and is reported); the function's own timeout is Lambda's to enforce.
        timeout = invocation.timeout if invocation.timeout is not None and invocation.timeout < step.timeout else None
        lambda_limit = step.timeout if self.enforce_timeout else None
        if timeout is None:
            timeout = lambda_limit
        token = current_op.set(invocation.op)
        step_token = stepcontext.enter(invocation.execution_id, invocation.op, invocation.attempt)
        try:
            args = decode_args(step.fn, invocation.args)
            fn = (self.overrides or {}).get(invocation.op) or (self.overrides or {}).get(step.name) or step.fn
            value = run_coroutine(call_function(fn, args, timeout, op=invocation.op), self.loop_factory)
            data = to_json_value(value, what=f"the result of step '{invocation.op}'")
            check_result_size(invocation.op, data)
        except StepTimeout as exc:
            if timeout is lambda_limit:
                return "lost"  # like Lambda: killed at its timeout, reports nothing; the deadline timer notices
            return self._report(invocation, "attempt", {"error": error_dict(exc), "attempt": invocation.attempt})
        except Exception as exc:
            err = error_dict(exc)
            # Only errors that no policy may retry are marked fatal here; the orchestrator applies
            # the call's retry policy (which may differ from the step's default) to the rest.
            if isinstance(exc, ResultNotSerializable | NonRetryableError | WorkflowDefinitionError | PayloadTooLarge):
                err["fatal"] = True
            return self._report(invocation, "attempt", {"error": err, "attempt": invocation.attempt})
        finally:
            stepcontext.leave(step_token)
            current_op.reset(token)
        return self._report(invocation, "result", {"result": data, "attempts": invocation.attempt})

    def _report(self, inv: StepInvocation, kind: str, data: dict[str, Any]) -> str:
        key = inv.op if kind == "result" else f"{inv.op}#a{inv.attempt}"
        record = JournalRecord(key=key, op=inv.op, type="step", kind=kind, data=data, at=iso(self.effects.now()))
        if self.store.append_journal(inv.execution_id, record):
            self.effects.wake(WakeMessage(inv.execution_id, "step", f"step:{inv.op}:{inv.attempt}:{kind}"))
            self._disarm_deadline(inv)
        return kind

    def _disarm_deadline(self, inv: StepInvocation) -> None:
        """The attempt reported, so its deadline timer would only cause an idle replay: delete it (best effort)."""
        try:
            self.effects.cancel_timer(timer_name(inv.execution_id, f"{inv.op}#d{inv.attempt}"))
        except Exception as exc:  # a leftover timer is harmless: the replay it causes finds nothing due
            logger().warning("could not delete the step's deadline timer", extra={"error": str(exc)})
