"""Seed "Workflow State Machines": the order state machine, bound to events, and the seed's
``order`` workflow that drives the same machine from inside a durable workflow.

::

    draft --submit [has items]--> pending --pay--> processing --fulfill--> completed --return [<= 30 days]--> returned
                                  pending --cancel--> cancelled     processing --fail--> failed --retry--> processing

Two ways to run it:

* ``app.state_machine(order_machine, events=ORDER_EVENTS, key="detail.orderId")`` — one
  long-lived instance per order, advanced by ``Order.*`` events (the seed's ``on($.Order.paid,
  ...)`` lines). Rejected events leave the instance alone and emit ``StateMachine.rejected``.
  ``client.machine_state("order", order_id)`` shows the state and context.
* the ``order`` workflow — the seed's ``orderWorkflow``: submits the order, then waits for
  ``Order.paid`` (3 days, else cancel) and ``Order.fulfilled`` (14 days, else fail), running
  each transition's hooks as durable steps. An invalid transition or failing guard fails the
  workflow, as in the seed; a declined payment cancels the order and fails the workflow.

The machine's ``submit`` action does not publish ``Order.submitted`` as the seed's does: that
event is what drives ``submit`` here, and publishing it again would only be rejected.
Use one of the two per order; both react to the same ``Order.*`` events.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta
from typing import Any

import fakes
from appdef import app
from models import Order

from stepbridge import Context, State, StateMachine, Transition

RETURN_WINDOW = timedelta(days=30)


def _time(event: Any) -> datetime:
    """The (replay-safe) time of the event a hook runs for."""
    return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))


# ---- hooks ------------------------------------------------------------------------------------


def has_items(order: dict[str, Any]) -> bool:
    """Guard of ``submit``: an empty order cannot be submitted."""
    return len(order.get("items") or []) > 0


def submit_order(order: dict[str, Any], event: Any) -> dict[str, Any]:
    """Action of ``submit``: remember when."""
    fakes.notifier.machine("order", "action:submit", "draft", order.get("orderId"))
    return {"submittedAt": event["time"]}


def take_payment(order: dict[str, Any]) -> dict[str, Any]:
    """Action of ``pay``: charge the order (idempotent per order); a decline raises ``PaymentDeclined``."""
    fakes.notifier.machine("order", "action:pay", "pending", order.get("orderId"))
    payment = fakes.payments.charge(order["orderId"], order["total"], (order.get("customer") or {}).get("email"))
    return {"paymentId": payment["id"]}


def ship_order(order: dict[str, Any], event: Any) -> dict[str, Any]:
    """Action of ``fulfill``: create the shipment; record completion time for the return window."""
    fakes.notifier.machine("order", "action:fulfill", "processing", order.get("orderId"))
    shipment = fakes.shipping.create(order["orderId"], order.get("items") or [], order.get("paymentId"))
    return {"shipmentId": shipment["id"], "completedAt": event["time"]}


def within_return_window(order: dict[str, Any], event: Any) -> bool:
    """Guard of ``return``: only within 30 days of completion (measured on the event's time)."""
    completed = order.get("completedAt")
    return completed is not None and _time(event) - _time({"time": completed}) <= RETURN_WINDOW


def entered(state: str, message: str) -> Any:
    """An entry hook: log (the seed's ``console.log``) and keep the orders table in step."""

    def entry(order: dict[str, Any]) -> None:
        fakes.notifier.machine("order", f"entry:{state}", state, order.get("orderId"))
        fakes.db.upsert("orders", order["orderId"], status=state, note=message)

    entry.__name__ = f"enter_{state}"
    return entry


def left(state: str) -> Any:
    """An exit hook (logs only)."""

    def exit_hook(order: dict[str, Any]) -> None:
        fakes.notifier.machine("order", f"exit:{state}", state, order.get("orderId"))

    exit_hook.__name__ = f"exit_{state}"
    return exit_hook


# ---- the machine ------------------------------------------------------------------------------

order_machine = StateMachine(
    "order",
    initial="draft",
    states={
        "draft": State(on={"submit": Transition("pending", guard=has_items, action=submit_order)}),
        "pending": State(
            entry=entered("pending", "Order pending, waiting for payment"),
            exit=left("pending"),
            on={"pay": Transition("processing", action=take_payment), "cancel": Transition("cancelled")},
        ),
        "processing": State(
            entry=entered("processing", "Processing order"),
            on={"fulfill": Transition("completed", action=ship_order), "fail": Transition("failed")},
        ),
        "completed": State(
            entry=entered("completed", "Order completed"),
            on={"return": Transition("returned", guard=within_return_window)},
        ),
        "cancelled": State(entry=entered("cancelled", "Order cancelled")),
        "failed": State(entry=entered("failed", "Order failed"), on={"retry": Transition("processing")}),
        "returned": State(entry=entered("returned", "Order returned")),
    },
)

#: Event type -> machine event. The seed binds the first four; the others reach the remaining transitions.
ORDER_EVENTS = {
    "Order.submitted": "submit",
    "Order.paid": "pay",
    "Order.fulfilled": "fulfill",
    "Order.cancelled": "cancel",
    "Order.fulfillmentFailed": "fail",
    "Order.retryRequested": "retry",
    "Order.returnRequested": "return",
}

app.state_machine(order_machine, events=ORDER_EVENTS, key="detail.orderId")


# ---- the seed's order workflow ------------------------------------------------------------------


class InvalidTransition(Exception):
    """The machine has no such transition from the current state, or its guard said no."""


def call_hook(hook: Any, context: dict[str, Any], event: dict[str, Any]) -> Any:
    """Call a hook with ``(context)`` or ``(context, event)``, as the engine does."""
    params = [
        p for p in inspect.signature(hook).parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return hook(dict(context), event) if len(params) >= 2 else hook(dict(context))


class MachineRun:
    """One in-workflow run of a ``StateMachine``: guard -> exit -> action -> entry, hooks as steps."""

    def __init__(self, ctx: Context, machine: StateMachine, context: dict[str, Any]) -> None:
        self.ctx = ctx
        self.machine = machine
        self.state = machine.initial
        self.context = dict(context)
        self.transitions = 0

    async def transition(self, event: str, data: dict[str, Any] | None = None) -> str:
        """Apply ``event``; raises ``InvalidTransition`` (the seed's errors) when it does not apply."""
        state = self.machine.states[self.state]
        transition = state.on.get(event)
        if transition is None:
            raise InvalidTransition(f"Invalid transition {event} from state {self.state}")

        self.transitions += 1
        n = self.transitions
        context = {**self.context, **(data or {})}
        hook_event = {"type": event, "detail": data or {}, "time": self.ctx.now().isoformat()}

        # Check the guard (pure: runs in the workflow, on journaled data).
        if transition.guard is not None and not call_hook(transition.guard, context, hook_event):
            raise InvalidTransition(f"Guard condition failed for {event}")

        if state.exit is not None:
            await self.ctx.step(f"t{n}-exit-{self.state}", lambda: call_hook(state.exit, context, hook_event))

        if transition.action is not None:
            returned = await self.ctx.step(f"t{n}-{event}", lambda: call_hook(transition.action, context, hook_event))
            if isinstance(returned, dict):
                context = {**context, **returned}

        target = self.machine.states[transition.target]
        if target.entry is not None:
            entry_context = context
            returned = await self.ctx.step(
                f"t{n}-enter-{transition.target}", lambda: call_hook(target.entry, entry_context, hook_event)
            )
            if isinstance(returned, dict):
                context = {**context, **returned}

        self.state = transition.target
        self.context = context
        return self.state


#: For each state the workflow waits in: (event type, machine event, how long, machine event on timeout).
ORDER_WAITS: dict[str, tuple[str, str, timedelta, str]] = {
    "pending": ("Order.paid", "pay", timedelta(days=3), "cancel"),
    "processing": ("Order.fulfilled", "fulfill", timedelta(days=14), "fail"),
}


@app.workflow("order")
async def order_workflow(ctx: Context, order: Order) -> dict[str, Any]:
    """Drive ``order_machine`` for one order: submit, then wait for payment and fulfilment."""
    run = MachineRun(ctx, order_machine, order.wire())
    await run.transition("submit")

    while run.state in ORDER_WAITS:
        event_type, event, timeout, on_timeout = ORDER_WAITS[run.state]
        detail = await ctx.wait_for(event_type, match={"orderId": order.order_id}, timeout=timeout, default=None)
        if detail is None:
            await run.transition(on_timeout)
            continue
        try:
            await run.transition(event, detail)
        except fakes.PaymentDeclined:
            await run.transition("cancel")
            raise

    return {"currentState": run.state, "context": run.context}
