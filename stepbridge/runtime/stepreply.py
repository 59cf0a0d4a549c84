"""Declared steps answered in-process: a workflow that waits on one declared step alone waits for its answer.

An asynchronous invoke costs a wake-up afterwards: the step's SendMessage, then the orchestrator's ReceiveMessage
and DeleteMessage on the FIFO work queue ($1.50 per million steps at SQS FIFO's $0.50 per million requests), and
a second orchestrator invocation ($0.20 per million requests) that reads the execution's header again. So when an
orchestrator invocation ends with the workflow waiting for exactly **one** declared step it dispatched, and the
invocation handles no other execution, that step is invoked synchronously (``RequestResponse``) instead, and the
orchestrator waits up to the app's ``step_reply_window``:

* A step that reports within the window answers with the wake-up it would have sent (``StepInvocation.reply_by``;
  runtime/stepworker.py), and the orchestrator goes on with the execution in the same invocation. A sequence of
  quick declared steps runs in one orchestrator invocation, with no queue hop between steps.
* One execution still runs in one orchestrator at a time (DESIGN.md): the orchestrator keeps the execution's FIFO
  message in flight, its message group blocked, while it waits.
* A step that reports after the window wakes the orchestrator through the queue, as an asynchronous one does.
* A lost answer (the orchestrator's read timed out, its container died, the step crashed): the step's deadline
  timer stays armed until the orchestrator holds the answer, so the execution is woken at the deadline and the
  replay finds whatever the step recorded. Never stuck; late, in that rare case.
* Lambda throttling the call (reserved concurrency) hands the invocation to Lambda's asynchronous queue
  (``Effects.call_step``).

The price of waiting is the orchestrator's own duration: at 512 MB, $6.67 per million steps per second waited
(arm64, $0.0000133334 per GB-s), so the break-even against the queue hop is ~0.25 s of step duration; the default
window (1 s) bounds what a slow step wastes. ``App(step_reply_window=0)`` turns this off.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import replace
from datetime import datetime, timedelta

from stepbridge.errors import PayloadTooLarge
from stepbridge.runtime import keys
from stepbridge.runtime.guard import GuardedEffects
from stepbridge.runtime.keys import timer_name
from stepbridge.runtime.limits import async_invoke_payload, invocation_what
from stepbridge.runtime.observability import logger
from stepbridge.runtime.ports import Effects, StepNotStarted
from stepbridge.runtime.records import StepInvocation, WakeMessage, iso

#: How much longer than the window the orchestrator reads the answer: the step's answer may be sent at the end of
#: its window, and reaching the orchestrator takes the response's own time.
REPLY_GRACE_SECONDS = 5.0
#: Time an orchestrator keeps, beyond the window and the grace, to go on with the execution after the answer.
REPLY_MARGIN_SECONDS = 10.0


class HeldInvokes(GuardedEffects):
    """The orchestrator's (guarded) effects during one replay, holding back the first asynchronous step invoke.

    Until the replay ends it is not known whether that step will be the only thing the workflow waits for. A second
    invoke in the same replay sends the held one and itself at once; :meth:`lone` hands the held one over for a
    synchronous call, and :meth:`release` sends whatever is still held (a replay that failed, finished, or may not
    wait) as before. A failed send is an ``InfrastructureFailure``, as inside the replay.
    """

    def __init__(self, target: Effects) -> None:
        super().__init__(target)
        self._held: StepInvocation | None = None
        self._passed = False  # a second invoke came: every invoke of this replay goes out at once

    def invoke_step(self, invocation: StepInvocation) -> None:
        if self._held is None and not self._passed and _fits(invocation):
            self._held = invocation
            return
        self._passed = True
        self.release()
        super().invoke_step(invocation)

    def lone(self, alone: Callable[[str], bool]) -> StepInvocation | None:
        """The held invoke when it was the replay's only one and ``alone(op)`` says its step is the only thing the
        workflow waits for (now the caller's to send), else ``None``. A step beside others (a ``map`` refilling
        its window, a ``gather`` with a sleep) is not waited for: their reports would queue behind it."""
        held = self._held
        if held is None or self._passed or not alone(held.op):
            return None
        self._held = None
        return held

    def release(self) -> None:
        """Send the held invoke, if any, asynchronously."""
        held, self._held = self._held, None
        if held is not None:
            super().invoke_step(held)


def _fits(invocation: StepInvocation) -> bool:
    """Whether the invoke's payload is within Lambda's limit (the check its send makes): one over it is sent at
    once, so the step call fails with ``PayloadTooLarge`` where the workflow awaits it, as every asynchronous
    invoke does."""
    try:
        async_invoke_payload(invocation.to_dict(), invocation_what(invocation))
    except PayloadTooLarge:
        return False
    return True


def alone(op: str, parked: Collection[str] | None, suspensions: int) -> bool:
    """Whether the workflow waits for ``op`` only: the operations its parked workflow waits on (sticky executions)
    are ``[op]``, or (a replay that suspended) one operation stopped it."""
    if parked is not None:
        return len(parked) == 1 and op in parked  # (no copy: a map refilling its window parks hundreds)
    return suspensions == 1


def may_wait(window: float, remaining: float | None) -> bool:
    """Whether an invocation with ``remaining`` seconds left (``None``: unknown, no Lambda) may wait ``window``."""
    if window <= 0:
        return False
    return remaining is None or remaining >= window + REPLY_GRACE_SECONDS + REPLY_MARGIN_SECONDS


def ask(invocation: StepInvocation, now: datetime, window: float) -> StepInvocation:
    """The synchronous form of ``invocation``: answered in the response if the step reports by ``now + window``."""
    return replace(invocation, reply_by=iso(now + timedelta(seconds=window)))


def call_lone(effects: Effects, invocation: StepInvocation, window: float) -> WakeMessage | None:
    """Invoke the lone declared step synchronously; its answer (a wake-up), or ``None`` (it comes by the queue,
    or the deadline timer stands in for it)."""
    try:
        reply = effects.call_step(ask(invocation, effects.now(), window))
    except StepNotStarted:  # it did not start: Lambda queues an asynchronous invoke instead
        effects.invoke_step(invocation)
        return None
    except Exception as exc:  # the step may have started: no second invoke; its deadline timer stands
        logger().warning(
            "synchronous step invoke failed; the step's deadline timer covers it",
            extra={"execution_id": invocation.execution_id, "op": invocation.op, "error": str(exc)},
        )
        return None
    if reply is not None and invocation.disarm:  # the answer is here: the deadline timer it kept can go
        try:
            key = keys.dispatch_key(invocation.op, invocation.attempt)
            effects.cancel_timer(timer_name(invocation.execution_id, key))
        except Exception as exc:  # a leftover timer only causes an idle wake-up at the deadline
            logger().warning("could not delete the step's deadline timer", extra={"error": str(exc)})
    return reply
