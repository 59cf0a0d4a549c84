"""The cost benchmark's inline-step row, repeated in one process (issue 17 goal 3; RESULTS.md "Session 7").

``python -m benchmarks.inlinecost [--reps N] [--cpu]`` measures what ``python -m benchmarks --only cost``
measures for the inline step (``seq`` with K=20 steps against ``noop``, each on a fresh metered moto
LocalCloud, as :func:`benchmarks.cost.measure`) N times in one process. Repetition 1 sits where the
benchmark's row sits (first steps in the process); later ones show the steady state, so the difference is
what the first execution in a container pays once. ``--cpu`` reads the meter's clock as process CPU time
instead of wall time (the shared machine's load then moves it less). Prints $ per million, the
orchestrator's own time per step (its handler time minus the time inside AWS calls) and the time inside.
"""

from __future__ import annotations

import argparse
import statistics
import time
import types
from datetime import timedelta

from benchmarks import cost
from benchmarks import meter as meter_module
from benchmarks.workflows import build_app

K = 20


def _run(workflow: str, k: int) -> tuple[cost.Usage, float, float]:
    with cost._metered(build_app()) as (cloud, client, meter, lambdas):
        before, lam_before = cost._usage(meter, lambdas, cloud), lambdas.snapshot()
        cost._start(workflow)(cloud, client, k)
        cloud.advance(timedelta(days=2))
        usage, lam = cost._usage(meter, lambdas, cloud).minus(before), lambdas.snapshot() - lam_before
    inside = lam.aws_seconds["orchestrator"]
    return usage, lam.seconds["orchestrator"] - inside, inside


def once() -> tuple[float, float, float]:
    """($ per million inline steps, own ms per step, ms per step inside AWS calls) for one repetition."""
    base, base_own, base_inside = _run("noop", 1)
    seq, seq_own, seq_inside = _run("seq", K)
    return (seq.minus(base).per(K).per_million(), (seq_own - base_own) / K * 1e3,
            (seq_inside - base_inside) / K * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cpu", action="store_true", help="the meter's clock is process CPU time")
    args = parser.parse_args()
    if args.cpu:
        vars(meter_module)["time"] = types.SimpleNamespace(perf_counter=time.process_time)
    rows = [once() for _ in range(args.reps)]
    for i, (dollars, own, inside) in enumerate(rows, 1):
        print(f"rep {i}: ${dollars:.4f} per million, own {own:.3f} ms/step, inside AWS calls {inside:.3f} ms/step")
    later = rows[1:] or rows
    print(f"rep 1 (the benchmark's position): ${rows[0][0]:.4f}; later reps median "
          f"${statistics.median(r[0] for r in later):.4f}, own {statistics.median(r[1] for r in later):.3f} ms/step")


if __name__ == "__main__":
    main()
