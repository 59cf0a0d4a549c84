"""The soak test's app: the example app's patterns with side effects that can be counted.

Each workflow ports a pattern of ``functions/`` (the example app): compensation
(``process-payment``), parallel enrichment (``enrich-lead``), retries (``api-call``), a human
approval with a timeout (``invoice-approval``), sub-workflows (``main``), a rate-limited loop
with bounded fan-out (``email-campaign``), a long sleep that may be cancelled with
compensation, ``continue_as_new`` and an event trigger. Unlike the example app's fakes (shared
stock, global id counters), every result here depends only on the execution's input, so a run
under faults must end exactly like a run without them.

Every side effect is counted in ``LEDGER`` under ``{effect}:{idempotency key}``: a step that ran
twice (at-least-once after a crash) shows up there, never in the journal.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from stepbridge import App, Context, Retry, step_context
from stepbridge.errors import NonRetryableError

app = App("soak")

#: Side effects by ``{effect}:{execution id}:{step}`` -> how many times they ran.
LEDGER: Counter[str] = Counter()

#: Generous budgets: an injected fault that loses a declared step's attempt (its Lambda timed out,
#: its invoke was throttled) uses up one attempt, and the soak checks results, not retry budgets.
DECLARED_RETRY = Retry(max_attempts=10, backoff="fixed", initial_delay=2.0, jitter=False)
INLINE_RETRY = Retry(max_attempts=10, backoff="exponential", initial_delay=1.0, max_delay=8.0)
#: Inline steps too: an attempt whose orchestrator container died mid-step counts against the policy.
INLINE_BUDGET = Retry(max_attempts=10, backoff="fixed", initial_delay=1.0, jitter=False)


class Declined(NonRetryableError):
    """The card was declined (a business error: not retried)."""


class ConfirmFailed(NonRetryableError):
    """The order could not be confirmed."""


class GatewayError(Exception):
    """A transient failure (retried)."""


def effect(kind: str) -> None:
    """Count one run of a side effect under the running step's idempotency key."""
    LEDGER[f"{kind}:{step_context().idempotency_key}"] += 1


def flaky(failures: int) -> None:
    """Fail the first ``failures`` attempts of the running step (deterministic per attempt number)."""
    if step_context().attempt <= failures:
        raise GatewayError(f"transient failure on attempt {step_context().attempt}")


# ---- declared steps (their own Lambda) -------------------------------------------------------------


@app.step(timeout=30, retry=DECLARED_RETRY)
def charge(order: dict[str, Any]) -> dict[str, Any]:
    """Charge an order: declined cards fail at once, a flaky gateway fails the first attempts."""
    effect("charge")
    if order.get("decline"):
        raise Declined(f"card declined for {order['id']}")
    flaky(int(order.get("flaky", 0)))
    return {"payment": f"pay-{order['id']}", "amount": order["amount"]}


@app.step(timeout=20, retry=DECLARED_RETRY)
def score(value: int) -> int:
    """A pure computation with a side effect counter (fan-out target)."""
    effect("score")
    return value * value + 1


@app.step(timeout=20, retry=DECLARED_RETRY)
def notify(to: str, template: str) -> dict[str, str]:
    """Send a message."""
    effect("notify")
    return {"to": to, "template": template}


# ---- inline step functions -----------------------------------------------------------------------


def reserve(order: dict[str, Any]) -> dict[str, Any]:
    effect("reserve")
    return {"reservation": f"res-{order['id']}", "items": order["items"]}


def release(reservation: dict[str, Any]) -> str:
    effect("release")
    return f"released {reservation['reservation']}"


def refund(payment: dict[str, Any]) -> str:
    effect("refund")
    return f"refunded {payment['payment']}"


def confirm(order: dict[str, Any]) -> str:
    effect("confirm")
    if order.get("fail_confirm"):
        raise ConfirmFailed(f"order {order['id']} cannot be confirmed")
    return "confirmed"


def lookup(kind: str, key: str) -> dict[str, str]:
    effect(f"lookup-{kind}")
    return {kind: f"{kind}-of-{key}"}


def call_api(data: dict[str, Any]) -> dict[str, Any]:
    effect("api")
    flaky(int(data.get("failures", 0)))
    return {"echo": data["n"], "ok": True}


def record(table: str, key: str, status: str) -> dict[str, str]:
    effect(f"record-{table}")
    return {"id": key, "status": status}


# ---- workflows -------------------------------------------------------------------------------------


@app.workflow("order")
async def order_wf(ctx: Context, order: dict[str, Any]) -> dict[str, Any]:
    """Compensation (``process-payment``): reserve, charge, confirm; undo in reverse on failure."""
    async with ctx.saga() as saga:
        reservation = await ctx.step("reserve", reserve, order, retry=INLINE_BUDGET)
        saga.compensate(release, reservation, name="release")
        payment = await ctx.step("charge", charge, order)
        saga.compensate(refund, payment, name="refund")
        await ctx.step("confirm", confirm, order, retry=INLINE_BUDGET)
        await ctx.send("Order.confirmed", {"id": order["id"], "payment": payment["payment"]})
    return {"order": order["id"], "payment": payment["payment"]}


@app.workflow("enrich")
async def enrich_wf(ctx: Context, lead: dict[str, Any]) -> dict[str, Any]:
    """Parallel (``enrich-lead``): three lookups and a declared step at once, then merge."""
    company, social, email, points = await ctx.gather(
        ctx.step("company", lookup, "company", lead["id"], retry=INLINE_BUDGET),
        ctx.step("social", lookup, "social", lead["id"], retry=INLINE_BUDGET),
        ctx.step("email", lookup, "email", lead["id"], retry=INLINE_BUDGET),
        ctx.step("score", score, lead["n"]),
    )
    return await ctx.step("merge", lambda: {**company, **social, **email, "score": points}, retry=INLINE_BUDGET)


@app.workflow("api")
async def api_wf(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Retries (``api-call``): a flaky call retried on durable timers."""
    first = await ctx.step("call", call_api, data, retry=INLINE_RETRY)
    await ctx.sleep(timedelta(seconds=data.get("pause", 5)))
    second = await ctx.step("call-again", call_api, {**data, "failures": 0}, retry=INLINE_BUDGET)
    return {"first": first, "second": second}


@app.workflow("approval")
async def approval_wf(ctx: Context, item: dict[str, Any]) -> dict[str, Any]:
    """Human in the loop (``invoice-approval``): ask, wait up to an hour, approve or reject."""
    await ctx.send("Approval.requested", {"itemId": item["id"]})
    decision = await ctx.wait_for(
        "Approval.decided", match={"itemId": item["id"]}, timeout=timedelta(hours=1), default=None
    )
    if decision is not None and decision.get("approved"):
        await ctx.step("approve", record, "approvals", item["id"], "approved", retry=INLINE_BUDGET)
        return {"status": "approved", "by": decision.get("approver")}
    reason = "timeout" if decision is None else "declined"
    await ctx.step("reject", record, "approvals", item["id"], reason, retry=INLINE_BUDGET)
    return {"status": "rejected", "reason": reason}


@app.workflow("child-sum")
async def child_sum(ctx: Context, numbers: list[int]) -> int:
    """A child: adds its numbers in an inline step."""
    return int(await ctx.step("sum", lambda: sum(numbers), retry=INLINE_BUDGET))


@app.workflow("child-score")
async def child_score(ctx: Context, n: int) -> int:
    """A child running a declared step."""
    return int(await ctx.step("score", score, n))


@app.workflow("child-note")
async def child_note(ctx: Context, who: str) -> dict[str, str]:
    """A fire-and-forget child."""
    return dict(await ctx.step("note", notify, who, "note"))


@app.workflow("parent")
async def parent_wf(ctx: Context, job: dict[str, Any]) -> dict[str, Any]:
    """Sub-workflows (``main`` / ``ecommerce-order``): two children in parallel plus one not waited for."""
    await ctx.start_child("child-note", job["id"])
    total, points = await ctx.gather(ctx.child("child-sum", job["numbers"]), ctx.child("child-score", job["n"]))
    return {"total": total, "score": points}


@app.workflow("campaign")
async def campaign_wf(ctx: Context, campaign: dict[str, Any]) -> dict[str, Any]:
    """A loop with a rate limit (``email-campaign``), then a bounded fan-out (``ctx.map``)."""
    for i in range(campaign["recipients"]):
        await ctx.step(f"send-{i}", notify, f"r{i}@{campaign['id']}", "campaign")
        await ctx.sleep(timedelta(seconds=30))
    scores = await ctx.map("score", list(range(campaign["fanout"])), score, concurrency=2)
    return {"sent": campaign["recipients"], "scores": scores}


@app.workflow("hold")
async def hold_wf(ctx: Context, job: dict[str, Any]) -> dict[str, Any]:
    """A long sleep inside a saga: cancelled with ``compensate=True`` it releases what it holds."""
    async with ctx.saga() as saga:
        held = await ctx.step("hold", record, "holds", job["id"], "held", retry=INLINE_BUDGET)
        saga.compensate(record, "holds", job["id"], "released", name="unhold")
        await ctx.sleep(timedelta(hours=2))
        await ctx.step("finish", record, "holds", job["id"], "finished", retry=INLINE_BUDGET)
    return {"held": held["id"]}


@app.workflow("counter")
async def counter_wf(ctx: Context, state: dict[str, int]) -> Any:
    """Bounded history: count in generations with ``continue_as_new``."""
    total = int(await ctx.step("add", lambda: state["total"] + state["generation"], retry=INLINE_BUDGET))
    if state["generation"] < 2:
        await ctx.continue_as_new({"generation": state["generation"] + 1, "total": total})
    return {"total": total}


@app.workflow("poked")
async def poked_wf(ctx: Context, detail: dict[str, Any]) -> dict[str, Any]:
    """Started by an event trigger (``Soak.poked``)."""
    return dict(await ctx.step("handle", record, "pokes", detail["id"], "handled", retry=INLINE_BUDGET))


app.on("Soak.poked", poked_wf)
