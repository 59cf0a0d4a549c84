"""Seed "Workflow Error Handling": retries, error handling with a fallback, and timeouts.

| workflow | seed section                                                           |
|----------|------------------------------------------------------------------------|
| api-call | Retries: ``maxAttempts: 3, backoff: 'exponential', initialDelay: 1000`` |
| resilient| Error Handling: risky operation fails -> log the error -> fallback     |
| timed    | Timeouts: ``timeout: 30000`` on the slow operation                     |

Retry waits are durable timers (no Lambda waits); the seed's "Retry Pattern" helpers
(exponential / linear / fixed backoff) are ``Retry(backoff=...)`` here — linear is used by
``integration`` and fixed by ``hourly-sync``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import fakes
from appdef import app

from stepbridge import Context, Retry


@app.workflow("api-call")
async def api_call(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Call a flaky external API: 3 attempts in total, waiting ~1 s then ~2 s between them."""
    return await ctx.step(
        "call-api",
        fakes.external_api.call,
        data,
        retry=Retry(max_attempts=3, backoff="exponential", initial_delay=timedelta(seconds=1)),
    )


@app.workflow("resilient")
async def resilient(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Try the risky operation (default retry policy); if it still fails, log the error and fall back."""
    try:
        return await ctx.step("risky-operation", fakes.compute.risky, data)
    except Exception as error:
        await ctx.step("log-error", fakes.notifier.log_error, f"{type(error).__name__}: {error}", data)
        return await ctx.step("fallback", fakes.compute.fallback, data)


@app.workflow("timed")
async def timed(ctx: Context, data: dict[str, Any]) -> dict[str, Any]:
    """Run the slow operation with a 30 s timeout per attempt. An attempt past it fails with
    ``StepTimeout``; the default policy tries 3 times, then the execution fails with ``StepTimeout``.

    (For a declared step the hard bound is its own ``@app.step(timeout=...)``: that is the
    Lambda function's timeout.)"""
    return await ctx.step("slow-operation", fakes.compute.slow, data, timeout=30)
