"""Completion policies of ``ctx.map`` / ``ctx.gather`` and the ``BatchResult`` they return (issue 14, item 3).

Modelled on Lambda durable functions' ``CompletionConfig`` (aws-durable-execution-sdk-python,
``config.py`` and ``concurrency/models.py::CompletionPolicy``): the same three reasons, the same
order of checks (failure tolerance first, then "all completed", then "min_successful reached"),
the same percentage rule (``failed / total * 100 > tolerated``) and the same fail-fast meaning of an
empty policy. Where ours differs is listed in docs/API.md, "Completion policies";
``tests/unit/test_batch_ldf.py`` pins LDF's decisions beside ours.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Generic, TypeVar

from stepbridge.errors import BatchFailed, WorkflowDefinitionError

T = TypeVar("T")

#: Why a batch ended (``BatchResult.reason``); public strings.
ALL_COMPLETED = "all_completed"
MIN_SUCCESSFUL_REACHED = "min_successful_reached"
FAILURE_TOLERANCE_EXCEEDED = "failure_tolerance_exceeded"
REASONS = frozenset({ALL_COMPLETED, MIN_SUCCESSFUL_REACHED, FAILURE_TOLERANCE_EXCEEDED})

#: What became of one item (``BatchItem.status``).
SUCCEEDED = "succeeded"
FAILED = "failed"
#: Started (in flight) when the batch was decided: not waited for; a later outcome is ignored.
ABANDONED = "abandoned"
#: Not started when the batch was decided: never started.
NOT_STARTED = "not_started"

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass(frozen=True)
class Completion:
    """When a ``ctx.map`` / ``ctx.gather`` batch is decided, before every item has finished.

    ``min_successful``: decided as soon as that many items succeeded. ``tolerated_failures``: an
    int (at most that many failed items) or a percentage string such as ``"10%"`` of all items
    (at most ``total * 10 / 100`` failed items, i.e. the batch fails when ``failed / total > 10 %``).
    With neither set (``Completion()``) the first failure decides the batch (fail-fast, as LDF's
    empty ``CompletionConfig``); with only ``min_successful`` set, failures are tolerated until the
    batch can end otherwise (as LDF).
    """

    min_successful: int | None = None
    tolerated_failures: int | str | None = None
    _percent: Fraction | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        m = self.min_successful
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise WorkflowDefinitionError(f"Completion(min_successful={m!r}): give an int >= 1, or None")
        t = self.tolerated_failures
        if isinstance(t, str):
            match = _PERCENT.match(t)
            pct = Fraction(match.group(1)) if match else None
            if pct is None or pct > 100:
                raise WorkflowDefinitionError(
                    f"Completion(tolerated_failures={t!r}): a percentage is a string from '0%' to '100%', e.g. '10%'"
                )
            object.__setattr__(self, "_percent", pct)
        elif t is not None and (isinstance(t, bool) or not isinstance(t, int) or t < 0):
            raise WorkflowDefinitionError(
                f"Completion(tolerated_failures={t!r}): give an int >= 0, a percentage string such as '10%', or None"
            )

    @classmethod
    def first_successful(cls) -> Completion:
        """Decided by the first success (failures are tolerated until then); LDF's ``first_successful()``."""
        return cls(min_successful=1)

    @classmethod
    def all_completed(cls) -> Completion:
        """Every item runs whatever fails (100 % tolerated); LDF's ``all_completed()``."""
        return cls(tolerated_failures="100%")

    @classmethod
    def all_successful(cls) -> Completion:
        """The first failure decides the batch (0 tolerated); LDF's ``all_successful()``."""
        return cls(tolerated_failures=0)

    def check_total(self, total: int, where: str) -> None:
        """Refuse a ``min_successful`` no batch of ``total`` items can reach (LDF raises ``ValidationError`` too)."""
        if self.min_successful is not None and self.min_successful > total:
            raise WorkflowDefinitionError(
                f"{where}: Completion(min_successful={self.min_successful}) is more than the {total} item(s) given"
            )

    def tolerance_exceeded(self, failed: int, total: int) -> bool:
        """Whether ``failed`` failures out of ``total`` items are more than the policy tolerates."""
        if self.min_successful is None and self.tolerated_failures is None:
            return failed > 0  # no criterion at all: fail fast (LDF: ``not has_criteria``)
        if isinstance(self.tolerated_failures, int) and failed > self.tolerated_failures:
            return True
        if self._percent is not None and total > 0:
            return Fraction(failed * 100, total) > self._percent  # exact: no float rounding at the boundary
        return False

    def decide(self, succeeded: int, failed: int, total: int) -> str | None:
        """The reason the batch ends now, or ``None`` while it goes on (LDF's order of checks)."""
        if self.tolerance_exceeded(failed, total):
            return FAILURE_TOLERANCE_EXCEEDED
        if succeeded + failed >= total:
            return ALL_COMPLETED
        if self.min_successful is not None and succeeded >= self.min_successful:
            return MIN_SUCCESSFUL_REACHED
        return None


@dataclass(frozen=True)
class BatchItem(Generic[T]):
    """One item of a batch: its position, ``status`` (succeeded, failed, abandoned, not_started) and outcome."""

    index: int
    status: str
    result: T | None = None
    error: BaseException | None = None


@dataclass(frozen=True)
class BatchResult(Generic[T]):
    """What ``ctx.map(..., completion=)`` / ``ctx.gather(..., completion=)`` return.

    ``results``: item order, ``None`` where the item failed or did not finish before the batch was
    decided; ``errors``: item order, the item's exception where it failed, else ``None``;
    ``reason``: ``all_completed``, ``min_successful_reached`` or ``failure_tolerance_exceeded``.
    """

    items: list[BatchItem[T]]
    reason: str
    completion: Completion

    @property
    def results(self) -> list[T | None]:
        """Results in item order; ``None`` where the item failed or was not run (abandoned, not started)."""
        return [i.result if i.status == SUCCEEDED else None for i in self.items]

    @property
    def errors(self) -> list[BaseException | None]:
        """Errors in item order; ``None`` where the item did not fail."""
        return [i.error if i.status == FAILED else None for i in self.items]

    def succeeded(self) -> list[BatchItem[T]]:
        """The items that succeeded, in item order."""
        return [i for i in self.items if i.status == SUCCEEDED]

    def failed(self) -> list[BatchItem[T]]:
        """The items that failed, in item order."""
        return [i for i in self.items if i.status == FAILED]

    def abandoned(self) -> list[BatchItem[T]]:
        """The items in flight when the batch was decided (their later outcome is ignored)."""
        return [i for i in self.items if i.status == ABANDONED]

    def not_started(self) -> list[BatchItem[T]]:
        """The items never started because the batch was decided first."""
        return [i for i in self.items if i.status == NOT_STARTED]

    @property
    def batch_failed(self) -> bool:
        """Whether the batch as a whole failed: failures exceeded the tolerance, or ``min_successful`` was missed."""
        wanted = self.completion.min_successful
        return self.reason == FAILURE_TOLERANCE_EXCEEDED or (wanted is not None and len(self.succeeded()) < wanted)

    def raise_if_failed(self) -> None:
        """Raise the first item error (by position) when the batch failed (see :attr:`batch_failed`).

        Unlike LDF's ``throw_if_error`` (which raises on any failed item), failures within the
        tolerance do not raise: tolerating them is what the policy asked for.
        """
        if not self.batch_failed:
            return
        for item in self.items:
            if item.status == FAILED and item.error is not None:
                raise item.error
        wanted = self.completion.min_successful
        raise BatchFailed(f"batch decided '{self.reason}' with {len(self.succeeded())} of {wanted} wanted successes")

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for i in self.items:
            counts[i.status] = counts.get(i.status, 0) + 1
        return f"BatchResult(reason={self.reason!r}, {counts})"


def summary(result: BatchResult[Any]) -> dict[str, int]:
    """Counts per status (for the decision record and logs)."""
    out = {SUCCEEDED: 0, FAILED: 0, ABANDONED: 0, NOT_STARTED: 0}
    for i in result.items:
        out[i.status] += 1
    return out
