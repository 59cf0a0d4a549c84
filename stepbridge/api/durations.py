"""Durations: the API accepts seconds (int/float) or ``timedelta`` everywhere."""

from __future__ import annotations

import math
from datetime import timedelta

from stepbridge.errors import WorkflowDefinitionError

Duration = float | int | timedelta


def to_seconds(value: Duration, *, what: str = "duration") -> float:
    """Return ``value`` in seconds; raise ``ValueError`` naming ``what`` when it is negative or not a duration."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what} must be seconds (int/float) or a timedelta, got {type(value).__name__}")
    else:
        seconds = float(value)
    if seconds < 0:
        raise ValueError(f"{what} must not be negative, got {seconds} s")
    return seconds


def optional_seconds(value: Duration | None, *, what: str = "duration") -> float | None:
    """Like :func:`to_seconds` but passes ``None`` through."""
    return None if value is None else to_seconds(value, what=what)


#: Longest workflow ``timeout=``: 366 days, as Lambda durable functions' ``ExecutionTimeout`` (1 to
#: 31,622,400 s; https://docs.aws.amazon.com/lambda/latest/api/API_DurableConfig.html).
MAX_WORKFLOW_TIMEOUT_SECONDS = 31_622_400


def check_workflow_timeout(timeout: Duration | None, workflow: str) -> float | None:
    """A workflow's ``timeout=`` in seconds, or a one-line ``WorkflowDefinitionError`` saying what to pass."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float, timedelta)):
        raise WorkflowDefinitionError(
            f"workflow '{workflow}': timeout must be seconds or a timedelta (e.g. timedelta(days=30)), "
            f"got {type(timeout).__name__}"
        )
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)
    if not math.isfinite(seconds) or seconds < 1 or seconds > MAX_WORKFLOW_TIMEOUT_SECONDS:
        raise WorkflowDefinitionError(
            f"workflow '{workflow}': timeout must be between 1 second and 366 days "
            f"({MAX_WORKFLOW_TIMEOUT_SECONDS:,} s, as Lambda durable functions' ExecutionTimeout), got {seconds:g} s"
        )
    return seconds
