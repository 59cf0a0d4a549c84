"""Seed "Workflow Scheduling" (and the schedule trigger of "Workflow Triggers").

| workflow       | schedule                                   | seed                           |
|----------------|--------------------------------------------|--------------------------------|
| daily-report   | ``app.every("daily", at="09:00")`` = ``0 9 * * *`` UTC | Schedule Triggers, cron list |
| weekly-cleanup | ``0 2 * * 0`` (02:00 every Sunday)         | cron list                      |
| hourly-sync    | ``0 * * * *`` (every hour)                 | cron list                      |
| cart-abandoned | on ``Cart.abandoned``: reminder after 1 h and after 24 h | Dynamic scheduling |
| cart-reminder  | started by cart-abandoned (or by a client with ``delay=``/``at=``) | Dynamic scheduling |

A scheduled run's input is ``{"scheduled_time": "<ISO-8601>"}``. Dynamic scheduling is a
durable ``sleep_until`` followed by a child workflow (the seed's ``scheduleWorkflow``); from
outside a workflow the same is ``client.start("cart-reminder", reminder, delay=timedelta(hours=1))``,
which leaves the execution ``SCHEDULED`` until it is due (and cancellable until then).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import fakes
from appdef import app
from models import Cart, CartReminder, ScheduledRun
from steps import send_email

from stepbridge import Context, Retry

SESSION_RETENTION = timedelta(days=30)


def _run_time(ctx: Context, run: ScheduledRun | None) -> datetime:
    """When this run was scheduled for (now, when started by hand)."""
    return run.scheduled_time if run is not None and run.scheduled_time is not None else ctx.now()


# ---- cron-based scheduling -------------------------------------------------------------------


@app.workflow("daily-report")
async def daily_report(ctx: Context, run: ScheduledRun | None = None) -> dict[str, Any]:
    """The day's numbers, published as a report and a ``Report.generated`` event."""
    day = _run_time(ctx, run).date().isoformat()
    stats = await ctx.step("calculate-daily-stats", _daily_stats, day)
    report = await ctx.step("publish-report", fakes.reports.publish, "daily", stats)
    await ctx.send("Report.generated", stats)
    return {"report": report["id"], **stats}


def _daily_stats(day: str) -> dict[str, Any]:
    """``calculateDailyStats`` over the fake services."""
    w = fakes.world
    with w.lock:
        succeeded = [p for p in w.payments if p["status"] == "succeeded"]
        return {
            "date": day,
            "orders": len(w.table("orders")),
            "payments": len(succeeded),
            "revenue": round(sum(p["amount"] for p in succeeded), 2),
            "emailsSent": len(w.emails),
        }


@app.workflow("weekly-cleanup")
async def weekly_cleanup(ctx: Context, run: ScheduledRun | None = None) -> dict[str, Any]:
    """Delete sessions not seen for 30 days."""
    cutoff = (_run_time(ctx, run) - SESSION_RETENTION).isoformat()
    deleted = await ctx.step(
        "purge-sessions", lambda: fakes.db.delete_where("sessions", lambda row: row.get("lastSeen", "") < cutoff)
    )
    await ctx.step("publish-report", fakes.reports.publish, "cleanup", {"deletedSessions": deleted, "cutoff": cutoff})
    return {"deletedSessions": deleted, "cutoff": cutoff}


@app.workflow("hourly-sync")
async def hourly_sync(ctx: Context, run: ScheduledRun | None = None) -> dict[str, Any]:
    """Push the contact list to Salesforce (fixed 5 s backoff: the seed's ``fixedBackoff``)."""
    at = _run_time(ctx, run).isoformat()
    result = await ctx.step(
        "sync-contacts",
        _sync_contacts,
        at,
        retry=Retry(max_attempts=3, backoff="fixed", initial_delay=5.0),
    )
    await ctx.step("publish-report", fakes.reports.publish, "sync", {"at": at, "contacts": result["contacts"]})
    return result


def _sync_contacts(at: str) -> dict[str, Any]:
    contacts = fakes.db.query("people")
    token = os.environ.get("SALESFORCE_TOKEN", "local-dev-token")
    answer = fakes.salesforce.post(
        "/contacts/sync", {"Authorization": f"Bearer {token}"}, {"at": at, "contacts": [c["email"] for c in contacts]}
    )
    return {"contacts": len(contacts), "salesforceId": answer["id"]}


# The seed registers its cron list in a loop; daily-report uses the friendlier ``every`` form
# (equivalent to "0 9 * * *").
app.every("daily", at="09:00", workflow=daily_report, timezone="UTC")

SCHEDULED_WORKFLOWS: list[tuple[str, str, Callable[..., Any]]] = [
    ("weekly-cleanup", "0 2 * * 0", weekly_cleanup),  # 2 AM Sunday
    ("hourly-sync", "0 * * * *", hourly_sync),  # every hour
]
for schedule_name, cron, workflow in SCHEDULED_WORKFLOWS:
    app.schedule(schedule_name, cron, workflow)


# ---- dynamic scheduling -----------------------------------------------------------------------


async def schedule_workflow(ctx: Context, workflow: Callable[..., Any], run_at: datetime, data: Any) -> Any:
    """Run ``workflow`` as a child at ``run_at`` (the seed's ``scheduleWorkflow``): a durable timer, then the child."""
    if run_at > ctx.now():
        await ctx.sleep_until(run_at)
    return await ctx.child(workflow, data)


@app.workflow("cart-reminder")
async def cart_reminder(ctx: Context, reminder: CartReminder) -> dict[str, Any]:
    """Remind the customer of their cart, unless they bought it meanwhile."""
    cart = reminder.cart
    status = await ctx.step("check-cart", fakes.carts.status, cart.id)
    if status == "purchased":
        return {"cartId": cart.id, "attempt": reminder.attempt, "sent": False, "reason": "cart purchased"}
    await ctx.step(
        "send-reminder",
        send_email,
        cart.customer_email,
        "cart-reminder",
        {"cartId": cart.id, "attempt": reminder.attempt, "total": cart.total},
    )
    return {"cartId": cart.id, "attempt": reminder.attempt, "sent": True}


@app.workflow("cart-abandoned")
async def cart_abandoned(ctx: Context, cart: Cart) -> dict[str, Any]:
    """First reminder 1 hour after abandonment, second 24 hours after (skipped once bought)."""
    abandoned_at = ctx.now()
    first = await schedule_workflow(
        ctx, cart_reminder, abandoned_at + timedelta(hours=1), CartReminder(cart=cart, attempt=1)
    )
    if not first["sent"]:
        return {"cartId": cart.id, "reminders": [first]}
    second = await schedule_workflow(
        ctx, cart_reminder, abandoned_at + timedelta(hours=24), CartReminder(cart=cart, attempt=2)
    )
    return {"cartId": cart.id, "reminders": [first, second]}


app.on("Cart.abandoned", cart_abandoned)
