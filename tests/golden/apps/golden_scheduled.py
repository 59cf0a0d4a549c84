"""Schedules (every/cron, time zones) and webhooks (Stripe with an SSM secret, HMAC)."""

from stepbridge.api.app import App

app = App("scheduled")


@app.step(timeout=300, memory=1024)
def build_report(day: str) -> dict:
    return {"day": day}


@app.workflow("daily-report")
async def daily_report(ctx, data: dict) -> dict:
    return await ctx.step("build", build_report, data["scheduled_time"])


@app.workflow("weekly-cleanup")
async def weekly_cleanup(ctx, data: dict) -> None:
    return None


@app.workflow("poll")
async def poll(ctx, data: dict) -> None:
    return None


@app.workflow("payment-succeeded")
async def payment_succeeded(ctx, data: dict) -> None:
    return None


@app.workflow("partner-event")
async def partner_event(ctx, data: dict) -> None:
    return None


app.every("daily", at="09:00", workflow=daily_report, timezone="Europe/Paris")
app.every("hourly", at=":15", workflow=poll)
app.every("weekly", at="08:30", on="monday", workflow="weekly-cleanup", name="monday-cleanup")
app.schedule("weekly-cleanup", "0 2 * * 0", weekly_cleanup)
app.schedule("business-hours", "*/15 9-17 * * 1-5", poll, timezone="America/New_York")
app.schedule("month-start", "0 9 1 * *", daily_report, input={"kind": "monthly"})

app.webhook(
    "/webhooks/stripe",
    provider="stripe",
    secret_param="/scheduled/stripe/webhook-secret",
    route={"payment_intent.succeeded": payment_succeeded},
)
app.webhook("/webhooks/partner", provider="hmac", secret="test-only-secret", workflow=partner_event)
