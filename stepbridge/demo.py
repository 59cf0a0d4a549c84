"""``stepbridge demo``: a guided tour of the example app on the local (moto) cloud.

Each scene starts seed workflows, moves the virtual clock where the story needs it, and
prints the execution's timeline from its journal. The tour runs in seconds although the
approval in it takes two simulated days.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

CUSTOMER = {"id": "c-1", "name": "Ann Example", "email": "ann@example.com"}
LEAD = {"id": "lead-1", "name": "Bob Builder", "email": "bob@builder.io", "domain": "builder.io"}
MANAGER, VP = "mia.manager@acme.example", "victor.vp@acme.example"


def _order(order_id: str) -> dict[str, object]:
    return {
        "orderId": order_id,
        "customer": dict(CUSTOMER),
        "items": [{"productId": "product-1", "quantity": 2, "price": 29.99},
                  {"productId": "product-2", "quantity": 1, "price": 49.99}],
        "total": 109.97,
    }


class Tour:
    """Runs the scenes against one LocalCloud and prints as it goes."""

    def __init__(self, cloud: Any, fakes: Any, out: Callable[[str], None]) -> None:
        self.cloud = cloud
        self.client = cloud.client()
        self.fakes = fakes
        self.out = out

    def heading(self, title: str, note: str) -> None:
        """Print a scene heading."""
        self.out(f"\n=== {title} ===\n{note}")

    def timeline(self, execution_id: str) -> None:
        """Print one execution's journal as a timeline."""
        from stepbridge.timeline import render

        desc = self.client.describe(execution_id)
        self.out(render(execution_id, desc.workflow, self.client.history(execution_id)))

    def sequential_and_parallel(self) -> None:
        """customer-onboarding (triggered by an event) and enrich-lead (three parallel steps)."""
        self.heading("1. Sequential steps, triggered by an event",
                     "Customer.registered goes onto the bus; the rule starts customer-onboarding.")
        self.client.send_event("Customer.registered", CUSTOMER)
        (run,) = self.client.list(workflow="customer-onboarding")
        self.timeline(run.execution_id)
        self.heading("2. Parallel steps", "enrich-lead runs verify-email, lookup-company and find-social at once.")
        h = self.client.start("enrich-lead", LEAD, execution_id="lead-1")
        h.result()
        self.timeline(h.execution_id)

    def approval(self) -> None:
        """expense-approval: manager, then VP over 1000, two days of virtual time."""
        self.heading("3. Human in the loop: a 2,500 expense needs the manager and the VP",
                     "The workflow waits (nothing runs, nothing is billed) until Approval.decided events arrive.")
        expense = {"id": "exp-7", "amount": 2500, "employee": "eve@acme.example", "manager": MANAGER, "vp": VP,
                   "description": "Conference travel"}
        h = self.client.start("expense-approval", expense, execution_id="expense-exp-7")
        self.cloud.advance(timedelta(hours=20))
        self.out(f"  after 20 h: {self.client.describe(h.execution_id).status}; the manager approves")
        self.client.send_event("Approval.decided", {"expenseId": "exp-7", "approver": MANAGER, "decision": "approve"})
        self.cloud.advance(timedelta(hours=30))
        self.out(f"  30 h later: {self.client.describe(h.execution_id).status}; the VP approves")
        self.client.send_event("Approval.decided", {"expenseId": "exp-7", "approver": VP, "decision": "approve"})
        self.out(f"  result: {h.result()}")
        self.timeline(h.execution_id)

    def compensation(self) -> None:
        """process-payment with a declined card: release inventory, notify, fail."""
        self.heading("4. Failure with compensation",
                     "The card is declined (final, not retried): inventory is released and the failure reported.")
        self.fakes.knobs.decline_payments = True
        h = self.client.start("process-payment", _order("o-13"), execution_id="payment-o-13")
        try:
            h.result()
        except Exception as exc:  # the execution FAILED, as it should
            self.out(f"  {type(exc).__name__}: {exc}")
        finally:
            self.fakes.knobs.decline_payments = False
        self.out(f"  product-1 stock after compensation: {self.fakes.inventory.level('product-1')} (of 10)")
        self.timeline(h.execution_id)

    def retry(self) -> None:
        """api-call: the external API fails twice; durable backoff timers of 1 s and 2 s."""
        self.heading("5. Retries with exponential backoff",
                     "The external API fails twice; each retry waits on a durable timer of about 1 s, then 2 s "
                     "(jittered down by up to half; no Lambda sleeps).")
        self.fakes.knobs.external_api_failures = 2
        h = self.client.start("api-call", {"q": "status"}, execution_id="api-call-1")
        self.out(f"  result: {h.result()}")
        self.timeline(h.execution_id)

    def children(self) -> None:
        """ecommerce-order: three children in parallel, then fulfilment."""
        self.heading("6. Parent and child workflows",
                     "ecommerce-order starts reserve-inventory, process-payment and send-confirmation in parallel.")
        h = self.client.start("ecommerce-order", _order("o-21"), execution_id="ecommerce-o-21")
        self.out(f"  result: {h.result()}")
        self.timeline(h.execution_id)


#: What the demo needs, said in one line when it is missing.
NEEDS = (
    "the demo tours the example app in functions/ of a stepbridge source checkout, which a pip install "
    "does not include; run it in a clone (python3 dev.py demo) or pass --app path/to/app.py:app "
    "(stepbridge init myproj makes a project of your own)"
)
DEFAULT_APP = "functions/app.py:app"


def locate_demo_app(app_spec: str = DEFAULT_APP) -> str | None:
    """The app to tour: ``app_spec`` if its file exists here; for the default, the checkout's own
    ``functions/app.py`` (beside the ``stepbridge`` package), so the demo runs from any directory."""
    target, _, attr = app_spec.partition(":")
    if Path(target).is_file():
        return app_spec
    if app_spec != DEFAULT_APP:
        return None
    import stepbridge

    beside = Path(stepbridge.__file__).resolve().parents[1] / "functions" / "app.py"
    return f"{beside}:{attr or 'app'}" if beside.is_file() else None


def run_demo(app_spec: str = "functions/app.py:app", out: Callable[[str], None] = print) -> int:
    """Run the tour; returns 0 when every scene ended as the story says."""
    import importlib

    from stepbridge.local import LocalCloud
    from stepbridge.testing.loader import load_app_from_spec

    started = time.perf_counter()
    located = locate_demo_app(app_spec)
    if located is None:
        out(f"error: {app_spec.partition(':')[0]} not found: {NEEDS}")
        return 2
    app_spec = located
    app = load_app_from_spec(app_spec)
    fakes = importlib.import_module("fakes")
    fakes.reset()
    with LocalCloud(app) as cloud:
        tour = Tour(cloud, fakes, out)
        out(f"stepbridge demo: app '{app.name}' with {len(app.workflows)} workflows on LocalCloud (moto); "
            f"virtual clock starts {cloud.now():%Y-%m-%d %H:%M} UTC")
        for scene in (tour.sequential_and_parallel, tour.approval, tour.compensation, tour.retry, tour.children):
            scene()
        statuses = {d.status for d in tour.client.list(limit=1000)}
        out(f"\n{len(tour.client.list(limit=1000))} executions, statuses {sorted(statuses)}; "
            f"virtual time now {cloud.now():%Y-%m-%d %H:%M}; {len(cloud.events)} events on the bus; "
            f"{time.perf_counter() - started:.1f} s of real time")
    return 0
