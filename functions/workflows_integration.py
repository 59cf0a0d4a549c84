"""Seed "Workflow Integration": external APIs, database operations and AI operations.

| workflow    | seed section                                                             |
|-------------|--------------------------------------------------------------------------|
| integration | External APIs: POST the lead to Salesforce with a bearer token           |
| database    | Database Operations: create the user, then its profile                   |
| ai-content  | AI Operations: generate a blog post (gpt-5), review it (claude-sonnet-4.5) |
| data-export | External APIs: request a warehouse export, poll until it is ready, download it |

The Salesforce client, the database and the AI model are the fakes in ``fakes.py`` and
``ai.py`` (the AI model is pluggable; the default is deterministic and offline). The token
comes from the ``SALESFORCE_TOKEN`` environment variable and is read inside the step, so it
never lands in the journal.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import fakes
from appdef import app
from models import BlogPost, Lead, NewUser
from steps import generate_content

from stepbridge import Context, Retry


@app.workflow("integration")
async def integration(ctx: Context, lead: Lead) -> dict[str, Any]:
    """Create the lead in Salesforce; 5xx answers are retried with linear backoff (2 s, 4 s, 6 s)."""
    return await ctx.step(
        "call-salesforce",
        post_lead,
        lead.wire(),
        timeout=30,
        retry=Retry(max_attempts=4, backoff="linear", initial_delay=2.0),
    )


def post_lead(body: dict[str, Any]) -> dict[str, Any]:
    """``fetch('https://api.salesforce.com/leads', {method: 'POST', ...})``."""
    token = os.environ.get("SALESFORCE_TOKEN", "local-dev-token")
    return fakes.salesforce.post(
        "/leads", {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, body
    )


@app.workflow("database")
async def database(ctx: Context, user: NewUser) -> dict[str, Any]:
    """Create a user and its (empty) profile. The id comes from ``ctx.uuid()``: the same on
    every replay, so a retried ``create-user`` finds the row it already wrote."""
    user_id = f"user-{ctx.uuid()}"
    created = await ctx.step("create-user", lambda: fakes.db.insert("users", {"id": user_id, **user.wire()}))
    await ctx.step(
        "create-profile",
        lambda: fakes.db.insert(
            "profiles", {"id": f"profile-{user_id}", "user": created["id"], "bio": "", "avatar": None}
        ),
    )
    return created


@app.workflow("ai-content")
async def ai_content(ctx: Context, topic: str) -> BlogPost:
    """Draft a blog post about ``topic`` with one model, then have another review and improve it."""
    content = await ctx.step("generate", generate_content, "gpt-5", f"Write a blog post about {topic}")
    reviewed = await ctx.step(
        "review", generate_content, "claude-sonnet-4.5", "Review and improve this content", content
    )
    return reviewed


#: Polls of the (fake) warehouse until an export is ready: a check after 30 s, then 60 s, 120 s ... capped at
#: 5 minutes; at most 20 checks (then ``PollTimeout``).
EXPORT_POLL: dict[str, Any] = {
    "every": timedelta(seconds=30), "backoff": 2, "max_every": timedelta(minutes=5), "max_attempts": 20,
}
#: Checks after which the fake warehouse reports an export done.
EXPORT_READY_AFTER = 3


@app.workflow("data-export")
async def data_export(ctx: Context, table: str) -> dict[str, Any]:
    """Export a table from the warehouse: request it, poll until ready, download the rows.

    The download is a large step result (10,000 rows, about 0.5 MB): stepbridge keeps it in the app's
    payload bucket and journals a reference, so it is not limited by DynamoDB's 400 KB item."""
    job_id = f"export-{ctx.uuid()}"
    await ctx.step("request-export", lambda: fakes.db.insert("exports", {"id": job_id, "table": table, "checks": 0}))
    await ctx.set_status({"stage": "waiting for the warehouse", "job": job_id})
    ready = await ctx.poll("export-ready", lambda _previous: export_status(job_id), **EXPORT_POLL,
                           until=lambda status: status["state"] == "done")
    rows = await ctx.step("download-export", download_export, job_id)
    await ctx.set_status({"stage": "downloaded", "job": job_id, "rows": len(rows)})
    return {"job": job_id, "rows": len(rows), "checks": ready["checks"], "first": rows[0]}


def export_status(job_id: str) -> dict[str, Any]:
    """``GET /exports/{id}`` of the warehouse: running until it has been asked ``EXPORT_READY_AFTER`` times."""
    job = fakes.db.get("exports", job_id) or {"checks": 0}
    checks = int(job["checks"]) + 1
    fakes.db.upsert("exports", job_id, checks=checks)
    return {"state": "done" if checks >= EXPORT_READY_AFTER else "running", "checks": checks}


def download_export(job_id: str) -> list[dict[str, Any]]:
    """The export's rows (a large value)."""
    return [{"id": i, "sku": f"sku-{i % 97:03d}", "total_cents": (i * 7919) % 100_000} for i in range(10_000)]
