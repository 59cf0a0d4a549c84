"""Retention (``App(retention=)``): when what a finished execution leaves behind expires.

DynamoDB removes an item some time after its ``ttl`` attribute (epoch seconds) has passed (DynamoDB
Developer Guide, "Time to Live": typically within a few days); S3 removes payload objects by the bucket's
lifecycle rule, which counts whole days from an object's creation (S3 User Guide, "Lifecycle configuration
elements"). Every item an execution writes carries a ``ttl`` once it has ended: the header, the journal,
waiters, and the step/workflow cache entries (which expire by their own cache TTL anyway).
"""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from stepbridge.config import ENV_RETENTION
from stepbridge.runtime import keys

if TYPE_CHECKING:
    from stepbridge.api.app import App

#: Payload objects outlive the executions that wrote them by this many days: lifecycle expiration counts
#: from an object's creation, not from the end of its execution, so an execution that runs up to a year
#: still finds its oldest values (a longer one fails with ``PayloadMissing`` when it reads an expired value).
PAYLOAD_GRACE_DAYS = 365


def payload_expiry_days(app: App) -> int | None:
    """Days after which the lifecycle rule deletes a payload object (``None`` = never: no retention)."""
    if app.retention_seconds is None:
        return None
    return math.ceil(app.retention_seconds / 86_400) + PAYLOAD_GRACE_DAYS


def retention_seconds(app: App | None = None) -> float | None:
    """The app's retention: ``App(retention=)`` when known, else ``STEPBRIDGE_RETENTION`` of the function."""
    if app is not None and app.retention_seconds is not None:
        return app.retention_seconds
    raw = os.environ.get(ENV_RETENTION)
    return float(raw) if raw else None


def expiry(ended: datetime, seconds: float) -> int:
    """The ``ttl`` (epoch seconds) of an item of an execution that ended at ``ended``."""
    return int((ended + timedelta(seconds=seconds)).timestamp())


#: Partitions an execution owns: its header and journal (``EXEC#``) and its waiters (``WAIT#``).
EXECUTION_PARTITIONS = (keys.EXEC_PREFIX, keys.WAITER_PREFIX)


def backstop(now: datetime, seconds: float) -> int:
    """The ``ttl`` of an execution's item written at ``now`` before the execution ended (or after): it expires
    ``retention + PAYLOAD_GRACE_DAYS`` later, like the payload objects, so nothing is kept for ever even if the
    precise expiry at the end is never written (a late report, a pass cut short)."""
    return expiry(now, seconds + PAYLOAD_GRACE_DAYS * 86_400)
