"""Seed "Workflow Patterns Library": retry, circuit breaker and bulkhead.

| workflow      | seed pattern                                                                  |
|---------------|-------------------------------------------------------------------------------|
| crm-lookup    | Circuit Breaker: 3 failures open the breaker for 60 s; while open, serve the  |
|               | cached answer without calling the CRM; then one half-open trial call          |
| render-report | Bulkhead: at most 2 report renders at once across the whole fleet             |

The Retry Pattern (exponential / linear / fixed backoff) is the ``Retry`` policy: see
``api-call`` (exponential), ``integration`` (linear) and ``hourly-sync`` (fixed).

The seed's breaker and bulkhead are in-memory classes, which on Lambda would be per instance;
``stepbridge.patterns`` keeps their state in DynamoDB, shared by every execution.
"""

from __future__ import annotations

from typing import Any

import fakes
from appdef import app

from stepbridge import Context
from stepbridge.errors import CircuitOpenError
from stepbridge.patterns import Bulkhead, CircuitBreaker

crm_breaker = CircuitBreaker("crm", threshold=3, cooldown=60, half_open_attempts=1)
renderer_bulkhead = Bulkhead("report-renderer", max_concurrent=2)


@app.workflow("crm-lookup")
async def crm_lookup(ctx: Context, request: dict[str, Any]) -> dict[str, Any]:
    """Fetch an account from the CRM through the breaker; degrade to a placeholder when the CRM
    fails (``reason: "crm-error"``, which counts against the breaker) or the breaker is open
    (``reason: "circuit-open"``: the CRM is not called at all)."""
    account_id = request["accountId"]
    try:
        account = await crm_breaker.call(ctx, "fetch-account", fakes.crm.fetch_account, account_id)
        return {"source": "crm", "account": account}
    except CircuitOpenError:
        reason = "circuit-open"
    except fakes.CRMUnavailable:
        reason = "crm-error"
    return {"source": "fallback", "reason": reason, "account": {"id": account_id, "name": None, "tier": "unknown"}}


@app.workflow("render-report")
async def render_report(ctx: Context, spec: dict[str, Any]) -> dict[str, Any]:
    """Render a heavy report, waiting for one of the renderer's 2 slots."""
    return await renderer_bulkhead.call(ctx, "render", fakes.compute.render_report, spec)
