"""The liveness soak runner: many seeds, every fault kind at one rate, one or more container counts.

    python -m tests.soak.run --seeds 1-40 --rate 0.10 --containers 1,3          # the issue-13 target
    python -m tests.soak.run --seeds 1-4 --rate 0.10 --containers 1 --backend moto --executions 60
    python -m tests.soak.run --seeds 7 --rate 0.10 --containers 3 --verbose      # one run, every problem

Each run is ``soak_harness.soak``: the seeded workload without faults, then with every fault kind
at ``--rate`` per opportunity (``FaultPlan.uniform``), compared; faults stop at the horizon and
the liveness check (``stepbridge.local.liveness``) runs once the sweeper had its recovery bound.
A run prints one line; the end prints the totals (executions, faults by kind, lost, stuck, wrong
outcomes, duplicated journal entries, time) and every lost or stuck execution with its last
journal records. The exit status is 1 when anything was lost or stuck.

Runs are independent processes when ``--jobs`` > 1 (the memory backend is reproducible bit for
bit, so the figures do not depend on it; moto runs one at a time per process anyway).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


def parse_seeds(text: str) -> list[int]:
    """``1-40``, ``3,5,9`` or a mix (``1-4,9``)."""
    seeds: list[int] = []
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        seeds.extend(range(int(first), int(last or first) + 1))
    return seeds


def one_run(
    seed: int, rate: float, containers: int, executions: int, backend: str, redrive: bool = False
) -> dict[str, Any]:
    """One soak run; returns its figures as plain data (picklable across processes)."""
    import soak_harness as harness

    from stepbridge.local.faults import FaultPlan
    from stepbridge.runtime.observability import logger

    level = logger().level
    logger().setLevel("CRITICAL")  # each injected fault logs a warning; the figures say it all
    began = time.perf_counter()
    rates = FaultPlan.uniform(seed, rate).rates
    try:
        figures = harness.soak(seed, executions, backend, rates=rates, containers=containers, redrive=redrive)
    finally:
        logger().setLevel(level)  # (in a test run, later tests read the logs)
    return {
        "seed": seed,
        "containers": containers,
        "rate": rate,
        "backend": backend,
        "executions": figures.executions,
        "top_level": figures.top_level,
        "faults": figures.faults_injected,
        "lost": figures.lost,
        "stuck": figures.stuck,
        "wrong": figures.wrong_outcome,
        "duplicated": figures.duplicated_journal_entries,
        "missing_effects": figures.missing_side_effects,
        "lost_events": figures.lost_events,
        "seconds": round(time.perf_counter() - began, 1),
        "digest": figures.digest,
        "router_dead_letters": figures.router_dead_letters,
        "router_receives": figures.router_receives,
        "redriven": figures.redriven,
    }


def _line(r: dict[str, Any]) -> str:
    return (
        f"seed {r['seed']:>3} containers {r['containers']} {r['backend']}: {r['executions']:>4} executions, "
        f"{sum(r['faults'].values()):>5} faults, lost {len(r['lost'])}, stuck {len(r['stuck'])}, "
        f"wrong {len(r['wrong'])}, duplicated {r['duplicated']}, {r['seconds']} s"
    )


def _router_line(results: list[dict[str, Any]]) -> str:
    """Router queue receives and the share that failed (q, the failure probability per receive)."""
    receives: Counter[str] = Counter()
    for r in results:
        receives.update(r.get("router_receives", {}))
    total = receives["trigger"] + receives["event"]
    share = receives["failed"] / total if total else 0.0
    return (f"router queue receives: {total} ({receives['trigger']} trigger, {receives['event']} event), "
            f"failed: {receives['failed']} (q = {share:.4f} per receive)")


def summarize(results: list[dict[str, Any]], wall: float) -> list[str]:
    """The totals over every run."""
    faults: Counter[str] = Counter()
    for r in results:
        faults.update(r["faults"])
    out = [
        f"runs: {len(results)}, executions: {sum(r['executions'] for r in results)}, "
        f"faults injected: {sum(faults.values())}, wall time {wall:.0f} s",
        "faults by kind: " + ", ".join(f"{k} {v}" for k, v in faults.items()),
        f"lost: {sum(len(r['lost']) for r in results)}, stuck: {sum(len(r['stuck']) for r in results)}, "
        f"wrong terminal state or result: {sum(len(r['wrong']) for r in results)}, "
        f"duplicated journal entries: {sum(r['duplicated'] for r in results)}, "
        f"side effects missing: {sum(len(r['missing_effects']) for r in results)}, "
        f"events lost: {sum(len(r['lost_events']) for r in results)}, "
        f"router events dead-lettered: {sum(r.get('router_dead_letters', 0) for r in results)}",
        _router_line(results),
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="1-40", help="e.g. 1-40 or 3,5,9")
    parser.add_argument("--rate", type=float, default=0.10, help="every fault kind at this rate per opportunity")
    parser.add_argument("--containers", default="1,3", help="orchestrator container counts, e.g. 1,3")
    parser.add_argument("--executions", type=int, default=150, help="top-level executions per run")
    parser.add_argument("--backend", choices=["memory", "moto"], default="memory")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (processes)")
    parser.add_argument("--redrive", action="store_true", help="redrive both DLQs every 30 min of the drain")
    parser.add_argument("--json", type=Path, help="also write every run's figures to this file")
    parser.add_argument("--verbose", action="store_true", help="print wrong outcomes too")
    args = parser.parse_args(argv)
    plan = [
        (seed, args.rate, int(c), args.executions, args.backend, args.redrive)
        for c in args.containers.split(",")
        for seed in parse_seeds(args.seeds)
    ]
    began = time.perf_counter()
    results: list[dict[str, Any]] = []
    if args.jobs > 1 and args.backend == "memory":
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for r in pool.map(one_run, *zip(*plan, strict=True)):
                print(_line(r), flush=True)
                results.append(r)
    else:
        for spec in plan:
            r = one_run(*spec)
            print(_line(r), flush=True)
            results.append(r)
    wall = time.perf_counter() - began
    print("\n".join(summarize(results, wall)))
    for r in results:
        for problem in r["lost"] + r["stuck"] + (r["wrong"] if args.verbose else []):
            print(f"--- seed {r['seed']}, {r['containers']} container(s): {problem}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=1))
    return 1 if any(r["lost"] or r["stuck"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
