"""Retry policy for steps: attempts, backoff shape and which errors are retried."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from stepbridge.api.calendar import BusinessDays, BusinessHours, Calendar
from stepbridge.api.durations import Duration, to_seconds

Backoff = Literal["exponential", "linear", "fixed"]


@dataclass(frozen=True)
class Retry:
    """How a failed step is retried.

    ``max_attempts`` counts all attempts (``Retry(max_attempts=3)`` = first try + 2 retries).
    The wait before retry *k* (k = 1, 2, ...) is ``initial_delay * 2**(k-1)`` (exponential),
    ``initial_delay * k`` (linear) or ``initial_delay`` (fixed), capped at ``max_delay``.
    With ``jitter`` the wait is drawn from ``[delay/2, delay]`` with a seed derived from the
    execution, step and attempt, so replays see the same value. Waits are durable timers.
    ``retry_on`` limits retries to those exception types; ``non_retryable`` excludes types.

    ``calendar``: the waits count business time on it (a 1-hour wait from Friday 16:30 ends Monday
    09:30 on a 09:00-17:00 calendar); ``initial_delay``/``max_delay`` may then be ``BusinessHours``.
    Business days are not accepted here: a backoff multiplies delays, use ``BusinessHours``.
    """

    max_attempts: int = 3
    backoff: Backoff = "exponential"
    initial_delay: Duration | BusinessHours = 1.0
    max_delay: Duration | BusinessHours = 30.0
    jitter: bool = True
    retry_on: tuple[type[BaseException], ...] = field(default=())
    non_retryable: tuple[type[BaseException], ...] = field(default=())
    calendar: Calendar | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(f"Retry.max_attempts must be an integer >= 1, got {self.max_attempts!r}")
        if self.backoff not in ("exponential", "linear", "fixed"):
            raise ValueError(f"Retry.backoff must be 'exponential', 'linear' or 'fixed', got {self.backoff!r}")
        if self.calendar is not None and not isinstance(self.calendar, Calendar):
            raise TypeError(f"Retry.calendar must be a stepbridge.Calendar, got {type(self.calendar).__name__}")
        for what in ("initial_delay", "max_delay"):
            value: Any = getattr(self, what)
            if isinstance(value, BusinessDays):
                raise ValueError(f"Retry.{what} takes BusinessHours, not BusinessDays (a backoff multiplies delays)")
            if isinstance(value, BusinessHours):
                if self.calendar is None:
                    raise ValueError(f"Retry.{what}={value!r} needs Retry(calendar=Calendar(...))")
                object.__setattr__(self, what, value.duration)
            to_seconds(getattr(self, what), what=f"Retry.{what}")
        object.__setattr__(self, "retry_on", tuple(self.retry_on))
        object.__setattr__(self, "non_retryable", tuple(self.non_retryable))

    def base_delay(self, retry_number: int) -> float:
        """Delay in seconds before retry ``retry_number`` (1-based), before jitter, capped at ``max_delay``."""
        initial: float = to_seconds(self.initial_delay)  # type: ignore[arg-type]  # converted in __post_init__
        delay: float
        if self.backoff == "exponential":
            delay = initial * (2 ** (retry_number - 1))
        elif self.backoff == "linear":
            delay = initial * retry_number
        else:
            delay = initial
        return min(delay, to_seconds(self.max_delay))  # type: ignore[arg-type]  # converted in __post_init__

    def delay(self, retry_number: int, seed: str) -> float:
        """Delay before retry ``retry_number`` including deterministic jitter seeded by ``seed``."""
        base = self.base_delay(retry_number)
        if not self.jitter:
            return base
        return base * (0.5 + 0.5 * random.Random(f"{seed}#{retry_number}").random())

    def retry_at(self, now: datetime, delay: float) -> datetime:
        """The instant a retry waiting ``delay`` seconds is due: business time on ``calendar`` when set."""
        if self.calendar is None:
            return now + timedelta(seconds=delay)
        return self.calendar.add(now, BusinessHours(delay / 3600))

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` may be retried under this policy (attempt counting is separate)."""
        from stepbridge.errors import NonRetryableError, WorkflowDefinitionError

        if isinstance(exc, NonRetryableError | WorkflowDefinitionError):
            return False
        if self.non_retryable and isinstance(exc, self.non_retryable):
            return False
        if self.retry_on:
            return isinstance(exc, self.retry_on)
        return True


DEFAULT_RETRY = Retry()
