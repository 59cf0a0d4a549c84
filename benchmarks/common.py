"""Shared pieces of the benchmarks: configuration, result rows, timing, LocalCloud set-up.

Every figure is a ratio against an anchor measured in the same run, on the same machine and,
where possible, in the same process; measurements are interleaved (stepbridge, anchor,
anchor, stepbridge, ...) and each reported time is the median of ``k`` runs.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from stepbridge import App
from stepbridge.local import LocalCloud


@dataclass(frozen=True)
class Config:
    """How big and how often: ``quick`` shrinks every N for the smoke tests (correctness only)."""

    quick: bool = False
    repeats: int = 5
    heavy: bool = False

    def k(self, full: int) -> int:
        """Repetitions for one measurement: ``full`` normally, 1 in quick mode."""
        return 1 if self.quick else max(1, min(full, self.repeats))

    def n(self, full: int, quick: int) -> int:
        """A size: ``full`` normally, ``quick`` in quick mode."""
        return quick if self.quick else full


@dataclass
class Row:
    """One line of a results table: stepbridge's figure, the anchor's, their ratio and the goal."""

    metric: str
    stepbridge: str
    anchor: str
    ratio: float | None
    goal: str
    met: bool | None
    ratio_text: str | None = None

    def ratio_str(self) -> str:
        """The ratio as printed (``n/a`` without an anchor)."""
        if self.ratio_text is not None:
            return self.ratio_text
        return "n/a" if self.ratio is None else fmt_ratio(self.ratio)

    def verdict(self) -> str:
        """met / MISSED / not evaluated."""
        if self.met is None:
            return "not evaluated"
        return "met" if self.met else "MISSED"


@dataclass
class Section:
    """The outcome of one benchmark module."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Extra tables: (caption, header, rows) printed after the main table.
    tables: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)
    #: Correctness facts the smoke tests assert on (never timings).
    facts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def anchor_missing(pip_command: str) -> str:
    """The line printed when an optional anchor is absent."""
    return f"anchor not installed: {pip_command}"


# ---- timing ------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Run ``fn`` once after a full GC; return (seconds, its result)."""
    gc.collect()
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def interleave(k: int, runs: Sequence[tuple[str, Callable[[], float]]]) -> dict[str, list[float]]:
    """Call each named run ``k`` times, alternating the order every round (ABBA) to cancel drift.

    Each run returns the seconds it measured itself (so it can leave its own set-up out).
    """
    out: dict[str, list[float]] = {name: [] for name, _ in runs}
    for i in range(k):
        order = list(runs) if i % 2 == 0 else list(reversed(runs))
        for name, run in order:
            gc.collect()
            out[name].append(run())
    return out


def median(values: Sequence[float]) -> float:
    """The median (the reported figure of k noisy runs)."""
    return float(statistics.median(values))


# ---- formatting ------------------------------------------------------------------------------


def fmt_seconds(seconds: float) -> str:
    """A duration with a unit that keeps 3 significant digits."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_ratio(ratio: float) -> str:
    """A ratio like ``0.021x (1/48)``."""
    if ratio <= 0:
        return f"{ratio:.3g}x"
    if ratio < 1:
        return f"{ratio:.3g}x (1/{1 / ratio:.3g})"
    return f"{ratio:.3g}x"


def fmt_dollars(value: float) -> str:
    """Dollars per million with 3 significant digits."""
    return f"${value:.3g}"


# ---- LocalCloud ------------------------------------------------------------------------------


def virtual_start() -> datetime:
    """Where LocalCloud's virtual clock starts in the benchmarks: a Monday 08:30 UTC, a year ahead of real time.

    Keeps the virtual clock ahead of the real one. When this benchmark was written, LocalCloud
    built ``AwsEffects`` without its virtual clock (bug B1 in RESULTS.md, since fixed in
    stepbridge/local/cloud.py), so a timer due at a virtual time already past in real time was
    sent as an immediate SQS wake-up instead of a Scheduler schedule; starting ahead of real
    time gives the call counts a deployment has whether or not that fix is present.
    """
    ahead = datetime.now(UTC) + timedelta(days=365)
    monday = ahead - timedelta(days=ahead.weekday())
    return monday.replace(hour=8, minute=30, second=0, microsecond=0)


def local_cloud(app: App, backend: str, *, eager: bool = True, start: datetime | None = None) -> LocalCloud:
    """A LocalCloud for the benchmarks (not started)."""
    return LocalCloud(app, backend=backend, eager=eager, start=start or virtual_start())


def per_million(unit_price: float) -> float:
    """A price per request turned into dollars per million requests."""
    return unit_price * 1e6
