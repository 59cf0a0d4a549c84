"""Seed "Workflow Scheduling": cron schedules and dynamic scheduling (functions/workflows_scheduling.py).

The clock starts on Monday 2026-01-05 at 08:30 UTC (conftest.START).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import fakes
from example_data import emitted, executions, only

CART = {"id": "cart-1", "customerEmail": "ann@example.com", "items": [{"productId": "product-1", "quantity": 1}],
        "total": 29.99}


def test_daily_report_runs_at_nine_every_day(cloud, client):
    cloud.advance(timedelta(minutes=29))
    assert executions(client, "daily-report") == []

    cloud.advance(timedelta(minutes=2))  # 09:01

    run = only(executions(client, "daily-report"))
    assert run.status == "SUCCEEDED"
    scheduled = datetime.fromisoformat(run.input["scheduled_time"].replace("Z", "+00:00"))
    assert scheduled == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert run.result["date"] == "2026-01-05"
    assert only(fakes.reports.of_kind("daily"))["date"] == "2026-01-05"
    assert only(emitted(cloud, "Report.generated"))["date"] == "2026-01-05"

    cloud.advance(timedelta(days=2))
    assert [r["date"] for r in fakes.reports.of_kind("daily")] == ["2026-01-05", "2026-01-06", "2026-01-07"]


def test_daily_report_counts_the_days_business(cloud, client):
    client.start("process-payment", {"orderId": "o-1", "amount": 100.0}).result()
    client.start("process-payment", {"orderId": "o-2", "amount": 25.5}).result()

    result = client.start("daily-report", {}).result()  # started by hand: no scheduled_time

    assert result["date"] == "2026-01-05"
    assert result["payments"] == 2
    assert result["revenue"] == 125.5


def test_hourly_sync_runs_every_hour(cloud, client):
    cloud.advance(timedelta(hours=24))

    runs = executions(client, "hourly-sync")
    assert len(runs) == 24  # 09:00 on Monday ... 08:00 on Tuesday
    assert all(r.status == "SUCCEEDED" for r in runs)
    assert len(fakes.world.salesforce_calls) == 24
    assert fakes.world.salesforce_calls[0]["url"] == "https://api.salesforce.com/contacts/sync"
    assert len(fakes.world.salesforce_calls[0]["body"]["contacts"]) == 4


def test_weekly_cleanup_runs_on_sunday_at_two(cloud, client):
    fakes.db.insert("sessions", {"id": "s-old", "lastSeen": "2025-11-01T00:00:00+00:00"})
    fakes.db.insert("sessions", {"id": "s-new", "lastSeen": "2026-01-04T12:00:00+00:00"})

    cloud.advance(timedelta(days=5, hours=17))  # Sunday 01:30
    assert executions(client, "weekly-cleanup") == []
    cloud.advance(timedelta(hours=1))  # Sunday 02:30

    run = only(executions(client, "weekly-cleanup"))
    assert run.input["scheduled_time"].startswith("2026-01-11T02:00")
    assert run.result["deletedSessions"] == 1
    assert fakes.db.get("sessions", "s-old") is None
    assert fakes.db.get("sessions", "s-new") is not None


# ---- dynamic scheduling -----------------------------------------------------------------------


def test_abandoned_cart_gets_reminders_after_1_and_24_hours(cloud, client):
    client.send_event("Cart.abandoned", CART)
    run = only(executions(client, "cart-abandoned"))
    assert run.status == "RUNNING"

    cloud.advance(timedelta(minutes=59))
    assert fakes.world.emails_with("cart-reminder") == []
    cloud.advance(timedelta(minutes=2))
    first = only(fakes.world.emails_with("cart-reminder"))
    assert first["to"] == "ann@example.com"
    assert first["data"] == {"cartId": "cart-1", "attempt": 1, "total": 29.99}

    cloud.advance(timedelta(hours=22, minutes=58))  # 23 h 59 min after abandonment
    assert len(fakes.world.emails_with("cart-reminder")) == 1
    cloud.advance(timedelta(minutes=2))

    assert [e["data"]["attempt"] for e in fakes.world.emails_with("cart-reminder")] == [1, 2]
    done = client.describe(run.execution_id)
    assert done.status == "SUCCEEDED"
    assert [r["sent"] for r in done.result["reminders"]] == [True, True]
    assert len(executions(client, "cart-reminder")) == 2


def test_no_second_reminder_once_the_cart_is_bought(cloud, client):
    client.send_event("Cart.abandoned", CART)
    cloud.advance(timedelta(hours=1, minutes=1))
    assert len(fakes.world.emails_with("cart-reminder")) == 1

    fakes.carts.mark_purchased("cart-1")
    cloud.advance(timedelta(days=1))

    assert len(fakes.world.emails_with("cart-reminder")) == 1
    run = only(executions(client, "cart-abandoned"))
    assert run.status == "SUCCEEDED"
    assert run.result["reminders"][1] == {"cartId": "cart-1", "attempt": 2, "sent": False, "reason": "cart purchased"}


def test_no_reminder_at_all_for_a_cart_bought_within_the_hour(cloud, client):
    client.send_event("Cart.abandoned", CART)
    fakes.carts.mark_purchased("cart-1")

    cloud.advance(timedelta(days=2))

    assert fakes.world.emails_with("cart-reminder") == []
    run = only(executions(client, "cart-abandoned"))
    assert [r["sent"] for r in run.result["reminders"]] == [False]


def test_a_client_can_start_a_reminder_later(cloud, client):
    h = client.start("cart-reminder", {"cart": CART, "attempt": 1}, delay=timedelta(hours=1))

    assert client.describe(h.execution_id).status == "SCHEDULED"
    cloud.advance(timedelta(minutes=59))
    assert client.describe(h.execution_id).status == "SCHEDULED"
    assert fakes.world.emails == []

    cloud.advance(timedelta(minutes=2))

    assert client.describe(h.execution_id).status == "SUCCEEDED"
    assert only(fakes.world.emails)["template"] == "cart-reminder"


def test_a_reminder_can_be_started_at_a_given_time(cloud, client):
    h = client.start("cart-reminder", {"cart": CART}, at=datetime(2026, 1, 6, 18, 0, tzinfo=UTC))

    cloud.advance_to(datetime(2026, 1, 6, 17, 59, tzinfo=UTC))
    assert client.describe(h.execution_id).status == "SCHEDULED"
    cloud.advance(timedelta(minutes=2))
    assert client.describe(h.execution_id).status == "SUCCEEDED"


def test_a_scheduled_reminder_can_be_cancelled(cloud, client):
    h = client.start("cart-reminder", {"cart": CART}, delay=timedelta(hours=1))

    client.cancel(h.execution_id)
    cloud.advance(timedelta(hours=2))

    assert client.describe(h.execution_id).status == "CANCELLED"
    assert fakes.world.emails == []
