"""Seed "Workflow Integration": external APIs, database operations and AI operations.

| workflow    | seed section                                                             |
|-------------|--------------------------------------------------------------------------|
| integration | External APIs: POST the lead to Salesforce with a bearer token           |
| database    | Database Operations: create the user, then its profile                   |
| ai-content  | AI Operations: generate a blog post (gpt-5), review it (claude-sonnet-4.5) |

The Salesforce client, the database and the AI model are the fakes in ``fakes.py`` and
``ai.py`` (the AI model is pluggable; the default is deterministic and offline). The token
comes from the ``SALESFORCE_TOKEN`` environment variable and is read inside the step, so it
never lands in the journal.
"""

from __future__ import annotations

import os
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
