"""The example application ``acme``: every workflow of the seed document, in Python.

This folder is the SAM ``CodeUri``: the compiler and every Lambda handler load ``app:app``
from here. The ``App`` itself lives in ``appdef.py``; importing the workflow modules below
registers their workflows, steps, triggers, schedules, webhooks and state machines on it.
See ``README.md`` for which seed section each workflow ports.
"""

from __future__ import annotations

import steps  # noqa: F401  (declared steps: charge-payment, create-shipment, send-email, ...)
import workflows_basic  # noqa: F401  (sequential, parallel, conditional, loop, compensating)
import workflows_billing  # noqa: F401  (subscription billing: secrets, S3 grant, env, grandchildren, webhook)
import workflows_composition  # noqa: F401  (sub-workflows, approval template)
import workflows_durable  # noqa: F401  (durable execution, workflow variables)
import workflows_errors  # noqa: F401  (retries, fallback, timeouts)
import workflows_human  # noqa: F401  (expense approval, document review)
import workflows_integration  # noqa: F401  (Salesforce, database, AI)
import workflows_monitoring  # noqa: F401  (progress, metrics)
import workflows_orchestration  # noqa: F401  (ecommerce-order and its children)
import workflows_patterns  # noqa: F401  (circuit breaker, bulkhead)
import workflows_performance  # noqa: F401  (parallelism, caching, debouncing)
import workflows_scheduling  # noqa: F401  (cron schedules, dynamic scheduling)
import workflows_state  # noqa: F401  (order state machine)
import workflows_tasks  # noqa: F401  (expense approval and document review as human tasks)
import workflows_triggers  # noqa: F401  (event, manual and webhook triggers)
from appdef import app

__all__ = ["app"]
